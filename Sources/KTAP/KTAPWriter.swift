/// Streams KTAP the way `kselftest_harness.h` prints it, one line per `sink` call (no newline).
///
/// Streaming matters: a runner prints `#  RUN` before a test starts so a test that kills the
/// machine is still named in the log. Use ``begin(_:)``, ``diagnostic(_:)`` and ``end(_:)``
/// while a test runs, or ``write(_:)`` for a finished one. Nested groups are KTAP v1
/// subtests (two spaces per level) written through the writer ``nested(name:plan:)`` returns.
///
/// The writer is not `Sendable`: it owns a caller-supplied closure and a running count.
public struct KTAPWriter {
    public enum Style: Sendable, Hashable {
        /// `TAP version 13`, `#  RUN` / `OK` / `FAIL` / `SKIP` decorations, `# PASSED:` summary.
        case kselftest
        /// `KTAP version 1` and bare result lines with their diagnostics.
        case ktap
    }

    public let style: Style
    /// Print hmmkit's `# duration: 1.234s` diagnostic for tests that carry a duration
    /// (off by default: kselftest prints none).
    public var includeDurations: Bool
    private let sink: (String) -> Void
    private let depth: Int
    private var plan: Int?
    private var totals = KTAPTotals()

    public init(style: Style = .kselftest, includeDurations: Bool = false, sink: @escaping (String) -> Void) {
        self.init(style: style, includeDurations: includeDurations, depth: 0, sink: sink)
    }

    private init(style: Style, includeDurations: Bool, depth: Int, sink: @escaping (String) -> Void) {
        self.style = style
        self.includeDurations = includeDurations
        self.depth = depth
        self.sink = sink
    }

    /// Results written so far at this level, for the `# Totals:` line.
    public var written: KTAPTotals { totals }

    private func emit(_ line: String) { sink(String(repeating: "  ", count: depth) + line) }

    /// Version line and plan; in kselftest style also `# Starting N tests from C test cases.`
    /// when `testCases` (the harness's fixture×variant count) is given. `notes` are diagnostic
    /// lines written right after the plan (hmmkit's `# hmmkit version: …`).
    public mutating func start(plan: Int?, testCases: Int? = nil, notes: [String] = []) {
        self.plan = plan
        emit(style == .kselftest ? "TAP version 13" : "KTAP version 1")
        if let plan { emit("1..\(plan)") }
        for note in notes { diagnostic(note) }
        if style == .kselftest, let plan, let testCases {
            emit("# Starting \(plan) tests from \(testCases) test cases.")
        }
    }

