import ArgumentParser
import HMMCommands
import HMMGuest
import KTAP

/// The command tree; each subcommand declares its options and calls into a library target.
/// Public (with the few commands `CLITests` inspects) so the tests parse command lines
/// through `HMMKit.parseAsRoot` without `@testable`.
@main
public struct HMMKit: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "hmmkit",
        abstract: "Test Linux HMM (test_hmm) against a reference model; run it in kernel CI VMs.",
        discussion: """
        Exit codes follow kselftest: 0 all passed, 1 a failure, 4 everything skipped; 2 is a usage error.
        KTAP goes to standard output; progress and logs go to standard error.
        --version prints the version; with \(HMMKitVersion.commitVariable) set it ends in +<that commit>.
        """,
        version: HMMKitVersion.current,
        subcommands: [ListCommand.self, RunCommand.self, ModuleCommand.self, KernelCommand.self, VMCommand.self, PayloadCommand.self,
                      GenCommand.self, FixtureCommand.self, ReplayCommand.self, BenchCommand.self, CompareCommand.self, ReportCommand.self,
                      SeriesCommand.self, LavaCommand.self, FuzzCommand.self, CoverageCommand.self]
    )

    public init() {}

    /// ArgumentParser's own `main`, except that a usage error exits 2 (see ``CommandMain``).
    public static func main() {
        // The kernel starts the payload's /init (this executable) as PID 1 with no arguments.
        if GuestInit.isRequested { GuestInit.run() }
        CommandMain.run(root: self)
    }

    /// 2 for a usage error (bad or missing arguments), nil for any other outcome.
    public static func usageExitCode(for error: any Error) -> ExitCode? {
        CommandMain.usageExitCode(for: error, root: self)
    }
}
