import ArgumentParser
import Foundation
import HMMVM
import Testing
import hmmkit
@testable import HMMCommands

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
        // A kselftest filter passed to both sides, as usage.md spells it: values that start with '-'.
        GuestCommand.hmmkit(["bench", "suite", "--select", "-t", "--select", "migrate_multiple"], peer: "/bin/true").command,
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

    /// Every command of the host's tree that the guest's lacks gets a message saying where it
    /// runs, and exit 2, from the built hmmkit-guest.
    @Test func theGuestExecutableSendsHostCommandsToTheHost() throws {
        let guest = Set(GuestCommands.all.map { $0._commandName })
        let hostOnly = HMMKit.configuration.subcommands.map { $0._commandName }.filter { !guest.contains($0) }
        #expect(hostOnly.count >= 8)
        for command in hostOnly {
            let (status, stderr) = try hmmkit([command], name: "hmmkit-guest")
            #expect(status == 2 && stderr.contains("'\(command)' is not a command of the guest's hmmkit")
                    && stderr.contains("run on the host"), "\(command): \(status) \(stderr)")
        }
    }

    @Test func benchSuitePassesDashedFilterValues() throws {
        let line = ["bench", "suite", "--hmm-tests", "/bin/true", "--select", "-t", "--select", "migrate_multiple"]
        let parsed = try #require(try HMMKit.parseAsRoot(line) as? BenchCommand.Suite)
        #expect(parsed.select == ["-t", "migrate_multiple"])
    }

    /// The rule scripts/lint cannot see whole (which targets hmmkit-guest links comes from
    /// Package.swift): the built executable loads no Foundation and no ICU.
    @Test func theGuestExecutableLinksNoFoundation() throws {
        let directory = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            .deletingLastPathComponent()
        let guest = directory.appendingPathComponent("hmmkit-guest").path
        try #require(FileManager.default.isExecutableFile(atPath: guest), "no hmmkit-guest beside the tests in \(directory.path)")
        let ldd = Process()
        ldd.executableURL = URL(fileURLWithPath: "/usr/bin/ldd")
        ldd.arguments = [guest]
        let output = Pipe()
        ldd.standardOutput = output
        try ldd.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        ldd.waitUntilExit()
        #expect(text.contains("libFoundationEssentials"), "a debug build links Swift's libraries dynamically: \(text)")
        for library in ["libFoundation.so", "libFoundationInternationalization", "lib_FoundationICU"] {
            #expect(!text.contains(library), "hmmkit-guest loads \(library)")
        }
    }
}
