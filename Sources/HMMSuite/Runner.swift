import HMMKernel
import HMMSystem
import KTAP

/// How one test ended.
public struct TestOutcome: Sendable, Equatable {
    public var status: TestStatus
    /// The SKIP/TIMEOUT/ERROR reason, or the failure summary.
    public var reason: String?
    /// Diagnostic lines, in order (child output, kernel log faults).
    public var diagnostics: [String]
    public var seconds: Double
}

/// Receives results as they happen, so output streams (KTAP on stdout) and a crash of the
/// whole machine loses nothing already reported.
public protocol ResultSink: AnyObject {
    func begin(plan: Int)
    func started(_ id: TestID)
    func diagnostic(_ line: String)
    func finished(_ id: TestID, _ outcome: TestOutcome)
    func end()
}

/// Runs tests like kselftest's harness: each in a forked child (its own process group),
/// with a timeout, needs checked first, and the kernel's taint and log watched around it.
///
/// Up to ``jobs`` tests run at once when they hold nothing in common (``Concurrency``):
/// kselftest's device-private and device-coherent variants drive different devices, so on
/// two CPUs one of each runs at a time. Results are still told in plan order. A kernel
/// fault (log or taint) seen while tests ran at once fails every one of them, with the
/// names of the others; `--jobs 1` tells which it was.
public struct Runner {
    public var facts: SystemFacts
    public var defaultTimeout: Double
    /// Read /dev/kmsg around each test (when it cannot be opened, e.g. not root,
    /// ``checksThatCannotRun()`` says so).
    public var watchKernelLog: Bool
    /// How many times each test runs in a row (a soak: `run --repeat N`). A test is
    /// reported once, with its counts; it passes only if every run passed.
    public var repeatCount: Int
    /// How many tests may run at once.
    public var jobs: Int
    /// The kernel log and taint mask read around each test (the kernel's unless a test
    /// names other files).
    public var kernelLogPath = KernelLogMark.path
    public var taintPath = Taint.path

    public init(facts: SystemFacts, defaultTimeout: Double = 30, watchKernelLog: Bool = true, repeatCount: Int = 1,
                jobs: Int = 1) {
        self.facts = facts
        self.defaultTimeout = defaultTimeout
        self.watchKernelLog = watchKernelLog
        self.repeatCount = max(1, repeatCount)
        self.jobs = max(1, jobs)
    }

    /// `run --jobs auto`: the CPUs tests run on at the same time, the local node's (tests
    /// pin themselves there), else all online. One where the host says the vCPUs take
    /// turns (`HMMKIT_MODEL_THREAD=0`: TCG on one host thread): a second test would only
    /// take turns with the first.
    public static func automaticJobs(facts: SystemFacts) -> Int {
        if ModelChecker.checksInline { return 1 }
        if case let .pinned(_, cpus) = LocalNodePlacement.home(among: facts.numaNodes) { return max(1, cpus.count) }
        return Machine.onlineProcessors
    }

    /// The checks around every test that cannot run on this machine, each with why, so a
    /// run says so (KTAP header, results warnings) instead of passing without them.
    /// The paths are the kernel's; tests name others.
    public func checksThatCannotRun(kernelLog: String = KernelLogMark.path, taint: String = Taint.path) -> [String] {
        var gaps: [String] = []
        if watchKernelLog {
            do { _ = try KernelLogMark(path: kernelLog) } catch {
                gaps.append("kernel-log check off (a WARN, BUG or oops during a test goes unseen): \(error)")
            }
        }
        if Taint.current(path: taint) == nil {
            gaps.append("taint check off: \(taint) cannot be read")
        }
        return gaps
    }

