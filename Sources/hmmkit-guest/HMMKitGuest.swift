import ArgumentParser
import HMMCommands
import HMMGuest
import KTAP

/// hmmkit as a test VM's payload runs it: PID 1 (``GuestInit``) and the commands that run the
/// suite on the booted kernel. It links no Foundation, only FoundationEssentials, so the
/// payload carries no ICU data; host commands (vm, series, fuzz, lava, report...) are the
/// hmmkit executable's alone and are refused here as unknown.
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
        if let command = CommandLine.arguments.dropFirst().first, hostCommands.contains(command) {
            // ArgumentParser alone would say only "unexpected arguments".
            FileHandleStderr.write("hmmkit: '\(command)' runs on the host, with hmmkit; this is the guest's hmmkit "
                                   + "(hmmkit-guest), which runs the suite on this kernel: see 'hmmkit --help'\n")
            exit(withError: ExitStatus.usage)
        }
        CommandMain.run(root: self)
    }

    /// The host executable's commands this one leaves out.
    static let hostCommands: Set<String> = ["kernel", "vm", "payload", "gen", "fixture", "compare", "report", "series", "lava", "fuzz"]
}
