import ArgumentParser
import FoundationEssentials
import HMMSuite
import HMMSystem
import HMMWorkflows

extension BenchCommand {
    /// hmmkit's kselftest-equivalent cases against the kernel's own hmm-tests (``SuiteBenchmark``).
    struct Suite: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "suite", 
            abstract: "Wall time of hmmkit's 58 kselftest-equivalent tests beside hmm-tests', as a ratio (run it in a VM).",
            discussion: "Prints KTAP: one result per side (ok when its suite passed) and the figures as diagnostics. "
                + "Through a VM: hmmkit vm run -- bench suite")
        @Option(help: "The kernel's hmm-tests binary (the VM passes the one built from the kernel's tree).")
        var hmmTests: String?
        @Option(help: "Alternating rounds per side.")
        var rounds = 3
        @Option(help: """
            Untimed runs per side first (binaries and libraries into the page cache over 9p: \
            the first run of either side was always the slowest).
            """)
        var warmup = 1
        @Option(name: .customLong("select"), parsing: .unconditionalSingleValue,
                help: """
                    A kselftest filter argument passed to both sides, e.g. --select -t --select migrate_multiple \
                    (repeatable; order kept).
                    """)
        var select: [String] = []
        @Flag(help: "Also time each kselftest test name on its own (-t NAME, both variants), to show where the gap is.")
        var perTest = false
        @OptionGroup var module: ModuleOptions

        func validate() throws {
            if rounds < 1 { throw ValidationError("--rounds must be at least 1") }
            if warmup < 0 { throw ValidationError("--warmup must not be negative") }
            guard let hmmTests else { throw ValidationError("--hmm-tests PATH is required (hmmkit vm run passes it)") }
            if !FileManager.default.isExecutableFile(atPath: hmmTests) {
                throw ValidationError("--hmm-tests: '\(hmmTests)' is not an executable file")
            }
        }

        func run() throws {
            let loaded = try module.load()
            defer { loaded?.unload() }
            let benchmark = SuiteBenchmark(hmmTests: hmmTests!, hmmkit: currentExecutablePath, rounds: rounds, warmup: warmup,
                                           select: select, perTest: perTest)
            if try benchmark.run(output: Stdout.line, log: log) != .pass { throw ExitStatus.fail }
        }
    }
}
