import FoundationEssentials
import HMMSystem
import KTAP

extension ResultSet {
    /// Reads KTAP / TAP 13 as hmmkit and kselftest print it, alone or nested in a runner's output.
    ///
    /// Every result becomes a test, groups included (a runner's `test_hmm.sh smoke` as well as
    /// the `hmm.…` tests nested in it). A nested test keeps its own name when it is already
    /// dotted (`fixture.variant.test`, kselftest's style), and is named `parent.name`
    /// otherwise (KUnit's suites). A 6.1 harness's plain `ok` after a `SKIP` notice is a skip.
    ///
    /// Refused, unless `options.allowIncomplete`: a log cut off (fewer results than planned,
    /// a test with no result line, no plan and no closing `# Totals:`), a bail-out, a second
    /// run in the same file, numbering or totals that disagree with the results.
    /// A runner's nested block that stops early is fine when the runner reported the
    /// outcome itself (`not ok 1 … # TIMEOUT`): the log is complete, the test was not.
    public static func fromKTAP(_ text: String, file: String? = nil,
                                options: LoadOptions = LoadOptions()) throws(ReportError) -> ResultSet {
        var scan = KTAPScan()
        var number = 0
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            number += 1
            guard line.utf8.count <= ResultLimits.lineBytes else {
                throw ReportError(.malformedKTAP, "line is \(line.utf8.count) bytes, over the limit of \(ResultLimits.lineBytes)",
                                  file: file, line: number)
            }
            scan.feed(line)
        }
        let document = scan.parser.finish()

        guard document.version != nil else {
            if scan.resultLines.isEmpty && document.plan == nil {
                throw ReportError(.notKTAP, "not KTAP: no 'TAP version' or 'KTAP version' line and no 'ok'/'not ok' results",
                                  file: file, line: 1)
            }
            throw ReportError(.malformedKTAP, "results without a 'TAP version' or 'KTAP version' line before them",
                              file: file, line: scan.resultLines.first)
        }

        var problems: [ReportError] = []
        func problem(_ kind: ReportError.Kind, _ message: String, line: Int?) {
            problems.append(ReportError(kind, message, file: file, line: line))
        }
        if let deep = document.errors.first(where: { if case .nestedTooDeep = $0.kind { true } else { false } }) {
            // A limit, not a cut-off log: refused even with --allow-incomplete.
            throw ReportError(.malformedKTAP,
                              "a block nested more than \(ResultLimits.nesting) deep (hmmkit reads \(ResultLimits.nesting) levels)",
                              file: file, line: deep.line)
        }
        for error in document.errors {
            switch error.kind {
            case .unsupportedVersion(let version):
                problem(.malformedKTAP, "unsupported version '\(version)' (hmmkit reads KTAP 1 and TAP 13/14)", line: error.line)
            case .unexpectedVersion:
                problem(.malformedKTAP, "a second 'TAP version' line: the file holds more than one run", line: error.line)
            case .duplicatePlan:
                problem(.malformedKTAP, "a second plan line", line: error.line)
            case .duplicateNumber(let n) where scan.rootResultLines.contains(error.line ?? 0):
                problem(.malformedKTAP, "test number \(n) reported twice", line: error.line)
            case .unexpectedNumber(let expected, let found) where scan.rootResultLines.contains(error.line ?? 0):
                problem(.malformedKTAP, "expected test \(expected), found test \(found): results are missing or out of order",
                        line: error.line)
            default:
                break  // nested problems are covered by the result that closed the block; root ones below
            }
        }
        if let (reason, line) = scan.rootBailOut {
            problem(.bailOut, "the run bailed out: \(reason.isEmpty ? "(no reason given)" : reason)", line: line)
        }
        if let (name, line) = scan.rootRunning {
            problem(.truncated, "test '\(name)' started here but has no result line: the log stops during it", line: line)
        }
        let ran = scan.rootResultLines.count
        if let plan = document.plan {
            if ran < plan {
                problem(.truncated, "planned \(plan) tests but found \(ran) results: the log is cut off", line: scan.lastLine)
            } else if ran > plan {
                problem(.malformedKTAP, "planned \(plan) tests but found \(ran) results", line: scan.planLine)
            }
        } else if document.reportedTotals == nil {
            problem(.truncated, "no plan line ('1..N') and no closing '# Totals:' line: the log looks cut off after \(ran) results",
                    line: scan.lastLine)
        }
        if let reported = document.reportedTotals, reported != document.totals, document.plan == nil || ran == document.plan {
            problem(.malformedKTAP, "the log's own '\(reported)' disagrees with its results ('\(document.totals)')",
                    line: scan.totalsLine)
        }
        if let first = problems.first, !options.allowIncomplete { throw first }

