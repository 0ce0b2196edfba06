import FoundationEssentials
import HMMGuest
import HMMKernel
import HMMModel
import HMMReport
import HMMSuite
import HMMSystem
import KTAP

/// Passes the runner's results on to the KTAP sink and keeps them for the result files.
/// It also prints hmmkit's version right after the plan (`# hmmkit version: 0.2.0`) and its
/// header lines after that (`# hmmkit: kernel release …, arch …`, the kernel's compiler and
/// config, the machine facts, warnings), so a saved log says what made it, which kernel it
/// came from and on what machine.
public final class RecordingSink: ResultSink {
    private let ktap: KTAPSink
    /// The run's facts; the tests are added as they finish.
    private var run: ResultSet

    /// `configName` defaults to `$HMMKIT_CONFIG_NAME` (the VM host sets it from the kernel's
    /// build); `machine` is the machine facts line.
    public init(forwardingTo ktap: KTAPSink, hmmkitVersion: String = HMMKitVersion.current, kernelRelease: String = Machine.kernelRelease,
                startedAt: Date = Date(), warnings: [String] = [], architecture: String? = Machine.architecture,
                compiler: String? = Machine.kernelCompiler,
                configName: String? = ProcessInfo.processInfo.environment[BootPlan.configNameVariable].flatMap { $0.isEmpty ? nil : $0 },
                machine: String? = nil) {
        self.ktap = ktap
        run = ResultSet(tool: .hmmkit, hmmkitVersion: hmmkitVersion, kernelRelease: kernelRelease,
                        profile: KernelProfile.forRelease(kernelRelease)?.name, startedAt: startedAt, architecture: architecture,
                        compiler: compiler, configName: configName, machine: machine, warnings: warnings)
    }

    public var profile: String? { run.profile }

    public var results: ResultSet { run }

    public func begin(plan: Int) {
        ktap.begin(plan: plan, notes: [ResultSet.ktapVersionLine(run.hmmkitVersion)])
        for line in run.ktapHeaderLines { ktap.diagnostic(line) }
    }

    public func started(_ id: TestID) { ktap.started(id) }
    public func diagnostic(_ line: String) { ktap.diagnostic(line) }
    public func end() { ktap.end() }

    public func finished(_ id: TestID, _ outcome: TestOutcome) {
        ktap.finished(id, outcome)
        run.tests.append(ResultSet.Test(name: id.description, status: outcome.status, reason: outcome.reason,
                                        duration: outcome.seconds, diagnostics: outcome.diagnostics))
    }
}
