import FoundationEssentials
import HMMSystem
import KTAP

/// The results of one run, whatever printed them: hmmkit's suite or the kernel's own
/// kselftest `hmm-tests`, read from KTAP or from hmmkit's results JSON.
///
/// A test is identified by its full name (`hmm.hmm_device_private.migrate`), never by its
/// number, so two runs line up even when one ran fewer tests.
public struct ResultSet: Sendable, Hashable {
    /// The `format` member of hmmkit's results JSON.
    public static let formatName = "hmmkit-results"
    /// The newest results JSON version this code reads and the one it writes.
    public static let currentFormatVersion = 1

    /// What produced the results. Runs of different tools are not compared by default:
    /// the same name may not mean the same check.
    public enum Tool: String, Sendable, Hashable, CaseIterable {
        /// hmmkit's own suite (its KTAP carries a `# hmmkit:` header line).
        case hmmkit
        /// Any other KTAP producer: the kernel's `hmm-tests`, `run_vmtests.sh`, `run_kselftest.sh`.
        case kselftest
    }

    public struct Test: Sendable, Hashable {
        /// The full name; unique within a result set.
        public var name: String
        public var status: TestStatus
        /// The skip, timeout or error reason, or a failure's summary.
        public var reason: String?
        /// Wall time in seconds, when the producer measured it.
        public var duration: Double?
        /// What the test printed (`# ` lines), in order.
        public var diagnostics: [String]

        public init(name: String, status: TestStatus, reason: String? = nil, duration: Double? = nil, diagnostics: [String] = []) {
            self.name = name
            self.status = status
            self.reason = reason
            self.duration = duration
            self.diagnostics = diagnostics
        }
    }

    public var tool: Tool
    /// The hmmkit that ran the tests (its KTAP's `# hmmkit version:` line, `hmmkit_version` in
    /// results JSON); for results that do not say (another tool's log, a log from before
    /// hmmkit 0.2.0), the hmmkit that read them. See ``HMMKitVersion``.
    public var hmmkitVersion: String
    /// `uname -r` of the kernel under test, when the results say it.
    public var kernelRelease: String?
    /// hmmkit's model profile for that kernel (`linux-6.12`), when known.
    public var profile: String?
    public var startedAt: Date?
    /// `uname -m` of the machine the tests ran on (`x86_64`), when the results say it.
    public var architecture: String?
    /// The compiler the kernel was built with, as its /proc/version names it.
    public var compiler: String?
    /// The name of the kernel's configuration (`tinyconfig+hmmkit.config`, `defconfig+distro.config`).
    public var configName: String?
    /// The machine facts the verdicts depend on, in one line (NUMA nodes, THP, swap, devices).
    public var machine: String?
    /// The results JSON version this set was read from (KTAP: the current one).
    public var formatVersion: Int
    /// Why the whole run was skipped before any test (`1..0 # SKIP <reason>`).
    public var skipReason: String?
    public var tests: [Test]
    /// Problems accepted when the set was loaded with ``LoadOptions/allowIncomplete``.
    public var warnings: [String]
    /// The file the set was read from, for messages; not part of the data.
    public var source: String?

    public init(
        tool: Tool,
        hmmkitVersion: String = HMMKitVersion.current,
        kernelRelease: String? = nil,
        profile: String? = nil,
        startedAt: Date? = nil,
        architecture: String? = nil,
        compiler: String? = nil,
        configName: String? = nil,
        machine: String? = nil,
        formatVersion: Int = ResultSet.currentFormatVersion,
        skipReason: String? = nil,
        tests: [Test] = [],
        warnings: [String] = [],
        source: String? = nil
    ) {
        self.tool = tool
        self.hmmkitVersion = hmmkitVersion
        self.kernelRelease = kernelRelease
        self.profile = profile
        self.startedAt = startedAt
        self.architecture = architecture
        self.compiler = compiler
        self.configName = configName
        self.machine = machine
        self.formatVersion = formatVersion
        self.skipReason = skipReason
        self.tests = tests
        self.warnings = warnings
        self.source = source
    }

    /// The test named `name`, if the set has it.
    public func test(named name: String) -> Test? { tests.first { $0.name == name } }

    /// How many tests ended with each status.
    public var counts: [TestStatus: Int] {
        tests.reduce(into: [:]) { $0[$1.status, default: 0] += 1 }
    }

    /// `58 tests: 56 pass, 2 skip` (statuses in a fixed order, zero counts left out).
    public var summary: String {
        let counts = self.counts
        let parts = TestStatus.reportingOrder.compactMap { status in counts[status].map { "\($0) \(status.rawValue)" } }
        let noun = tests.count == 1 ? "test" : "tests"
        return parts.isEmpty ? "0 tests" : "\(tests.count) \(noun): " + parts.joined(separator: ", ")
    }

    /// Total of the known durations, in seconds; nil when no test has one.
    public var totalDuration: Double? {
        let known = tests.compactMap(\.duration)
        return known.isEmpty ? nil : known.reduce(0, +)
    }

