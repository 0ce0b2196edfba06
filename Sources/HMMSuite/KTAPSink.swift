import KTAP

/// Streams the runner's results as kselftest-style KTAP, one line at a time to `output`.
public final class KTAPSink: ResultSink {
    private var writer: KTAPWriter
    private let testCases: Int
    /// The run's exit code, once ``end()`` has written the totals.
    public private(set) var exitCode: KSFTExitCode = .pass

    /// `testCases` is the number of fixture.variant pairs (the harness's `# Starting` line).
    public init(testCases: Int, output: @escaping (String) -> Void) {
        self.testCases = testCases
        writer = KTAPWriter(style: .kselftest, includeDurations: true, sink: output)
    }

    public func begin(plan: Int) { begin(plan: plan, notes: []) }
    /// The plan, then `notes` as diagnostics (the version line), then the harness's `# Starting` line.
    public func begin(plan: Int, notes: [String]) { writer.start(plan: plan, testCases: testCases, notes: notes) }
    public func started(_ id: TestID) { writer.begin(id.description) }
    public func diagnostic(_ line: String) { writer.diagnostic(line) }
    public func finished(_ id: TestID, _ outcome: TestOutcome) {
        let reason = outcome.status == .fail ? nil : outcome.reason
        if outcome.status == .fail, let why = outcome.reason { writer.diagnostic(why) }
        writer.end(KTAPTestCase(name: id.description, status: outcome.status, reason: reason,
                                duration: .milliseconds(Int(outcome.seconds * 1000))))
    }
    public func end() { exitCode = writer.finish() }
}
