import FoundationEssentials
import HMMSuite
import HMMSystem
import HMMUAPI
import KTAP

/// `bench migrate`: migrate_vma throughput per device type, backing and size, as KTAP.
public enum MigrationBenchmarkRun {
    /// Measures every case on the devices `facts` found and writes one KTAP result per case
    /// to `output`; returns false when a case failed (a machine without devices skips).
    public static func run(backings: [MigrationBenchmark.Backing], sizes: [Int], rounds: Int, warmup: Int, facts: SystemFacts,
                           output: @escaping (String) -> Void, log: (String) -> Void) -> Bool {
        let devices = DeviceMemoryType.allCases.compactMap { type in
            type.minors.first { facts.devices.contains($0) }.map { (type, $0) }
        }
        let cases = devices.count * backings.count * sizes.count * 2
        var writer = KTAPWriter(style: .kselftest, includeDurations: true, sink: output)
        writer.start(plan: max(cases, 1), testCases: 1)
        if devices.isEmpty {
            writer.begin("bench.migrate")
            writer.end(KTAPTestCase(name: "bench.migrate", status: .skip, reason: "no /dev/hmm_dmirror* (load test_hmm)",
                                    duration: nil))
        }
        for (device, minor) in devices {
            for kind in backings {
                for size in sizes {
                    log("bench migrate: \(device.rawValue) \(kind.rawValue) \(size) MiB, \(rounds) rounds")
                    for figure in MigrationBenchmark.measure(device: device, minor: minor, generation: facts.generation,
                                                             backing: kind, mebibytes: size, rounds: rounds, warmup: warmup) {
                        report(figure, writer: &writer)
                    }
                }
            }
        }
        return writer.finish() == .pass || devices.isEmpty
    }

    static func report(_ figure: MigrationBenchmark.Figure, writer: inout KTAPWriter) {
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
        let milliseconds = figure.seconds.map { ($0 * 1000).fixed(2) }.joined(separator: " ")
        writer.diagnostic("\(rate.fixed(3)) GiB/s, \(fraction.fixed(2)) of memcpy's speed "
                          + "(median of \(figure.seconds.count) rounds: \(milliseconds) ms)")
        writer.end(KTAPTestCase(name: name, status: .pass, reason: nil, duration: .microseconds(Int(seconds * 1_000_000))))
    }
}
