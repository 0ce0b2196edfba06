import HMMKernel
import HMMReport
import HMMSuite
import HMMSystem
import KTAP

/// A run of planned tests on this machine, as `run` and `replay` do it: KTAP line by line
/// to `output`, progress to `log`, the result files at the end.
public enum SuiteRun {
    /// Runs `selected` and returns the run's exit code. A check that cannot run (`kernelLog`,
    /// `taint`: the kernel's files unless a test names others) is a `# hmmkit: warning:` in
    /// the KTAP header and a warning in the results; a result file that cannot be written
    /// fails the run.
    public static func run(_ selected: [PlannedTest], timeout: Double, repeatCount: Int = 1, jobs: JobCount = .exactly(1),
                           resultFiles: ResultFiles,
                           output: @escaping (String) -> Void, log: (String) -> Void,
                           kernelLog: String = KernelLogMark.path, taint: String = Taint.path) -> KSFTExitCode {
        let facts = SystemFacts.gather()
        log("hmmkit: kernel \(Machine.kernelRelease), UAPI \(facts.generation.rawValue) (\(facts.generationReason)), "
            + "devices \(facts.devices.sorted())")
        log("hmmkit: machine: \(facts.summary)")
        let sink = KTAPSink(testCases: Set(selected.map { "\($0.test.id.fixture).\($0.test.id.variant)" }).count, output: output)
        var runner = Runner(facts: facts, defaultTimeout: timeout, repeatCount: repeatCount, jobs: jobs.count(facts: facts))
        // The files the header warns about are the ones watched around each test.
        runner.kernelLogPath = kernelLog
        runner.taintPath = taint
        if runner.jobs > 1 { log("hmmkit: up to \(runner.jobs) tests at once (--jobs \(jobs)); results in plan order") }
        let gaps = runner.checksThatCannotRun(kernelLog: kernelLog, taint: taint)
        for gap in gaps { log("hmmkit: warning: \(gap)") }
        let recorder = RecordingSink(forwardingTo: sink, warnings: gaps, machine: facts.summary)
        let variants = Dictionary(selected.map { ($0.test.id, $0.variant) }, uniquingKeysWith: { a, _ in a })
        runner.run(selected.map(\.test), variants: variants, sink: recorder)
        if resultFiles.requested {
            do {
                try resultFiles.write(recorder.results)
            } catch {
                log("hmmkit: \(error)")
                return .fail
            }
        }
        return sink.exitCode
    }
}
