/// One reported test: a KTAP result line plus what was said about it.
public struct KTAPTestCase: Sendable, Hashable {
    /// The description, e.g. `hmm.hmm_device_private.migrate` (never contains `#` or a newline
    /// once written; see ``KTAPWriter/sanitizedName(_:)``).
    public var name: String
    public var status: TestStatus
    /// Text after the directive (`DEVICE_COHERENT not available` for a skip), or a plain
    /// pass/fail's diagnostic data after ` #  `.
    public var reason: String?
    /// `# ` lines that belong to this test, without the `# ` prefix.
    public var diagnostics: [String]
    /// Wall time, when the producer measured it (kselftest does not print one).
    public var duration: Duration?
    /// Nested results; `nil` for a leaf. A group's own `status` is stored, not derived, because
    /// a producer may fail a group for reasons of its own (``TestStatus/aggregate(_:)`` helps).
    public var subtests: [KTAPTestCase]?

    public init(
        name: String,
        status: TestStatus,
        reason: String? = nil,
        diagnostics: [String] = [],
        duration: Duration? = nil,
        subtests: [KTAPTestCase]? = nil
    ) {
        self.name = name
        self.status = status
        self.reason = reason
        self.diagnostics = diagnostics
        self.duration = duration
        self.subtests = subtests
    }

    /// A group whose status bubbles up from its subtests.
    public static func group(_ name: String, _ subtests: [KTAPTestCase], diagnostics: [String] = []) -> KTAPTestCase {
        KTAPTestCase(name: name, status: .aggregate(subtests.map(\.status)), diagnostics: diagnostics, subtests: subtests)
    }

    /// The reason of a harness `#      SKIP      <reason>` notice still present in the
    /// diagnostics: a 6.1 harness prints it but then reports the test as a plain `ok`.
    public var skipNotice: String? {
        for line in diagnostics {
            if let reason = KTAPLineSyntax.skipNotice(line) { return reason }
        }
        return nil
    }

    /// This test and all nested ones, depth first, parents before children.
    public var flattened: [KTAPTestCase] {
        [self] + (subtests ?? []).flatMap(\.flattened)
    }
}

/// A line the parser kept but did not interpret (console noise, a test's raw stderr).
public struct KTAPLine: Sendable, Hashable {
    /// 1-based line number in the input.
    public var number: Int
    public var text: String

    public init(number: Int, text: String) {
        self.number = number
        self.text = text
    }
}

/// Something wrong with the input; the parser records it and carries on.
public struct KTAPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// Results without a `KTAP version` / `TAP version` line.
        case missingVersion
        /// A version other than KTAP 1 or TAP 13/14.
        case unsupportedVersion(String)
        /// A second unindented version line in a document that already has one.
        case unexpectedVersion
        case duplicatePlan
        /// The number of results differs from the plan (truncated or over-long output).
        case planMismatch(planned: Int, ran: Int)
        case unexpectedNumber(expected: Int, found: Int)
        case duplicateNumber(Int)
        /// A test started (harness `#  RUN`, or a nested block) but no result line followed.
        case missingResult(name: String?)
        /// The producer's own `# Totals:` disagree with the result lines.
        case totalsMismatch(reported: KTAPTotals, counted: KTAPTotals)
        /// A block nested deeper than ``KTAPParser/maximumDepth``: the line is not read.
        case nestedTooDeep(limit: Int)
    }

    public var kind: Kind
    /// 1-based input line the problem was noticed at, if any.
    public var line: Int?

    public init(_ kind: Kind, line: Int?) {
        self.kind = kind
        self.line = line
    }

    /// Whether the error means results are missing, so the run cannot count as passed.
    public var meansIncomplete: Bool {
        switch kind {
        case .planMismatch, .missingResult: true
        default: false
        }
    }

    public var description: String {
        let at = line.map { "line \($0): " } ?? ""
        switch kind {
        case .missingVersion: return at + "no KTAP/TAP version line"
        case .unsupportedVersion(let version): return at + "unsupported version '\(version)'"
        case .unexpectedVersion: return at + "unexpected version line"
        case .duplicatePlan: return at + "second plan line"
        case .planMismatch(let planned, let ran): return at + "planned \(planned) tests, got \(ran) results"
        case .unexpectedNumber(let expected, let found): return at + "expected test \(expected), found \(found)"
        case .duplicateNumber(let number): return at + "test number \(number) reported twice"
        case .missingResult(let name): return at + "no result line for \(name ?? "a nested test")"
        case .totalsMismatch(let reported, let counted):
            return at + "reported '\(reported)' but counted '\(counted)'"
        case .nestedTooDeep(let limit): return at + "nested more than \(limit) blocks deep"
        }
    }
}

/// A whole KTAP/TAP stream, or one nesting level of it.
public struct KTAPDocument: Sendable, Hashable {
    /// The header line's dialect.
    public enum Version: Sendable, Hashable, CustomStringConvertible {
        case ktap(Int)
        case tap(Int)

        public var description: String {
            switch self {
            case .ktap(let n): "KTAP version \(n)"
            case .tap(let n): "TAP version \(n)"
            }
        }
    }

    public var version: Version?
    /// The `1..N` count, leading or trailing.
    public var plan: Int?
    /// Reason of a `1..0 # SKIP <reason>` plan (`ksft_exit_skip` before any test).
    public var skipReason: String?
    public var cases: [KTAPTestCase]
    /// `# ` lines not attached to a test: preamble (`# Starting …`), summary, trailer.
    public var diagnostics: [String]
    /// Counts from the producer's `# Totals:` line, if it printed one.
    public var reportedTotals: KTAPTotals?
    /// Message of a `Bail out!` line.
    public var bailOut: String?
    public var unknownLines: [KTAPLine]
    public var errors: [KTAPParseError]

    public init(
        version: Version? = .tap(13),
        plan: Int? = nil,
        cases: [KTAPTestCase] = [],
        skipReason: String? = nil,
        diagnostics: [String] = [],
        reportedTotals: KTAPTotals? = nil,
        bailOut: String? = nil,
        unknownLines: [KTAPLine] = [],
        errors: [KTAPParseError] = []
    ) {
        self.version = version
        self.plan = plan
        self.cases = cases
        self.skipReason = skipReason
        self.diagnostics = diagnostics
        self.reportedTotals = reportedTotals
        self.bailOut = bailOut
        self.unknownLines = unknownLines
        self.errors = errors
    }

    /// Counts of this level's results, as kselftest's `# Totals:` would print them.
    public var totals: KTAPTotals { KTAPTotals(counting: cases.map(\.status)) }

    /// Counts of leaf results at any depth (what `kunit.py parse` reports).
    public var leafTotals: KTAPTotals {
        KTAPTotals(counting: cases.flatMap(\.flattened).filter { $0.subtests == nil }.map(\.status))
    }

    /// No bail-out and no sign of missing results.
    public var isComplete: Bool {
        bailOut == nil && !errors.contains(where: \.meansIncomplete)
    }

    /// The exit code a kselftest-style runner should use for this document.
    public var exitCode: KSFTExitCode {
        isComplete ? KSFTExitCode(summarizing: cases.map(\.status)) : .fail
    }
}
