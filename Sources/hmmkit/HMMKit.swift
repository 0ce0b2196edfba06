import ArgumentParser
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

    /// ArgumentParser's own `main`, except that a usage error exits 2 (as documented) instead of 64.
    public static func main() {
        // The kernel starts the payload's /init (this executable) as PID 1 with no arguments.
        if GuestInit.isRequested { GuestInit.run() }
        do {
            var command = try fastRun() ?? parseAsRoot()
            try command.run()
        } catch {
            if let code = usageExitCode(for: error) {
                FileHandleStderr.write(fullMessage(for: error) + "\n")
                exit(withError: code)
            }
            exit(withError: error)
        }
    }

    /// `hmmkit run ...` parsed as `run`'s own command line, or nil to parse the whole tree.
    /// Building the tree (every subcommand's name and options, by reflection) was half of
    /// the start-up under TCG, paid once per run and once per test name in `bench suite
    /// --per-test`. Anything `run` alone does not accept (help, a usage error) goes through
    /// the tree, so messages and exit codes stay the tree's.
    static func fastRun() -> (any ParsableCommand)? {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2, arguments[1] == "run" else { return nil }
        return try? RunCommand.parseAsRoot(Array(arguments.dropFirst(2)))
    }

    /// 2 for a usage error (bad or missing arguments), nil for any other outcome.
    public static func usageExitCode(for error: any Error) -> ExitCode? {
        exitCode(for: error) == .validationFailure ? ExitStatus.usage : nil
    }
}

/// The exit codes of every command: kselftest's for a run (`KSFT_PASS` 0, `KSFT_FAIL` 1,
/// `KSFT_SKIP` 4), and 2 for a usage error or input that cannot be read. `compare` and
/// `series` use `fail` for a regression.
enum ExitStatus {
    static let pass = ExitCode(KSFTExitCode.pass.rawValue)
    static let fail = ExitCode(KSFTExitCode.fail.rawValue)
    static let usage = ExitCode(2)
    static let skip = ExitCode(KSFTExitCode.skip.rawValue)

    /// Ends a command with a run's exit code: returns for a pass, throws 4 for a skipped
    /// run and 1 for anything else.
    static func end(with code: KSFTExitCode) throws {
        switch code {
        case .pass: return
        case .skip: throw skip
        default: throw fail
        }
    }
}

/// Prints to standard error (progress and logs never go to stdout, which carries KTAP).
func log(_ text: String) {
    var line = text
    if !line.hasSuffix("\n") { line += "\n" }
    FileHandleStderr.write(line)
}
