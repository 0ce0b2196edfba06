import HMMFixtures
import HMMModel
import HMMSystem

/// The reference model on a thread of its own. A ``CheckedProcess`` performs each step on
/// the kernel and hands the step with the kernel's answer here; the model checks them in
/// order on the machine's other CPU. hmm-tests' sequences never depend on the model's
/// answers, so the check may trail the kernel; the test's verdict waits for it.
///
/// Under QEMU TCG the model's work per step cost as much as the kernel's, and the C
/// selftest leaves the second vCPU idle.
///
/// Where the CPUs take turns (a TCG VM that runs every vCPU on one host thread, and
/// `HMMKIT_MODEL_THREAD=0` says so) the thread overlaps nothing: the checker then checks
/// each batch on the caller's thread as it is submitted. Same checks, same order; no
/// wake-ups, no scheduler balancing, no TLB-flush IPIs to a second CPU in the test's mm.
final class ModelChecker: @unchecked Sendable {
    /// Whether checks run on the submitting thread (``modelThreadVariable`` is `0`).
    static let checksInline = getenvString(modelThreadVariable) == "0"
    /// Set by the host for the guest (`BootPlan.modelThreadVariable` in HMMGuest, which this
    /// target does not import).
    static let modelThreadVariable = "HMMKIT_MODEL_THREAD"

    struct Item {
        var action: Action
        var answer: Observation
        /// A CPU write: no answer to check; the model follows its primary outcome.
        var followOnly: Bool
        var inChild: Bool
        var file: String
        var line: Int
    }

    /// The first step the kernel answered outside the envelope (or a test bug).
    struct Failure {
        var report: [String]
        var failure: TestFailure
        /// 0-based index of the failing step among all submitted ones.
        var index: Int = 0
    }

    private var model: Model
    private let codec: PageCodec
    // Guarded by `mutex`.
    private var queue: [Item] = []
    private var busy = false
    private var closed = false
    private var failed: Failure?
    private var steps = 0

    private let mutex = SystemMutex()
    private let work = SystemMutex.Condition()
    private let idle = SystemMutex.Condition()
    private var thread: SystemThread?
    private let inline: Bool

    init(model: Model, codec: PageCodec, inline: Bool = ModelChecker.checksInline) throws {
        self.model = model
        self.codec = codec
        self.inline = inline
        if inline { return }
        do { thread = try SystemThread { [self] in serve() } } catch {
            throw TestFailure("could not start the model's thread: pthread_create \(error.errno.rawValue)")
        }
    }

    /// Queues a step; false once a divergence has been found (the caller should stop, as a
    /// kselftest ASSERT does: the model no longer describes the kernel).
    func submit(_ items: [Item]) -> Bool {
        if inline {
            if failed == nil && !items.isEmpty {
                var failure = check(items)
                failure?.index = steps - 1
                failed = failure
            }
            return failed == nil
        }
        mutex.lock()
        queue += items
        if !items.isEmpty { work.signal() }
        let fine = failed == nil
        mutex.unlock()
        return fine
    }

    /// Waits until every submitted step is checked (before a fork: no other thread may be
    /// inside the runtime when the process forks). Returns the first failure so far.
    @discardableResult
    func drain() -> Failure? {
        mutex.lock()
        while !queue.isEmpty || busy { idle.wait(mutex) }
        let f = failed
        mutex.unlock()
        return f
    }

    /// Drains, stops the thread and returns the first failure.
    func finish() -> Failure? {
        let f = drain()
        if let thread {
            mutex.lock()
            closed = true
            work.signal()
            mutex.unlock()
            thread.join()
            self.thread = nil
        }
        return f
    }

    private func serve() {
        mutex.lock()
        while true {
            while queue.isEmpty && !closed { work.wait(mutex) }
            if queue.isEmpty && closed { break }
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            busy = true
            let alreadyFailed = failed != nil
            mutex.unlock()
            // After a divergence the model no longer describes the kernel: later steps are dropped.
            var failure = alreadyFailed ? nil : check(batch)
            failure?.index = steps - 1
            mutex.lock()
            if failed == nil { failed = failure }
            busy = false
            if queue.isEmpty { idle.broadcast() }
        }
        mutex.unlock()
    }

    private func check(_ batch: [Item]) -> Failure? {
        // One in-place access for the batch: a method call on the stored model copied it
        // (every array retained and released) once per step.
        Self.inPlace(&model) { model in check(batch, &model) }
    }

    private static func inPlace<R>(_ model: inout Model, _ body: (inout Model) -> R) -> R { body(&model) }

    private func check(_ batch: [Item], _ model: inout Model) -> Failure? {
        for item in batch {
            steps += 1
            let action = item.action
            if let problem = model.violation(of: action) {
                return Failure(report: [], failure: TestFailure("test bug: step \(steps) \(action.fixtureText): \(problem)",
                                                                file: item.file, line: item.line))
            }
            if item.followOnly {
                let e = model.follow(action)
                if let failure = hazard(e, item) { return failure }
                continue
            }
            let envelope = model.apply(action)
            if let failure = hazard(envelope, item) { return failure }
            let observation = FixtureReplayer.project(item.answer, onto: envelope)
            let mismatches = model.commit(observation)
            if !mismatches.isEmpty { return divergence(item, envelope, observation, mismatches) }
        }
        return nil
    }

    /// hmm-tests' fixed sequences never reach a step the model marks as a kernel hazard:
    /// one here (already performed: the check trails the kernel) is a test bug.
    private func hazard(_ e: Envelope, _ item: Item) -> Failure? {
        guard let hazard = e.hazard ?? e.kernelWarning.map({ "expected kernel warning: " + $0 }) else { return nil }
        return Failure(report: [], failure: TestFailure("test bug: step \(steps) \(item.action.fixtureText) "
                                                            + "is one the model marks as a kernel hazard: \(hazard)",
                                                        file: item.file, line: item.line))
    }

    private func divergence(_ item: Item, _ envelope: Envelope, _ observation: Observation, _ mismatches: [Mismatch]) -> Failure {
        let d = Divergence(step: steps - 1, action: item.action, envelope: envelope, observation: observation,
                           mismatches: mismatches, event: nil)
        var report = ["divergence from the model\(item.inChild ? " (in the forked child)" : ""):"]
        // A 1024-page envelope is one very long line; the mismatch lines name the pages.
        for line in d.report() {
            report.append(line.count > 400 ? line.prefix(400) + "... (\(line.count) characters)" : line)
        }
        if let tokens = observation.tokens, mismatches.contains(where: { $0.field.hasPrefix("data") }) {
            let shown = tokens.prefix(4).map { $0.map { codec.describe($0) } ?? "not an int run" }
            report.append("  data: kernel's first pages: " + shown.joined(separator: " | "))
        }
        let message = "step \(steps) \(item.action.fixtureText): " + (mismatches.first.map(\.description) ?? "diverged")
        return Failure(report: report, failure: TestFailure(message, file: item.file, line: item.line))
    }
}
