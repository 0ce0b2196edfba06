import ArgumentParser
import FoundationEssentials
import HMMSuite
import HMMWorkflows

extension BenchCommand {
    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "migrate", 
            abstract: "migrate_vma throughput to the device and back, per device type, page size and size, beside memcpy (run it in a VM).",
            discussion: """
            Prints KTAP: one result per case, bench.migrate.<device>.<4k|thp>.<N>MiB.<to-device|to-system>, whose
            duration is the median round and whose diagnostics give GiB/s and the fraction of memcpy's speed. Save it
            with 'report convert' and 'compare' two kernels' runs: a slowdown beyond noise shows there.
            Through a VM: hmmkit vm run -- bench migrate
            """)
        @Option(parsing: .upToNextOption, help: "Sizes in MiB (1 to 1024).")
        var sizes: [Int] = [1, 4, 16, 64, 256]
        @Option(help: "Rounds per case; the median counts.")
        var rounds = 5
        @Option(help: "Untimed rounds per case first (the first round was always the slowest).")
        var warmup = 1
        @Option(parsing: .upToNextOption, help: "Backings: 4k, thp.")
        var backing: [MigrationBenchmark.Backing] = [.basePages, .transparentHugePages]
        @OptionGroup var module: ModuleOptions

        func validate() throws {
            if !(1...100).contains(rounds) { throw ValidationError("--rounds must be 1 to 100") }
            if !(0...10).contains(warmup) { throw ValidationError("--warmup must be 0 to 10") }
            if sizes.isEmpty || sizes.contains(where: { !(1...1024).contains($0) }) {
                throw ValidationError("--sizes takes MiB from 1 to 1024")
            }
        }

        func run() throws {
            let loaded = try module.load()
            defer { loaded?.unload() }
            if !MigrationBenchmarkRun.run(backings: backing, sizes: sizes, rounds: rounds, warmup: warmup, facts: SystemFacts.gather(),
                                          output: Stdout.line, log: log) {
                throw ExitStatus.fail
            }
        }
    }
}