    public func run(_ tests: [TestCase], variants: [TestID: Variant], sink: ResultSink) {
        sink.begin(plan: tests.count)
        var schedule = TestSchedule(claims: tests.map(\.concurrency), jobs: jobs)
        var report = OrderedReport(ids: tests.map(\.id))
        func tell(_ events: [OrderedReport.Event]) {
            for event in events {
                switch event {
                case let .started(id): sink.started(id)
                case let .diagnostic(line): sink.diagnostic(line)
                case let .finished(id, outcome): sink.finished(id, outcome)
                }
            }
        }
        var live: [LiveTest] = []
        var flaky: [TestID] = []
        var failedEveryRun: [TestID] = []

        /// Starts runs of `test` until one is in a child (or its soak is over: then it is done).
        func advance(_ test: LiveTest) {
            while let run = test.soak.nextRun {
                test.run = run
                // Beside another test the other CPU is taken: the model checks on the test's thread.
                guard let outcome = start(test, modelInline: ModelChecker.checksInline || live.count > 1) else { return }
                finish(test, run: run, outcome)
            }
            complete(test)
        }
        func finish(_ test: LiveTest, run: Int, _ outcome: TestOutcome) {
            if let line = test.soak.record(outcome, run: run) { tell(report.diagnostic(test.index, line)) }
        }
        func complete(_ test: LiveTest) {
            if repeatCount > 1 {
                tell(report.diagnostic(test.index, "repeat: \(test.soak.counts)"))
                if test.soak.isFlaky {
                    flaky.append(test.test.id)
                } else if test.soak.count(.pass) == 0 && test.soak.count(.skip) < repeatCount {
                    failedEveryRun.append(test.test.id)
                }
            }
            live.removeAll { $0 === test }
            schedule.finished(test.index)
            tell(report.finished(test.index, test.soak.verdict))
        }

        while !schedule.isComplete {
            let starting = schedule.startable().map { i in
                LiveTest(index: i, test: tests[i], variant: variants[tests[i].id] ?? .hmmPrivate, runs: repeatCount)
            }
            for test in starting {
                for other in live { other.ranBeside.insert(test.test.id); test.ranBeside.insert(other.test.id) }
                live.append(test)
                tell(report.started(test.index))
            }
            for test in starting { advance(test) }
            if !starting.isEmpty { continue }

            // Every running test is in a child: take what they have said, else wait for them.
            var heard = false
            for test in live {
                let say = { (line: String) in tell(report.diagnostic(test.index, line)) }
                while let event = test.nextEvent() {
                    heard = true
                    if let outcome = handle(event, of: test, say: say) {
                        finish(test, run: test.run, outcome)
                        advance(test)
                        break
                    }
                }
            }
            if heard { continue }
            let now = monotonicSeconds()
            for test in live where test.deadline <= now {
                finish(test, run: test.run, end(test, timedOut: true, say: { tell(report.diagnostic(test.index, $0)) }))
                advance(test)
            }
            let soonest = live.map(\.deadline).min() ?? now
            ForkedChild.waitForInput(on: live.compactMap(\.descriptor), seconds: min(max(soonest - now, 0), 1))
        }
        if repeatCount > 1 {
            sink.diagnostic("repeat: \(repeatCount) runs of each of \(tests.count) tests; flaky: "
                            + (flaky.isEmpty ? "none" : flaky.map(\.description).joined(separator: ", "))
                            + "; failed every run: "
                            + (failedEveryRun.isEmpty ? "none" : failedEveryRun.map(\.description).joined(separator: ", ")))
        }
        sink.end()
    }

    /// Starts one run of `test`: its needs, the kernel log and taint before it, its child.
    /// Returns the outcome when there is no child to wait for (an unmet need, a failed fork).
    private func start(_ test: LiveTest, modelInline: Bool) -> TestOutcome? {
        for need in test.test.needs {
            if let reason = facts.unmet(need) {
                return TestOutcome(status: .skip, reason: reason, diagnostics: [], seconds: 0)
            }
        }
        test.log = watchKernelLog ? try? KernelLogMark(path: kernelLogPath) : nil
        test.taintBefore = Taint.current(path: taintPath)
        test.started = monotonicSeconds()
        test.deadline = test.started + (test.test.timeout ?? defaultTimeout)
        test.diagnostics = []
        test.verdict = nil
        let (body, id, variant, facts) = (test.test.body, test.test.id, test.variant, facts)
        do {
            test.child = try ForkedChild.spawn { send in
                let context = TestContext(id: id, variant: variant, facts: facts, modelInline: modelInline) { send("D " + $0) }
                do {
                    // A divergence the model's thread found is the first thing that went
                    // wrong, so it is reported before an error the body threw afterwards.
                    var thrown: Error?
                    do { try body(context) } catch { thrown = error }
                    try context.runEndChecks()
                    if let thrown { throw thrown }
                    if context.failures > 0 { send("F \(context.failures) expectation(s) failed"); return 1 }
                    send("P")
                    return 0
                } catch let skip as TestSkip {
                    send("S " + skip.reason)
                    return 0
                } catch {
                    send("F \(error)")
                    return 1
                }
            }
        } catch {
            test.log = nil
            return TestOutcome(status: .error, reason: "\(error)", diagnostics: [], seconds: 0)
        }
        return nil
    }

