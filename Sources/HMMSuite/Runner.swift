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
public struct Runner {
    public var facts: SystemFacts
    public var defaultTimeout: Double
    /// Read /dev/kmsg around each test (when it cannot be opened, e.g. not root,
    /// ``checksThatCannotRun()`` says so).
    public var watchKernelLog: Bool
    /// How many times each test runs in a row (a soak: `run --repeat N`). A test is
    /// reported once, with its counts; it passes only if every run passed.
    public var repeatCount: Int

    public init(facts: SystemFacts, defaultTimeout: Double = 30, watchKernelLog: Bool = true, repeatCount: Int = 1) {
        self.facts = facts
        self.defaultTimeout = defaultTimeout
        self.watchKernelLog = watchKernelLog
        self.repeatCount = max(1, repeatCount)
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
        var flaky: [TestID] = []
        var failedEveryRun: [TestID] = []
        for test in tests {
            sink.started(test.id)
            let variant = variants[test.id] ?? .hmmPrivate
            var soak = Soak(runs: repeatCount)
            while let run = soak.nextRun {
                let outcome = runOne(test, variant: variant, sink: sink)
                if let line = soak.record(outcome, run: run) { sink.diagnostic(line) }
            }
            if repeatCount > 1 {
                sink.diagnostic("repeat: \(soak.counts)")
                if soak.isFlaky {
                    flaky.append(test.id)
                } else if soak.count(.pass) == 0 && soak.count(.skip) < repeatCount {
                    failedEveryRun.append(test.id)
                }
            }
            sink.finished(test.id, soak.verdict)
        }
        if repeatCount > 1 {
            sink.diagnostic("repeat: \(repeatCount) runs of each of \(tests.count) tests; flaky: "
                            + (flaky.isEmpty ? "none" : flaky.map(\.description).joined(separator: ", "))
                            + "; failed every run: "
                            + (failedEveryRun.isEmpty ? "none" : failedEveryRun.map(\.description).joined(separator: ", ")))
        }
        sink.end()
    }

    func runOne(_ test: TestCase, variant: Variant, sink: ResultSink) -> TestOutcome {
        for need in test.needs {
            if let reason = facts.unmet(need) {
                return TestOutcome(status: .skip, reason: reason, diagnostics: [], seconds: 0)
            }
        }
        let log = watchKernelLog ? try? KernelLogMark() : nil
        let taintBefore = Taint.current()
        let start = monotonicSeconds()
        var outcome = forkAndRun(test, variant: variant, sink: sink)
        outcome.seconds = monotonicSeconds() - start

        // A WARN/BUG/oops during the test fails it, whatever the test itself concluded.
        let faults = log?.records().filter(\.isFault) ?? []
        for record in faults {
            let line = "kernel: \(record.text)"
            outcome.diagnostics.append(line)
            sink.diagnostic(line)
        }
        let newTaint = Taint.current().map { Taint(rawValue: $0.rawValue & ~(taintBefore?.rawValue ?? 0)) }
        if let newTaint, !newTaint.intersection(.faults).isEmpty {
            let line = "kernel taint gained \(newTaint) during the test"
            outcome.diagnostics.append(line)
            sink.diagnostic(line)
        }
        if (!faults.isEmpty || !(newTaint?.intersection(.faults).isEmpty ?? true)) && outcome.status != .timeout {
            outcome.status = .fail
            outcome.reason = faults.first.map { "kernel reported: \($0.text)" } ?? "kernel tainted"
        }
        return outcome
    }

    /// Child protocol, one line each: `D text` diagnostic, `S reason` skip, `F summary`
    /// failure, `P` pass. A child that dies without a verdict failed.
    func forkAndRun(_ test: TestCase, variant: Variant, sink: ResultSink) -> TestOutcome {
        var child: ForkedChild
        do {
            child = try ForkedChild.spawn { send in
                let context = TestContext(id: test.id, variant: variant, facts: facts) { send("D " + $0) }
                do {
                    // A divergence the model's thread found is the first thing that went
                    // wrong, so it is reported before an error the body threw afterwards.
                    var thrown: Error?
                    do { try test.body(context) } catch { thrown = error }
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
            return TestOutcome(status: .error, reason: "\(error)", diagnostics: [], seconds: 0)
        }

        var diagnostics: [String] = []
        var verdict: (TestStatus, String?)?
        let limit = test.timeout ?? defaultTimeout
        let deadline = monotonicSeconds() + limit
        var timedOut = false
        loop: while true {
            switch child.next(deadline: deadline) {
            case let .line(line):
                let body = String(line.dropFirst(2))
                switch line.first {
                case "D": diagnostics.append(body); sink.diagnostic(body)
                case "S": verdict = (.skip, body)
                case "F": verdict = (.fail, body)
                case "P": verdict = (.pass, nil)
                default: diagnostics.append(line); sink.diagnostic(line)
                }
                // The verdict is the child's last line. Waiting for end of file instead would
                // hang on a process the test forked that still holds the pipe (a replay worker
                // stuck in the kernel after an oops).
                if verdict != nil { break loop }
            case .closed: break loop
            case .timedOut: timedOut = true; break loop
            }
        }
        if timedOut { child.killGroup() }
        let termination = child.wait()
        if timedOut {
            let line = "\(test.id.name): Test terminated by timeout"
            sink.diagnostic(line)
            return TestOutcome(status: .timeout, reason: "\(Int(limit)) seconds", diagnostics: diagnostics + [line], seconds: 0)
        }
        if let verdict {
            return TestOutcome(status: verdict.0, reason: verdict.1, diagnostics: diagnostics, seconds: 0)
        }
        let line = "\(test.id.name): test process \(termination) without a verdict"
        sink.diagnostic(line)
        return TestOutcome(status: .fail, reason: "test process \(termination)", diagnostics: diagnostics + [line], seconds: 0)
    }
}
