import HMMFixtures
import HMMModel

#if canImport(Glibc)
import Glibc
#endif

/// The reference model on a thread of its own. A ``CheckedProcess`` performs each step on
/// the kernel and hands the step with the kernel's answer here; the model checks them in
/// order on the machine's other CPU. hmm-tests' sequences never depend on the model's
/// answers, so the check may trail the kernel; the test's verdict waits for it.
///
/// Under QEMU TCG the model's work per step cost as much as the kernel's, and the C
/// selftest leaves the second vCPU idle.
final class ModelChecker: @unchecked Sendable {
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

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let work = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let idle = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var thread = pthread_t()
    private var running = false

    init(model: Model, codec: PageCodec) throws {
        self.model = model
        self.codec = codec
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(work, nil)
        pthread_cond_init(idle, nil)
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            Unmanaged<ModelChecker>.fromOpaque(raw!).takeRetainedValue().serve()
            return nil
        }, context)
        if rc != 0 {
            Unmanaged<ModelChecker>.fromOpaque(context).release()
            throw TestFailure("could not start the model's thread: pthread_create \(rc)")
        }
        running = true
    }

    deinit {
        pthread_mutex_destroy(mutex); pthread_cond_destroy(work); pthread_cond_destroy(idle)
        mutex.deallocate(); work.deallocate(); idle.deallocate()
    }

    /// Queues a step; false once a divergence has been found (the caller should stop, as a
    /// kselftest ASSERT does: the model no longer describes the kernel).
    func submit(_ item: Item) -> Bool {
        pthread_mutex_lock(mutex)
        queue.append(item)
        pthread_cond_signal(work)
        let fine = failed == nil
        pthread_mutex_unlock(mutex)
        return fine
    }

    /// Waits until every submitted step is checked (before a fork: no other thread may be
    /// inside the runtime when the process forks). Returns the first failure so far.
    @discardableResult
    func drain() -> Failure? {
        pthread_mutex_lock(mutex)
        while !queue.isEmpty || busy { pthread_cond_wait(idle, mutex) }
        let f = failed
        pthread_mutex_unlock(mutex)
        return f
    }

    /// Drains, stops the thread and returns the first failure.
    func finish() -> Failure? {
        let f = drain()
        if running {
            pthread_mutex_lock(mutex)
            closed = true
            pthread_cond_signal(work)
            pthread_mutex_unlock(mutex)
            pthread_join(thread, nil)
            running = false
        }
        return f
    }

    private func serve() {
        pthread_mutex_lock(mutex)
        while true {
            while queue.isEmpty && !closed { pthread_cond_wait(work, mutex) }
            if queue.isEmpty && closed { break }
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            busy = true
            let alreadyFailed = failed != nil
            pthread_mutex_unlock(mutex)
            // After a divergence the model no longer describes the kernel: later steps are dropped.
            var failure = alreadyFailed ? nil : check(batch)
            failure?.index = steps - 1
            pthread_mutex_lock(mutex)
            if failed == nil { failed = failure }
            busy = false
            if queue.isEmpty { pthread_cond_broadcast(idle) }
        }
        pthread_mutex_unlock(mutex)
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
                let e = model.step(action)
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