        var tests: [Test] = []
        var lineOf: [String: Int?] = [:]
        var resultLines = scan.resultLines[...]
        var flattenError: ReportError?
        func add(_ cases: [KTAPTestCase], parent: String?) {
            for test in cases where flattenError == nil {
                let standIn = test.status == .error && test.reason == "no result line"
                let named = !test.name.isEmpty
                let identity = !named ? parent : (parent == nil || test.name.contains(".") ? test.name : parent! + "." + test.name)
                add(test.subtests ?? [], parent: identity)
                // Results are recorded when their line arrives, children first: the same order as this walk.
                let line = standIn ? nil : resultLines.popFirst()
                if standIn && !named { continue }  // a block that never got its parent's result: its tests stand alone
                guard let identity, named else {
                    flattenError = ReportError(.badTestName, "a result without a name: hmmkit identifies tests by name, not number",
                                               file: file, line: line)
                    return
                }
                if let earlier = lineOf[identity] {
                    let first = earlier.map { " (first at line \($0))" } ?? ""
                    flattenError = ReportError(.badTestName, "test '\(identity)' reported twice\(first)", file: file, line: line)
                    return
                }
                // A name is one line of KTAP, text output and JUnit: no control character.
                if let bad = identity.unicodeScalars.first(where: { $0.properties.generalCategory == .control }) {
                    let code = String(bad.value, radix: 16, uppercase: true)
                    flattenError = ReportError(.badTestName, "test name contains control character U+\(code): \(identity.debugDescription)",
                                               file: file, line: line)
                    return
                }
                guard tests.count < ResultLimits.tests else {
                    flattenError = ReportError(.malformedKTAP, "more than \(ResultLimits.tests) tests, over the limit hmmkit reads",
                                               file: file, line: line)
                    return
                }
                lineOf[identity] = line
                tests.append(Test(ktap: test, name: identity))
            }
        }
        add(document.cases, parent: nil)
        if let flattenError { throw flattenError }
        // Loaded although cut off during a test: that test did not end well (a panic, a hang).
        if let (name, _) = scan.rootRunning, !lineOf.keys.contains(name) {
            tests.append(Test(name: name, status: .error, reason: "no result: the log stops during this test"))
        }

        return ResultSet(
            tool: scan.header.isHMMKit ? .hmmkit : .kselftest, hmmkitVersion: scan.header.hmmkitVersion ?? HMMKitVersion.current,
            kernelRelease: scan.header.kernelRelease, profile: scan.header.profile, startedAt: scan.header.startedAt,
            architecture: scan.header.architecture, compiler: scan.header.compiler, configName: scan.header.configName,
            machine: scan.header.machine,
            skipReason: document.skipReason, tests: tests, warnings: scan.header.warnings + problems.map(\.description), source: file)
    }
}

extension ResultSet {
    /// The diagnostic (without `# `) hmmkit prints right after its plan: `hmmkit version: 0.2.0`.
    public static func ktapVersionLine(_ version: String = HMMKitVersion.current) -> String {
        versionPrefix + version
    }

    static let versionPrefix = "hmmkit version: "

    /// The diagnostic (without `# `) hmmkit prints after its plan so its KTAP says what ran
    /// where: `hmmkit: kernel release 6.12.117, profile linux-6.12, started 2026-01-02T03:04:05Z, arch x86_64`
    /// (the items known).
    public static func ktapHeaderLine(kernelRelease: String?, profile: String?, startedAt: Date?, architecture: String? = nil) -> String {
        var items: [String] = []
        if let kernelRelease { items.append("kernel release \(oneWord(kernelRelease))") }
        if let profile { items.append("profile \(oneWord(profile))") }
        if let startedAt { items.append("started \(Timestamp.format(startedAt))") }
        if let architecture { items.append("arch \(oneWord(architecture))") }
        return "hmmkit:" + (items.isEmpty ? "" : " " + items.joined(separator: ", "))
    }

    static let compilerPrefix = "hmmkit: compiler: "
    static let configPrefix = "hmmkit: config: "
    static let machinePrefix = "hmmkit: machine: "

    /// The diagnostics (without `# `) hmmkit prints after its `# Starting` line for this set:
    /// the header line, then, when known, `hmmkit: compiler: …`, `hmmkit: config: …` and
    /// `hmmkit: machine: …` (each one line), then `hmmkit: warning: …` for each warning.
    /// Read back, they give the same facts.
    public var ktapHeaderLines: [String] {
        var lines = [Self.ktapHeaderLine(kernelRelease: kernelRelease, profile: profile, startedAt: startedAt, architecture: architecture)]
        for (prefix, value) in [(Self.compilerPrefix, compiler), (Self.configPrefix, configName), (Self.machinePrefix, machine)] {
            if let value { lines.append(prefix + Self.oneLine(value)) }
        }
        return lines + warnings.map { "hmmkit: warning: " + Self.oneLine($0) }
    }

    /// A header item's value is one word: the reader takes the last word of each item.
    static func oneWord(_ value: String) -> String {
        let word = String(value.map { $0.isWhitespace || $0 == "," ? "_" : $0 })
        return word.isEmpty ? "_" : word
    }

    static func oneLine(_ value: String) -> String { String(value.map { $0.isNewline ? " " : $0 }) }
}

