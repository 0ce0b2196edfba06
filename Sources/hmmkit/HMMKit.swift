import ArgumentParser
import HMMGuest
import KTAP

/// The command tree; each subcommand is thin and calls into a library target.
@main
struct HMMKit: ParsableCommand {
    static let configuration = CommandConfiguration(
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

    /// ArgumentParser's own `main`, except that a usage error exits 2 (as documented) instead of 64.
    static func main() {
        // The kernel starts the payload's /init (this executable) as PID 1 with no arguments.
        if GuestInit.isRequested { GuestInit.run() }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if let code = usageExitCode(for: error) {
                FileHandleStderr.write(fullMessage(for: error) + "\n")
                exit(withError: code)
            }
            exit(withError: error)
        }
    }

    /// 2 for a usage error (bad or missing arguments), nil for any other outcome.
    static func usageExitCode(for error: any Error) -> ExitCode? {
        exitCode(for: error) == .validationFailure ? ExitCode(2) : nil
    }
}

/// kselftest's exit codes, shared by every command that runs tests.
enum ExitStatus {
    static let pass = ExitCode(0)
    static let fail = ExitCode(1)
    static let skip = ExitCode(4)
}

/// Prints to standard error (progress and logs never go to stdout, which carries KTAP).
func log(_ text: String) {
    var line = text
    if !line.hasSuffix("\n") { line += "\n" }
    FileHandleStderr.write(line)
}