    /// `# <text>`, one line per line of `text`.
    public func diagnostic(_ text: String) {
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            emit("# " + line)
        }
    }

    /// The harness's `#  RUN           <name> ...` (nothing in KTAP style).
    public func begin(_ name: String) {
        if style == .kselftest { emit(KTAPLineSyntax.runLine(Self.sanitizedName(name))) }
    }

    /// Everything after a test's own output: skip notice, verdict decoration and the result line.
    /// Diagnostics and subtests are not written here; see ``write(_:)``.
    public mutating func end(_ test: KTAPTestCase) {
        let name = Self.sanitizedName(test.name)
        let reason = test.reason.map(Self.sanitizedReason).flatMap { $0.isEmpty ? nil : $0 }
        if style == .kselftest, test.status == .skip {
            emit(KTAPLineSyntax.skipNoticeLine(reason ?? ""))
        }
        if includeDurations, let duration = test.duration {
            emit("# " + KTAPLineSyntax.durationText(duration))
        }
        if style == .kselftest {
            // The harness decides OK/FAIL before applying XFAIL, so an expected failure shows FAIL.
            let passed = test.status == .pass || test.status == .skip || test.status == .xpass
            emit(KTAPLineSyntax.verdictLine(passed: passed, name))
        }
        totals.add(test.status)
        var line = (test.status.isOK ? "ok " : "not ok ") + String(totals.total)
        if !name.isEmpty { line += " " + name }
        if let directive = test.status.directive {
            line += " # " + directive + (reason.map { " " + $0 } ?? "")
        } else if let reason {
            line += " #  " + reason  // ksft_test_result_code's "no directive" spacing
        }
        emit(line)
    }

    /// A finished test: run line, diagnostics, nested subtests, then ``end(_:)``.
    public mutating func write(_ test: KTAPTestCase) {
        begin(test.name)
        for line in test.diagnostics { diagnostic(line) }
        if let subtests = test.subtests {
            var child = nested(name: test.name, plan: subtests.count)
            for subtest in subtests { child.write(subtest) }
        }
        end(test)
    }

    /// Opens a KTAP v1 subtest block (version, `# Subtest: <name>`, plan) one level deeper and
    /// returns the writer for its results. Finish with ``end(_:)`` of the parent test, whose
    /// name must be `name` (kunit.py matches them).
    public func nested(name: String, plan: Int?) -> KTAPWriter {
        var child = KTAPWriter(style: style, includeDurations: includeDurations, depth: depth + 1, sink: sink)
        child.plan = plan
        child.emit("KTAP version 1")
        child.emit("# Subtest: " + Self.sanitizedName(name))
        if let plan { child.emit("1..\(plan)") }
        return child
    }

    /// `Bail out! <reason>`: the run cannot continue (`ksft_exit_fail_msg`).
    public func bailOut(_ reason: String) {
        emit("Bail out! " + Self.sanitizedReason(reason))
    }

    /// The closing summary and the exit code for the run. Prints nothing in a nested writer.
    @discardableResult
    public mutating func finish() -> KSFTExitCode {
        let total = totals.total
        let failed = totals.fail + totals.error > 0
        if depth == 0 {
            if style == .kselftest {
                emit("# \(failed ? "FAILED" : "PASSED"): \(totals.passedByHarness) / \(total) tests passed.")
            }
            if let plan, plan != total { emit("# Planned tests != run tests (\(plan) != \(total))") }
            emit("# " + totals.description)
        }
        if failed || (plan.map { $0 != total } ?? false) { return .fail }
        return totals.skip == total ? .skip : .pass
    }

    // MARK: Whole documents

    /// The lines of `document`, style chosen from its version unless given.
    ///
    /// The plan is the document's (so a truncated run stays truncated) or its case count.
    /// `testCases` defaults to the number of distinct `fixture.variant` name prefixes.
    public static func render(
        _ document: KTAPDocument,
        style: Style? = nil,
        testCases: Int? = nil,
        includeDurations: Bool = false
    ) -> [String] {
        var lines: [String] = []
        let chosen: Style
        switch (style, document.version) {
        case (let style?, _): chosen = style
        case (nil, .ktap?): chosen = .ktap
        case (nil, _): chosen = .kselftest
        }
        var writer = KTAPWriter(style: chosen, includeDurations: includeDurations) { lines.append($0) }
        writer.start(plan: document.plan ?? document.cases.count,
                     testCases: testCases ?? testCaseCount(document.cases.map(\.name)))
        for test in document.cases { writer.write(test) }
        if let reason = document.bailOut { writer.bailOut(reason) }
        writer.finish()
        return lines
    }

    /// The harness's "test cases": distinct names once the last `.component` is dropped.
    public static func testCaseCount(_ names: [String]) -> Int {
        Set(names.map { name -> Substring in
            guard let dot = name.lastIndex(of: ".") else { return "" }
            return name[..<dot]
        }).count
    }

    /// A KTAP description: no `#` (it would start a directive) and no line breaks.
    public static func sanitizedName(_ name: String) -> String {
        String(String(name.map { $0 == "#" ? "_" : ($0.isNewline ? " " : $0) }).trimmed)
    }

    /// Directive text may contain `#` but must stay on one line.
    public static func sanitizedReason(_ reason: String) -> String {
        String(String(reason.map { $0.isNewline ? " " : $0 }).trimmed)
    }
}
