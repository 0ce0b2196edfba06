import ArgumentParser
import FoundationEssentials
import HMMGuest
import HMMSuite
import HMMSystem
import HMMWorkflows
import KTAP

/// The filter options shared by `list`, `run` and `replay` (kselftest_harness.h's flags, and `--shard`).
public struct FilterOptions: ParsableArguments {
    @Option(name: .customShort("t"), help: "Run only this test (name after the variant).", transform: FilterArgument.reader(true, .test))
    var test: [FilterArgument] = []
    @Option(name: .customShort("T"), help: "Skip this test.", transform: FilterArgument.reader(false, .test))
    var excludeTest: [FilterArgument] = []
    @Option(name: .customShort("v"), help: "Run only this variant (e.g. hmm_device_private).",
            transform: FilterArgument.reader(true, .variant))
    var variant: [FilterArgument] = []
    @Option(name: .customShort("V"), help: "Skip this variant.", transform: FilterArgument.reader(false, .variant))
    var excludeVariant: [FilterArgument] = []
    @Option(name: .customShort("f"), help: "Run only this fixture (hmm, hmm2).", transform: FilterArgument.reader(true, .fixture))
    var fixture: [FilterArgument] = []
    @Option(name: .customShort("F"), help: "Skip this fixture.", transform: FilterArgument.reader(false, .fixture))
    var excludeFixture: [FilterArgument] = []
    @Option(name: .customShort("r"), help: "Run only fixture.variant.test.", transform: FilterArgument.reader(true, .full))
    var full: [FilterArgument] = []
    @Flag(help: "Also offer hmmkit's own VM fault-handling checks (fixture vmcheck).")
    var includeVMChecks = false
    @Option(help: ArgumentHelp("""
        Only the tests of shard K of N (1 <= K <= N <= \(Shard.maximumCount)), after the other filters: a test belongs \
        to shard (FNV-1a 64 of its name mod N) + 1, so shards 1..N split any plan exactly, the same way on every machine.
        """, valueName: "K/N"), transform: Parse.shard)
    var shard: Shard?

    /// The filter rules in the order they were given: the first that matches a test decides,
    /// as in kselftest_harness.h.
    public var filter: TestFilter {
        TestFilter(rules: (test + excludeTest + variant + excludeVariant + fixture + excludeFixture + full)
            .sorted { $0.position < $1.position }.map(\.rule))
    }

    /// The filters, `--include-vm-checks` and the shard, for the planner.
    public var plan: TestPlan { TestPlan(filter: filter, includeVMChecks: includeVMChecks, shard: shard) }

    public init() {}

    public func validate() throws {
        for r in full.map(\.rule.value) where r.split(separator: ".").count != 3 {
            throw ValidationError("-r takes fixture.variant.test, got '\(r)'")
        }
    }
}

public struct ListCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "list", abstract: "List tests in run order.")
    @OptionGroup public var filters: FilterOptions

    public init() {}

    public func run() throws {
        for planned in filters.plan.tests() { Stdout.line(planned.test.id.description) }
    }
}

public struct RunCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the suite on this kernel and print KTAP.",
        discussion: "Loading test_hmm is opt-in: --load-module inside a test VM, plus --allow-host-module-load elsewhere.")

    @OptionGroup var filters: FilterOptions
    @Option(help: "Default per-test timeout in seconds (kselftest: 30).")
    var timeout: Double = 30
    @OptionGroup var module: ModuleOptions
    @Option(name: .customLong("fixtures"), help: "Also replay these fixture files or directories (tests replay.<dir>.<name>).")
    var fixturePaths: [String] = []
    @OptionGroup var replay: ReplayOptions
    @OptionGroup(title: "Result files (written at the end; KTAP stays on stdout)") var resultFiles: ResultFileOptions
    @Option(help: "Resume after this test (fixture.variant.test); used by the VM host after a crash.")
    var startAfter: String?
    @Option(help: "Run each test this many times in a row (a soak); reported once with its pass/fail counts, flaky when they differ.")
    var `repeat`: Int = 1
    @Option(help: ArgumentHelp("""
        How many tests may run at once: 'auto' (the local node's CPUs; 1 where the host says the vCPUs take turns) \
        or 1 to \(JobCount.maximum). Only tests that share no device run together; results stay in plan order. \
        Default: auto, or 1 with --start-after (a resumed run after a crash names the next crash's test).
        """, valueName: "N|auto"))
    var jobs: JobCount?

    public init() {}

    public func validate() throws {
        if timeout <= 0 { throw ValidationError("--timeout must be positive, got \(timeout)") }
        if !(1...100_000).contains(`repeat`) { throw ValidationError("--repeat takes 1 to 100000, got \(`repeat`)") }
        if let startAfter, TestPlan.resuming(after: startAfter, in: planned()) == nil {
            throw ValidationError("--start-after: no selected test is named '\(startAfter)'")
        }
    }

    /// The suite's tests, then the fixtures' replays, through the same filters and shard.
    func planned() -> [PlannedTest] {
        filters.plan.tests(replays: replay.fixtureTests().plan(expanding: fixturePaths))
    }

    public func run() throws {
        let all = planned()
        let selected = startAfter.flatMap { TestPlan.resuming(after: $0, in: all) } ?? all
        let loaded = try module.load()
        defer { loaded?.unload() }
        try ExitStatus.end(with: SuiteRun.run(selected, timeout: timeout, repeatCount: `repeat`,
                                              jobs: jobs ?? (startAfter == nil ? .automatic : .exactly(1)), resultFiles: resultFiles.files,
                                              output: Stdout.line, log: log))
    }
}

/// Loading test_hmm: opt-in, and refused outside a test VM unless asked for explicitly.
public struct ModuleOptions: ParsableArguments {
    @Flag(help: "Load test_hmm through libkmod before running and unload it after.")
    var loadModule = false
    @Flag(help: "Allow --load-module on a machine that is not an hmmkit test VM.")
    var allowHostModuleLoad = false
    @Option(help: "SPM physical addresses for the device-coherent devices, 'ADDR0,ADDR1' (needs memmap= at boot).",
            transform: Parse.spm)
    var spm: SPMAddresses?
    @Option(help: "Directory with modules.dep for libkmod (default /lib/modules/$(uname -r); the VM sets HMMKIT_MODULES_DIR).")
    var modulesDir: String?

    public init() {}

    public func validate() throws {
        if (spm != nil || modulesDir != nil) && !loadModule {
            throw ValidationError("--spm and --modules-dir only apply with --load-module")
        }
        if loadModule && !allowHostModuleLoad && !TestVM.isCurrentMachine {
            throw ValidationError("""
                refusing to load test_hmm on this machine: it is not an hmmkit test VM. test_hmm exposes \
                every process's memory to a test device; load it here only if you mean it, with --allow-host-module-load, \
                or run the suite in a VM with 'hmmkit vm run'.
                """)
        }
    }

    /// Loads the module when asked; a failure is a KTAP bail-out (nothing can run).
    public func load() throws -> ModuleSession? {
        guard loadModule else { return nil }
        do {
            return try ModuleSession(modulesDirectory: modulesDir ?? ProcessInfo.processInfo.environment["HMMKIT_MODULES_DIR"],
                                     parameters: spm?.parameters ?? [], log: log)
        } catch {
            log("hmmkit: \(error)")
            Stdout.line("TAP version 13")
            Stdout.line("Bail out! could not load test_hmm: \(error)")
            throw ExitStatus.fail
        }
    }
}
