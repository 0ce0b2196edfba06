import KTAP

/// The runs of one test under `run --repeat N`, folded into the single result the test
/// is reported with. A test that passed some runs and failed others is *flaky*: it fails,
/// and its reason says so with the counts, because a flaky test is a failing test.
public struct Soak: Sendable {
    public let runs: Int
    private(set) var outcomes: [TestOutcome] = []

    public init(runs: Int) { self.runs = max(1, runs) }

    /// The 1-based number of the next run, or nil when all have run.
    public var nextRun: Int? { outcomes.count < runs ? outcomes.count + 1 : nil }

    /// Records a run; returns a diagnostic line for a run that did not pass (only when
    /// repeating: a single run reports itself).
    public mutating func record(_ outcome: TestOutcome, run: Int) -> String? {
        outcomes.append(outcome)
        guard runs > 1, outcome.status != .pass, outcome.status != .skip else { return nil }
        return "repeat: run \(run) of \(runs): \(outcome.status.rawValue)" + (outcome.reason.map { ": \($0)" } ?? "")
    }

    public func count(_ status: TestStatus) -> Int { outcomes.filter { $0.status == status }.count }

    /// "10 runs: 9 pass, 1 fail" in TestStatus.reportingOrder, zero counts left out.
    public var counts: String {
        let parts = TestStatus.reportingOrder.compactMap { s in
            count(s) > 0 ? "\(count(s)) \(s.rawValue)" : nil
        }
        return "\(outcomes.count) runs: " + parts.joined(separator: ", ")
    }

    public var isFlaky: Bool { count(.pass) > 0 && count(.pass) < outcomes.count }

    /// One result for all runs: the single run's outcome when not repeating; otherwise
    /// pass only if every run passed, skip only if every run skipped, else the first run
    /// that did neither, its reason prefixed with the counts.
    public var verdict: TestOutcome {
        guard runs > 1, let first = outcomes.first else {
            return outcomes.first ?? TestOutcome(status: .error, reason: "no run", diagnostics: [], seconds: 0)
        }
        let seconds = outcomes.reduce(0) { $0 + $1.seconds }
        let diagnostics = outcomes.flatMap(\.diagnostics) + ["repeat: \(counts)"]
        if outcomes.allSatisfy({ $0.status == .pass }) {
            return TestOutcome(status: .pass, reason: nil, diagnostics: diagnostics, seconds: seconds)
        }
        if outcomes.allSatisfy({ $0.status == .skip }) {
            return TestOutcome(status: .skip, reason: first.reason, diagnostics: diagnostics, seconds: seconds)
        }
        let label = isFlaky ? "flaky (\(counts))" : counts
        guard let bad = outcomes.first(where: { $0.status != .pass && $0.status != .skip }) else {
            // Passed some runs and skipped others: not reproducible, so not a pass either.
            let skip = outcomes.first { $0.status == .skip }
            return TestOutcome(status: .fail, reason: label + (skip?.reason.map { "; first skip: \($0)" } ?? ""),
                               diagnostics: diagnostics, seconds: seconds)
        }
        return TestOutcome(status: bad.status, reason: label + (bad.reason.map { "; first: \($0)" } ?? ""),
                           diagnostics: diagnostics, seconds: seconds)
    }
}
