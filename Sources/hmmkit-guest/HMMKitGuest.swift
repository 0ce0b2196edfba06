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
        CommandMain.run(root: self)
    }
}