extension ResultSet.Test {
    init(ktap test: KTAPTestCase, name: String) {
        var status = test.status
        var reason = test.reason
        if status == .pass, let notice = test.skipNotice {
            status = .skip
            reason = notice.isEmpty ? reason : notice
        }
        let seconds = test.duration.map { d in
            Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        self.init(name: name, status: status, reason: reason, duration: seconds, diagnostics: test.diagnostics)
    }
}

/// One pass over the lines: the parser, plus what the document alone does not keep
/// (line numbers, what happened at the outermost level, the run's header).
private struct KTAPScan {
    var parser = KTAPParser()
    var header = RunHeader()
    /// Lines of every result at any depth, in input order.
    var resultLines: [Int] = []
    var rootResultLines: Set<Int> = []
    var rootRunning: (String, Int)?
    var rootBailOut: (String, Int)?
    var planLine: Int?
    var totalsLine: Int?
    private var inHeader = true

    /// The last line with text on it.
    var lastLine = 0
    private var lineNumber = 0

    mutating func feed(_ line: Substring) {
        lineNumber += 1
        if !line.allSatisfy(\.isWhitespace) { lastLine = lineNumber }
        let event = parser.feed(line: line)
        if line.hasPrefix("1..") && planLine == nil { planLine = lineNumber }
        if line.hasPrefix("# Totals:") { totalsLine = lineNumber }
        switch event {
        case let .started(name, 0)?:
            rootRunning = (name, lineNumber)
            inHeader = false
        case let .result(_, depth)?:
            resultLines.append(lineNumber)
            if depth == 0 {
                rootResultLines.insert(lineNumber)
                rootRunning = nil
                inHeader = false
            }
        case let .bailOut(reason, 0)?:
            if rootBailOut == nil { rootBailOut = (reason, lineNumber) }
        default:
            if inHeader { header.read(line) }
        }
    }
}

/// The run facts a producer prints before its first test, as `# ` lines:
///
/// - hmmkit: `# hmmkit version: 0.2.0` right after the plan, then
///   `# hmmkit: kernel release 6.12.117, profile linux-6.12, started 2026-01-02T03:04:05Z`,
///   then `# hmmkit: warning: ...` for each check that could not run
///   (`arch x86_64` among its items), `# hmmkit: compiler: …`, `# hmmkit: config: …`,
///   `# hmmkit: machine: …` (whole lines)
/// - anything: `# kernel: 6.12.117` or `# kernel release: 6.12.117`
///
/// The first of each wins (a VM run resumed after a crash prints the header again).
struct RunHeader: Sendable, Hashable {
    var isHMMKit = false
    var hmmkitVersion: String?
    var kernelRelease: String?
    var profile: String?
    var startedAt: Date?
    var architecture: String?
    var compiler: String?
    var configName: String?
    var machine: String?
    /// `# hmmkit: warning: ...`: a check that could not run (hmmkit's RecordingSink).
    var warnings: [String] = []
    private var warningSet: Set<String> = []

    mutating func read(_ line: Substring) {
        guard line.hasPrefix("# ") else { return }
        let text = line.dropFirst(2)
        if text.hasPrefix(ResultSet.versionPrefix) {
            isHMMKit = true
            let version = text.dropFirst(ResultSet.versionPrefix.count).trimmed
            if hmmkitVersion == nil, !version.isEmpty { hmmkitVersion = version }
        } else if text.hasPrefix("hmmkit: warning: ") {
            let warning = String(text.dropFirst("hmmkit: warning: ".count))
            if warningSet.insert(warning).inserted { warnings.append(warning) }
        } else if let (prefix, field) = [(ResultSet.compilerPrefix, \RunHeader.compiler), (ResultSet.configPrefix, \RunHeader.configName),
                                         (ResultSet.machinePrefix, \RunHeader.machine)].first(where: { text.hasPrefix($0.0) }) {
            isHMMKit = true
            let value = text.dropFirst(prefix.count).trimmed
            if self[keyPath: field] == nil, !value.isEmpty { self[keyPath: field] = value }
        } else if text.hasPrefix("hmmkit:") {
            isHMMKit = true
            for item in text.dropFirst(7).split(separator: ",") {
                let words = item.split(separator: " ")
                guard let value = words.last, words.count >= 2 else { continue }
                switch words.dropLast().joined(separator: " ") {
                case "kernel release", "kernel": take(value, into: &kernelRelease)
                case "profile": take(value, into: &profile)
                case "started": if startedAt == nil { startedAt = Timestamp.parse(String(value)) }
                case "arch": take(value, into: &architecture)
                default: break
                }
            }
        } else {
            for key in ["kernel release:", "kernel:"] where text.hasPrefix(key) {
                let words = text.dropFirst(key.count).split(separator: " ")
                if words.count == 1 { take(words[0], into: &kernelRelease) }
                break
            }
        }
    }

    private func take(_ value: Substring, into field: inout String?) {
        if field == nil { field = String(value) }
    }
}
