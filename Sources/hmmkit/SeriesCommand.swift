import ArgumentParser
import Foundation
import HMMCommands
import HMMReport
import HMMSeries
import HMMVM

/// `hmmkit series`: a patch series on a kernel tree, base against patched, in VMs.
public struct SeriesCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "series",
        abstract: "Test a patch series: build and run the base and the patched kernel (or every patch) and compare.",
        discussion: """
        The series is applied in a scratch git worktree of --tree under ~/.cache/hmmkit/series (your checkout \
        is never touched): --mbox with git am, one patch at a time, or --range A..B commit by commit. Each kernel \
        is built with scripts/kernel-build (kept per git tree, so nothing is built twice), booted with the suite \
        (and --fixtures) like 'hmmkit vm run', and compared with the base like 'hmmkit compare'. With --each every \
        patch is built and run, and each new failure is put down to the first patch after which it fails for good.

        Results go to --output: base.ktap, patch-01.ktap … (--each), patched.ktap, each also as .json, .kcidb.json \
        and .junit.xml; comparison.txt/.json and summary.txt. Progress goes to stderr, the summary to stdout. \
        --build-only stops after the builds and prints each kernel's artifact directory.

        Exit status: 0 no regression, 1 regression (a new failure or a passing test missing after the last patch) \
        or a patch that does not build, 2 the series could not be tested (usage, not a git tree, unknown revision, \
        a patch that does not apply, a base that does not build, a VM that could not run).
        """)

    @Option(help: "The kernel git tree.")
    var tree: String
    @Option(help: "The revision the series applies to (commit, tag, branch).")
    var base: String
    @Option(help: ArgumentHelp("The patches as one mbox (git format-patch output), applied with git am.", valueName: "file"))
    var mbox: String?
    @Option(help: ArgumentHelp("Commits of the tree to apply in order on top of the base.", valueName: "A..B"),
            transform: Parse.commitRange)
    var range: CommitRange?
    @Flag(help: "Build and run after every patch; name the patch that introduced each new failure.")
    var each = false
    @Option(parsing: .upToNextOption, help: ArgumentHelp("Fixture files or directories to replay besides the suite.", valueName: "path"))
    var fixtures: [String] = []
    @Option(help: "Directory for the results.")
    var output = "hmmkit-series"
    @OptionGroup var vm: VMBootOptions
    @Flag(help: "Let the guest shrink a divergent fixture (up to 90 s each) and save the reproducer.")
    var shrink = false
    @Flag(help: "Apply and build only (every patch with --each); print each kernel's artifact directory, boot nothing.")
    var buildOnly = false
    @Argument(parsing: .postTerminator, help: "More 'hmmkit run' arguments for the guest (filters, --timeout).")
    var runArguments: [String] = []

    public init() {}

    public func validate() throws {
        switch (mbox, range) {
        case (nil, nil): throw ValidationError("name the patches: --mbox FILE or --range A..B")
        case (.some, .some): throw ValidationError("--mbox and --range exclude each other")
        default: break
        }
        if let mbox, !FileManager.default.isReadableFile(atPath: mbox) {
            throw ValidationError("--mbox: cannot read '\(mbox)'")
        }
        if !SeriesPaths.isDirectory(tree) { throw ValidationError("--tree: '\(tree)' is not a directory") }
        for path in fixtures where !FileManager.default.fileExists(atPath: path) {
            throw ValidationError("--fixtures: '\(path)' does not exist")
        }
        if FileManager.default.fileExists(atPath: output) && !SeriesPaths.isDirectory(output) {
            throw ValidationError("--output: '\(output)' exists and is not a directory")
        }
        if let owned = runArguments.first(where: { ["--start-after", "--load-module", "--spm", "--fixtures"].contains($0) }) {
            throw ValidationError("'\(owned)' after -- is set by hmmkit series itself (use --fixtures before --)")
        }
    }

    /// The run's settings, with paths made absolute (the guest sees the host's root).
    public func configuration() -> SeriesConfiguration {
        let patches: SeriesConfiguration.Patches = mbox.map { .mbox(SeriesPaths.absolute($0)) } ?? .range(range!)
        var c = SeriesConfiguration(tree: SeriesPaths.absolute(tree), base: base, patches: patches, output: SeriesPaths.absolute(output))
        c.each = each
        c.fixtures = fixtures.map(SeriesPaths.absolute)
        c.accelerator = vm.accelerator
        c.stallTimeout = vm.stallTimeout
        c.instructionCountShift = vm.icount
        c.shrink = shrink
        c.runArguments = runArguments
        return c
    }

    public func run() throws {
        let started = Date()
        let runner = SeriesRunner(configuration: configuration()) { log("hmmkit series: \($0)") }
        let outcome: SeriesOutcome
        do {
            if buildOnly {
                for line in try runner.buildOnly() { Stdout.line(line) }
                log("hmmkit series: built in \(SeriesPaths.minutes(since: started))")
                return
            }
            outcome = try runner.run()
        } catch {
            log("hmmkit series: \(error.message)")
            Stdout.line(error.description)
            runner.recordStop(error)
            log("hmmkit series: stopped after \(SeriesPaths.minutes(since: started))")
            throw ExitCode(error.exitStatus)
        }
        FileHandle.standardOutput.write(Data(outcome.summary.utf8))
        log("hmmkit series: results in \(outcome.output); done in \(SeriesPaths.minutes(since: started))")
        if outcome.isRegression { throw ExitStatus.fail }
    }
}