    /// A short label: `hmmkit on 6.12.117` / `kselftest (kernel unknown)`.
    public var label: String {
        "\(tool.rawValue) " + (kernelRelease.map { "on \($0)" } ?? "(kernel unknown)")
    }
}

/// The limits a results file (KTAP log or results JSON) must stay within; beyond them it is
/// refused with `file:line: problem`, so memory and time stay bounded whatever the file holds.
public enum ResultLimits {
    /// Bytes in one file (64 MiB: a full run's KTAP is well under 1 MiB).
    public static let fileBytes = 64 << 20
    /// Bytes on one KTAP line.
    public static let lineBytes = 1 << 20
    /// KTAP nesting: blocks inside blocks (kselftest's runners use 2 or 3).
    public static let nesting = KTAPParser.maximumDepth
    /// Values in a results JSON document.
    public static let jsonValues = JSONLimits.values
    /// Tests in one result set (a file, or files merged). hmmkit runs 58 tests plus its
    /// fixtures, kselftest's whole mm run some hundreds; a million tests made a KCIDB file of
    /// over 2 GiB of memory (scripts/limits-rss), 100,000 keep every writer well under it.
    public static let tests = 100_000

    /// One line per limit, for the README and `--help`.
    public static var summary: String {
        "\(fileBytes) bytes per file, \(lineBytes) bytes per KTAP line, KTAP nesting \(nesting) deep, "
            + "\(jsonValues) JSON values, JSON nesting \(JSONLimits.depth) deep, \(tests) tests"
    }
}

/// Reading an input file whole, but never more than a limit.
public enum BoundedFile {
    /// The file's text; a file over `limit` bytes is refused unread, one that is not UTF-8
    /// with `expected` (what the file should have been) and `kind`.
    public static func read(_ path: String, limit: Int, expected: String, kind: ReportError.Kind) throws(ReportError) -> String {
        let bytes: [UInt8]
        do {
            bytes = try readFileBytes(path, limit: limit)
        } catch {
            throw ReportError(.io, "cannot read: \(error)", file: path)
        }
        guard bytes.count <= limit else {
            throw ReportError(kind, "file is over the limit of \(limit) bytes: \(expected)", file: path, line: 1)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ReportError(kind, "not text (not valid UTF-8): \(expected)", file: path, line: 1)
        }
        return text
    }
}

/// Choices that make loading more forgiving.
public struct LoadOptions: Sendable, Hashable {
    /// Load what a cut-off log has (tests it never reached are simply absent) instead of
    /// refusing it; the problems become ``ResultSet/warnings``.
    public var allowIncomplete: Bool

    public init(allowIncomplete: Bool = false) {
        self.allowIncomplete = allowIncomplete
    }
}

extension ResultSet {
    /// Reads a results file: hmmkit's results JSON if it starts with `{`, KTAP otherwise.
    /// Reads at most ``ResultLimits/fileBytes`` (a larger file is refused unread).
    public static func load(path: String, options: LoadOptions = LoadOptions()) throws(ReportError) -> ResultSet {
        let text = try BoundedFile.read(path, limit: ResultLimits.fileBytes,
                                        expected: "expected KTAP or hmmkit results JSON", kind: .notKTAP)
        return try parse(text, file: path, options: options)
    }

    /// A serial console log (`[    4.210331] Run /init ...`) opens with a printk timestamp,
    /// not a JSON array.
    static func startsWithConsoleTimestamp(_ text: String) -> Bool {
        let head = text.drop { $0.isWhitespace || $0 == "\u{FEFF}" }.dropFirst().prefix(32)
        let seconds = head.drop { $0 == " " }
        let digits = seconds.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, seconds.dropFirst(digits.count).first == "." else { return false }
        let fraction = seconds.dropFirst(digits.count + 1)
        let fractionDigits = fraction.prefix { $0.isASCII && $0.isNumber }
        return !fractionDigits.isEmpty && fraction.dropFirst(fractionDigits.count).first == "]"
    }

    /// Parses the text of a results file (see ``load(path:options:)``); `file` names it in errors.
    public static func parse(_ text: String, file: String? = nil, options: LoadOptions = LoadOptions()) throws(ReportError) -> ResultSet {
        guard text.utf8.count <= ResultLimits.fileBytes else {
            throw ReportError(.notKTAP, "text is \(text.utf8.count) bytes, over the limit of \(ResultLimits.fileBytes) (64 MiB)",
                              file: file, line: 1)
        }
        let start = text.unicodeScalars.first { !$0.properties.isWhitespace && $0 != "\u{FEFF}" }
        var set: ResultSet
        switch start {
        case nil:
            throw ReportError(.notKTAP, "empty file: expected KTAP or hmmkit results JSON", file: file, line: 1)
        case "["? where !startsWithConsoleTimestamp(text):
            set = try fromJSON(text, file: file)
        case "{"?:
            set = try fromJSON(text, file: file)
        default:
            set = try fromKTAP(text, file: file, options: options)
        }
        set.source = file
        return set
    }
}
