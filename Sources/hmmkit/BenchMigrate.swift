import ArgumentParser
import Foundation
import HMMKernel
import HMMSuite
import HMMUAPI
import KTAP

extension BenchCommand {
    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(
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
            let facts = SystemFacts.gather()
            let devices = DeviceMemoryType.allCases.compactMap { type in
                type.minors.first { facts.devices.contains($0) }.map { (type, $0) }
            }
            let cases = devices.count * backing.count * sizes.count * 2
            var writer = KTAPWriter(style: .kselftest, includeDurations: true) { Stdout.line($0) }
            writer.start(plan: max(cases, 1), testCases: 1)
            if devices.isEmpty {
                writer.begin("bench.migrate")
                writer.end(KTAPTestCase(name: "bench.migrate", status: .skip, reason: "no /dev/hmm_dmirror* (load test_hmm)",
                                        duration: nil))
            }
            for (device, minor) in devices {
                for kind in backing {
                    for size in sizes {
                        log("bench migrate: \(device.rawValue) \(kind.rawValue) \(size) MiB, \(rounds) rounds")
                        for figure in MigrationBenchmark.measure(device: device, minor: minor, generation: facts.generation,
                                                                 backing: kind, mebibytes: size, rounds: rounds, warmup: warmup) {
                            report(figure, writer: &writer)
                        }
                    }
                }
            }
            if writer.finish() != .pass && !devices.isEmpty { throw ExitStatus.fail }
        }

        func report(_ figure: MigrationBenchmark.Figure, writer: inout KTAPWriter) {
            let name = figure.benchmarkCase.name
            writer.begin(name)
            if let note = figure.note { writer.diagnostic(note) }
            if let failure = figure.failure {
                writer.diagnostic(failure)
                writer.end(KTAPTestCase(name: name, status: .fail, reason: nil, duration: nil))
                return
            }
            guard let seconds = figure.medianSeconds, let rate = figure.gibibytesPerSecond,
                  let fraction = figure.fractionOfMemcpy else {
                writer.end(KTAPTestCase(name: name, status: .skip, reason: "no round ran", duration: nil))
                return
            }
            writer.diagnostic(String(format: "%.3f GiB/s, %.2f of memcpy's speed (median of %d rounds: %@ ms)",
                                     rate, fraction, figure.seconds.count,
                                     figure.seconds.map { String(format: "%.2f", $0 * 1000) }.joined(separator: " ")))
            writer.end(KTAPTestCase(name: name, status: .pass, reason: nil, duration: .microseconds(Int(seconds * 1_000_000))))
        }
    }
}
