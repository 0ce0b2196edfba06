import HMMModel

/// Drives a fixture against a kernel one step at a time:
/// ```
/// var replay = Replay(fixture)
/// while let (step, envelope) = replay.next() {
///     guard envelope.hazard == nil else { break }     // or skip deliberately
///     let observation = run(step.action)               // your kernel runner
///     let mismatches = replay.record(observation)      // check + model follows the kernel
/// }
/// ```
public struct Replay: Sendable {
    public let fixture: Fixture
    public private(set) var model: Model
    /// Index of the next step.
    public private(set) var index = 0
    /// Mismatches recorded so far, by step index.
    public private(set) var mismatches: [(step: Int, mismatch: Mismatch)] = []
    var awaiting = false

    public init(_ fixture: Fixture) {
        self.fixture = fixture
        self.model = fixture.makeModel()
    }

    public var isFinished: Bool { index >= fixture.steps.count }

    /// The next step and its envelope; nil when finished or when the step's precondition
    /// fails (the kernel took a branch that makes the rest of the fixture meaningless).
    public mutating func next() -> (step: Step, envelope: Envelope)? {
        if awaiting { _ = record(nil) }
        guard !isFinished else { return nil }
        let st = fixture.steps[index]
        guard model.violation(of: st.action) == nil else { return nil }
        awaiting = true
        return (st, model.apply(st.action))
    }

    /// Records what the kernel did for the step `next()` returned (nil: assume the primary
    /// outcome) and returns the mismatches.
    @discardableResult
    public mutating func record(_ observation: Observation?) -> [Mismatch] {
        guard awaiting else { return [] }
        awaiting = false
        defer { index += 1 }
        // apply() already put the model on the primary outcome.
        guard let observation else { return [] }
        let bad = model.commit(observation)
        for m in bad { mismatches.append((index, m)) }
        return bad
    }
}
