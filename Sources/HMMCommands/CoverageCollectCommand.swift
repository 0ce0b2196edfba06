import ArgumentParser
import FoundationEssentials
import HMMGuest

/// `hmmkit coverage collect`, the guest's side of a coverage run (``GuestCollector``).
public struct CoverageCollectCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "collect",
        abstract: "In a coverage VM: zero gcov's counters, run a command, save the objects' .gcda files for the host.",
        shouldDisplay: false)
    @Option(help: "The instrumented objects, comma-separated paths under the build directory without .o (mm/hmm,...).")
    var objects: String
    @Option(help: "Where to save the counters (default $HMMKIT_OUTPUT_DIR, else the guest's output directory).")
    var outputDirectory: String?
    @Argument(parsing: .postTerminator, help: "The workload's command, after --.")
    var command: [String] = []

    public init() {}

    public func validate() throws {
        guard let first = command.first, first.hasPrefix("/") else {
            throw ValidationError("give the workload as an absolute path and its arguments after --")
        }
        if objects.split(separator: ",").isEmpty { throw ValidationError("--objects names no object") }
    }

    public func run() throws {
        let directory = outputDirectory ?? ProcessInfo.processInfo.environment["HMMKIT_OUTPUT_DIR"] ?? GuestLayout.outputDirectory
        let code = GuestCollector.run(command: command, objects: objects.split(separator: ",").map(String.init),
                                      outputDirectory: directory, say: { log("hmmkit coverage: \($0)") })
        // The workload's own exit code, passed through (as module run-program does).
        throw ExitCode(code)
    }
}