    /// Child protocol, one line each: `D text` diagnostic, `S reason` skip, `F summary`
    /// failure, `P` pass. A child that dies without a verdict failed. Returns the run's
    /// outcome once it has ended.
    private func handle(_ event: ForkedChild.Event, of test: LiveTest, say: (String) -> Void) -> TestOutcome? {
        switch event {
        case let .line(line):
            let body = String(line.dropFirst(2))
            switch line.first {
            case "D": test.diagnostics.append(body); say(body)
            case "S": test.verdict = (.skip, body)
            case "F": test.verdict = (.fail, body)
            case "P": test.verdict = (.pass, nil)
            default: test.diagnostics.append(line); say(line)
            }
            // The verdict is the child's last line. Waiting for end of file instead would
            // hang on a process the test forked that still holds the pipe (a replay worker
            // stuck in the kernel after an oops).
            return test.verdict == nil ? nil : end(test, timedOut: false, say: say)
        case .closed:
            return end(test, timedOut: false, say: say)
        case .timedOut:
            return end(test, timedOut: true, say: say)
        }
    }

    /// Reaps the run's child and gives its outcome, failed by a kernel fault or new taint
    /// seen meanwhile (whatever the test itself concluded).
    private func end(_ test: LiveTest, timedOut: Bool, say: (String) -> Void) -> TestOutcome {
        var outcome: TestOutcome
        if let child = test.child.take() {
            if timedOut { child.killGroup() }
            let termination = child.wait()
            if timedOut {
                let line = "\(test.test.id.name): Test terminated by timeout"
                say(line)
                outcome = TestOutcome(status: .timeout, reason: "\(Int(test.test.timeout ?? defaultTimeout)) seconds",
                                      diagnostics: test.diagnostics + [line], seconds: 0)
            } else if let verdict = test.verdict {
                outcome = TestOutcome(status: verdict.0, reason: verdict.1, diagnostics: test.diagnostics, seconds: 0)
            } else {
                let line = "\(test.test.id.name): test process \(termination) without a verdict"
                say(line)
                outcome = TestOutcome(status: .fail, reason: "test process \(termination)", diagnostics: test.diagnostics + [line],
                                      seconds: 0)
            }
        } else {
            outcome = TestOutcome(status: .error, reason: "no test process", diagnostics: test.diagnostics, seconds: 0)
        }
        outcome.seconds = monotonicSeconds() - test.started

        let faults = test.log?.records().filter(\.isFault) ?? []
        test.log = nil
        for record in faults {
            let line = "kernel: \(record.text)"
            outcome.diagnostics.append(line)
            say(line)
        }
        let newTaint = Taint.current(path: taintPath).map { Taint(rawValue: $0.rawValue & ~(test.taintBefore?.rawValue ?? 0)) }
        if let newTaint, !newTaint.intersection(.faults).isEmpty {
            let line = "kernel taint gained \(newTaint) during the test"
            outcome.diagnostics.append(line)
            say(line)
        }
        let kernelFault = !faults.isEmpty || !(newTaint?.intersection(.faults).isEmpty ?? true)
        if kernelFault && !test.ranBeside.isEmpty {
            let line = "ran beside \(test.ranBeside.sorted().map(\.description).joined(separator: ", ")): "
                + "the kernel's report may be theirs (run --jobs 1 tells)"
            outcome.diagnostics.append(line)
            say(line)
        }
        if kernelFault && outcome.status != .timeout {
            outcome.status = .fail
            outcome.reason = faults.first.map { "kernel reported: \($0.text)" } ?? "kernel tainted"
        }
        return outcome
    }
}

/// A test the runner has started and not yet reported: its soak, and its current run.
private final class LiveTest {
    let index: Int
    let test: TestCase
    let variant: Variant
    var soak: Soak
    /// The current run's number (1-based).
    var run = 1
    /// Tests that ran at the same time as it, at some point.
    var ranBeside: Set<TestID> = []

    var child: ForkedChild?
    var log: KernelLogMark?
    var taintBefore: Taint?
    var started = 0.0
    var deadline = Double.infinity
    var diagnostics: [String] = []
    var verdict: (TestStatus, String?)?

    init(index: Int, test: TestCase, variant: Variant, runs: Int) {
        self.index = index
        self.test = test
        self.variant = variant
        soak = Soak(runs: runs)
    }

    /// The child's pipe, while a run is in its child.
    var descriptor: Int32? {
        guard let child = child.take() else { return nil }
        let fd = child.descriptor
        self.child = consume child
        return fd
    }

    /// What the child has said, without waiting; nil when nothing (or no child).
    func nextEvent() -> ForkedChild.Event? {
        guard var child = child.take() else { return nil }
        let event = child.nextIfReady()
        self.child = consume child
        return event
    }
}

