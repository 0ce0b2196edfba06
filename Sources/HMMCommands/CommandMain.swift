import ArgumentParser
import HMMSystem

/// The commands a test VM's guest runs, in both executables' trees.
public enum GuestCommands {
    public static let all: [any ParsableCommand.Type] = [
        ListCommand.self, RunCommand.self, ModuleCommand.self, ReplayCommand.self, BenchCommand.self, GuestCoverageCommand.self,
    ]
}

/// `coverage` in the guest's tree: only its `collect` (the host's `coverage run` boots VMs).
public struct GuestCoverageCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "coverage", abstract: "Kernel line coverage: the guest's collector.",
        subcommands: [CoverageCollectCommand.self])

    public init() {}
}

/// Both executables' `main`: ArgumentParser's own, except that a usage error exits 2 (as
/// documented) instead of 64, and that `run` is parsed on its own first.
public enum CommandMain {
    public static func run(root: any ParsableCommand.Type) -> Never {
        do {
            var command = try fastRun() ?? root.parseAsRoot(nil)
            try command.run()
            root.exit()
        } catch {
            if let code = usageExitCode(for: error, root: root) {
                StandardStream.error.write(root.fullMessage(for: error) + "\n")
                root.exit(withError: code)
            }
            root.exit(withError: error)
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
    public static func usageExitCode(for error: any Error, root: any ParsableCommand.Type) -> ExitCode? {
        root.exitCode(for: error) == .validationFailure ? ExitStatus.usage : nil
    }
}
