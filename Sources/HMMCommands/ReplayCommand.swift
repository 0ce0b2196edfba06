import ArgumentParser
import FoundationEssentials
import HMMKernel
import HMMModel
import HMMSuite
import HMMWorkflows

/// How fixtures replay, shared by `replay` and `run --fixtures`.
public struct ReplayOptions: ParsableArguments {
    @Flag(help: "Run steps the model predicts may crash the kernel (hazards); otherwise a fixture stops before them (SKIP).")
    var allowHazards = false
    @Flag(name: .customLong("no-shrink"), help: "Do not shrink a divergent fixture on the kernel.")
    var noShrink = false
    @Option(help: "Seconds the shrinker may spend on one divergent fixture.")
    var shrinkSeconds: Double = 90
    @Option(help: "Seconds one step may take before the kernel counts as hung.")
    var stepTimeout: Double = 20
    @Option(help: "Directory for shrunk fixtures and C tests (default $HMMKIT_OUTPUT_DIR, else ./hmmkit-out).")
    var output: String?
    @Option(help: "Check against this kernel profile instead of the one for uname -r.")
    var profile: KernelProfile?
    @Flag(help: """
        Trace each replay's worker with KCOV (/sys/kernel/debug/kcov); print the PCs no earlier replay of this \
        boot printed, as 'kcov-pcs:' diagnostics (guided fuzzing).
        """)
    var kcov = false

    public init() {}

    public func validate() throws {
        if shrinkSeconds < 0 { throw ValidationError("--shrink-seconds must not be negative") }
        if stepTimeout <= 0 { throw ValidationError("--step-timeout must be positive") }
    }

    var kernelProfile: KernelProfile? {
        profile ?? SystemFacts.runningKernelProfile()
    }

    func fixtureTests() -> FixtureTests {
        var replayer = FixtureReplayer(generation: .v6_1)  // the runner's UAPI detection replaces it per test
        replayer.allowHazards = allowHazards
        replayer.stepTimeout = stepTimeout
        // 2 Mi words (16 MiB): a 60-step program records a few hundred thousand PCs.
        if kcov { replayer.kcovWords = 1 << 21 }
        var tests = FixtureTests(replayer: replayer, kernelProfile: kernelProfile)
        tests.shrink = !noShrink
        tests.shrinkSeconds = shrinkSeconds
        tests.outputDirectory = output ?? ProcessInfo.processInfo.environment["HMMKIT_OUTPUT_DIR"] ?? "hmmkit-out"
        return tests
    }

}

public struct ReplayCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay fixtures on this kernel, checking every step against the model; print KTAP.",
        discussion: """
        Each fixture is one test, replay.<directory>.<name>. On a divergence the first divergent step is \
        reported with the model's envelope and the kernel's answer, then the fixture is shrunk on this \
        kernel and saved with a kselftest C test that reproduces it. A malformed fixture fails with \
        file:line; the other fixtures still run.
        """)

    @Argument(help: "Fixture files, or directories of *.fixture files.")
    var fixtures: [String]
    @OptionGroup var module: ModuleOptions
    @OptionGroup var replay: ReplayOptions
    @OptionGroup var filters: FilterOptions
    @OptionGroup(title: "Result files (written at the end; KTAP stays on stdout)") var resultFiles: ResultFileOptions
    @Option(help: "Resume after this test (replay.dir.name); used by the VM host after a crash.")
    var startAfter: String?

    public init() {}

    public func validate() throws {
        if fixtures.isEmpty { throw ValidationError("name at least one fixture file or directory") }
    }

    /// The fixtures' replays through the filters and the shard.
    func planned() -> [PlannedTest] {
        filters.plan.tests(suite: false, replays: replay.fixtureTests().plan(expanding: fixtures))
    }

    public func run() throws {
        var planned = planned()
        if let startAfter {
            guard let rest = TestPlan.resuming(after: startAfter, in: planned) else {
                throw ValidationError("--start-after: no selected fixture is named '\(startAfter)'")
            }
            planned = rest
        }
        let loaded = try module.load()
        defer { loaded?.unload() }
        try ExitStatus.end(with: SuiteRun.run(planned, timeout: 30, resultFiles: resultFiles.files, output: Stdout.line, log: log))
    }
}
