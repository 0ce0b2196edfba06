import ArgumentParser
import HMMCommands
import HMMGuest
import HMMSystem
import KTAP

/// hmmkit as a test VM's payload runs it: PID 1 (``GuestInit``) and the commands that run the
/// suite on the booted kernel. It links no Foundation, only FoundationEssentials, so the
/// payload carries no ICU data; host commands (vm, series, fuzz, lava, report...) are the
/// hmmkit executable's alone and are refused here, with where they run.
@main
struct HMMKitGuest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hmmkit",
        abstract: "hmmkit in a test VM: run the suite on this kernel against the reference model.",
        discussion: """
        The guest side of hmmkit (the payload's /init and /bin/hmmkit). Exit codes follow kselftest: 0 all \
        passed, 1 a failure, 4 everything skipped; 2 is a usage error.
        """,
        version: HMMKitVersion.current,
        subcommands: GuestCommands.all)

    static func main() {
        // The kernel starts the payload's /init (this executable) as PID 1 with no arguments.
        if GuestInit.isRequested { GuestInit.run() }
        if let command = CommandLine.arguments.dropFirst().first, !command.hasPrefix("-"), !commandNames.contains(command) {
            // ArgumentParser alone would say only "unexpected arguments".
            StandardStream.error.write("hmmkit: '\(command)' is not a command of the guest's hmmkit (hmmkit-guest), which runs the "
                                       + "suite on this kernel (\(commandNames.sorted().joined(separator: ", "))); the host's "
                                       + "commands (vm, series, fuzz, report, ...) run on the host, with hmmkit\n")
            exit(withError: ExitStatus.usage)
        }
        CommandMain.run(root: self)
    }

    /// The first words this tree takes (ArgumentParser adds `help`).
    static let commandNames = Set(GuestCommands.all.map { $0._commandName } + ["help"])
}
