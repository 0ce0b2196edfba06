import ArgumentParser
import HMMCommands
import HMMVM
import Testing

/// The guest's executable (`hmmkit-guest`) declares only ``GuestCommands``: every command
/// line a host boots into a payload must parse there, or the VM would run nothing.
@Suite struct GuestCommandTreeTests {
    /// The guest executable's tree, as `hmmkit-guest` declares it.
    struct GuestTree: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "hmmkit", subcommands: GuestCommands.all)
    }

    /// The command lines the host code builds for a payload's guest, without the executable.
    static let hostCommandLines: [[String]] = [
        GuestCommand.hmmkit([]).command,
        GuestCommand.hmmkit(["run", "-f", "replay", "--fixtures", "/", "--step-timeout", "20"]).command,
        GuestCommand.hmmkit(["replay", "/", "--no-shrink"]).command,
        GuestCommand.hmmkit(["bench", "suite", "--rounds", "5"], peer: "/bin/true").command,
        GuestCommand.hmmkit(["bench", "migrate", "--sizes", "1", "4"]).command,
        ["/h", "coverage", "collect", "--objects", "mm/hmm,lib/test_hmm", "--", "/h", "run", "--no-shrink"],
        (try? VMRun.guestCommand(kselftest: false, program: "/bin/true", guestArguments: [], artifacts: KernelArtifacts(directory: "/"),
                                 executable: "/h").command) ?? [],
        ["/h", "list", "-t", "migrate"],
    ]

    @Test(arguments: hostCommandLines)
    func parsesInTheGuestTree(_ line: [String]) throws {
        try #require(!line.isEmpty)
        // --load-module is refused outside a test VM (this machine): allowed for the parse only.
        let arguments = line.dropFirst().flatMap { ["--load-module", "run-program"].contains($0) ? [$0, "--allow-host-module-load"] : [$0] }
        _ = try GuestTree.parseAsRoot(arguments)
    }

    @Test func hostOnlyCommandsAreUnknownThere() {
        for command in ["vm", "series", "fuzz", "lava", "report", "compare", "kernel", "gen"] {
            #expect(throws: (any Error).self) { try GuestTree.parseAsRoot([command]) }
        }
    }
}
