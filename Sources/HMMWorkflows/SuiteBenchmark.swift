import FoundationEssentials
import HMMKernel
import HMMSuite
import HMMSystem
import KTAP

/// `bench suite`: hmmkit's kselftest-equivalent cases against the kernel's own hmm-tests on
/// the same machine, in alternating rounds (the machines are noisy: only the ratio means much).
public struct SuiteBenchmark {
    /// The kernel's hmm-tests binary.
    public var hmmTests: String
    /// This hmmkit executable.
    public var hmmkit: String
    /// Alternating rounds per side.
    public var rounds: Int
    /// Untimed runs per side first (the first run of either side was always the slowest).
    public var warmup: Int
    /// kselftest filter arguments passed to both sides, in order.
    public var select: [String]
    /// Also time each kselftest test name on its own, to show where the gap is.
    public var perTest: Bool

    public init(hmmTests: String, hmmkit: String, rounds: Int, warmup: Int, select: [String], perTest: Bool) {
        self.hmmTests = hmmTests
        self.hmmkit = hmmkit
        self.rounds = rounds
        self.warmup = warmup
        self.select = select
        self.perTest = perTest
    }

    struct Side {
        var name: String
        var argv: [String]
        var seconds: [Double] = []
        /// CPU time of each round, user and kernel: where a difference between the sides is.
        var cpu: [CPUSeconds] = []
        var lastTotals: KTAPTotals?
        var failedRounds = 0

        var lastTotalsText: String { lastTotals?.description ?? "no Totals line" }
    }

    /// Times both sides, writes KTAP to `output` (one result per side, the figures as
    /// diagnostics) and returns its exit code.
    public func run(output: @escaping (String) -> Void, log: (String) -> Void) throws(SystemError) -> KSFTExitCode {
        // hmmkit as `run` runs by default (`--jobs auto`), and one test at a time: the
        // second shows what running tests side by side is worth.
        var sides = [Side(name: "hmm-tests", argv: [hmmTests] + select),
                     Side(name: "hmmkit", argv: [hmmkit, "run"] + select),
                     Side(name: "hmmkit-jobs-1", argv: [hmmkit, "run", "--jobs", "1"] + select)]
        for _ in 0..<warmup {
            for side in sides { _ = try Self.time(side.argv) }
        }
        for round in 0..<rounds {
            // Rotate which side goes first so drift in machine load is shared.
            for i in sides.indices.map({ ($0 + round) % sides.count }) {
                let (seconds, cpu, totals, ok) = try Self.time(sides[i].argv)
                sides[i].seconds.append(seconds)
                sides[i].cpu.append(cpu)
                sides[i].lastTotals = totals
                if !ok { sides[i].failedRounds += 1 }
                log("bench suite: round \(round + 1) \(sides[i].name): \(seconds.fixed(2)) s (\(sides[i].lastTotalsText))")
            }
        }
        var writer = KTAPWriter(style: .kselftest, sink: output)
        writer.start(plan: sides.count + 1, testCases: 1)
        for side in sides {
            writer.begin("bench.suite.\(side.name)")
            let rounds = side.seconds.map { $0.fixed(2) }.joined(separator: " ")
            let median = Self.median(side.seconds).fixed(2)
            writer.diagnostic("\(side.name): rounds \(rounds) s, median \(median) s; last run \(side.lastTotalsText)")
            writer.diagnostic("\(side.name): CPU per round (median): user \(Self.median(side.cpu.map(\.user)).fixed(2)) s, "
                              + "kernel \(Self.median(side.cpu.map(\.system)).fixed(2)) s")
            writer.end(KTAPTestCase(name: "bench.suite.\(side.name)", status: side.failedRounds == 0 ? .pass : .fail,
                                    reason: nil, duration: nil))
        }
        // A ratio of two different workloads means nothing: the 6.1 harness, for one, ignores
        // -t and runs every test while hmmkit runs the selected ones.
        let mismatch = Self.caseMismatch(hmmTests: sides[0].lastTotals, hmmkit: sides[1].lastTotals)
            ?? Self.caseMismatch(hmmTests: sides[0].lastTotals, hmmkit: sides[2].lastTotals)
        writer.begin("bench.suite.same-cases")
        if let mismatch { writer.diagnostic(mismatch) }
        writer.end(KTAPTestCase(name: "bench.suite.same-cases", status: mismatch == nil ? .pass : .fail,
                                reason: mismatch == nil ? nil : "the two sides did not run the same number of tests", duration: nil))
        if mismatch == nil {
            let ratio = Self.median(sides[1].seconds) / Self.median(sides[0].seconds)
            let verdict = ratio <= Self.targetRatio ? "met" : "NOT met"
            writer.diagnostic("ratio hmmkit / hmm-tests (median wall time, same cases, same machine): "
                              + "\(ratio.fixed(2)) (target <= \(Self.targetRatio.fixed(1)): \(verdict))")
            writer.diagnostic(Self.cpuDifference(hmmTests: sides[0].cpu, hmmkit: sides[1].cpu))
            let serial = Self.median(sides[2].seconds) / Self.median(sides[0].seconds)
            writer.diagnostic("ratio hmmkit --jobs 1 / hm-tests (one test at a time, for comparison): \(serial.fixed(2))")
        } else {
            writer.diagnostic("no ratio: the two sides ran different cases")
        }
        if perTest { try timeEachTest(writer: &writer) }
        return writer.finish()
    }

    /// One line per test name: each side's median over the rounds with `-t NAME` (process
    /// start-up included on both sides, so open_close shows the fixed cost per run).
    func timeEachTest(writer: inout KTAPWriter) throws(SystemError) {
        var names: [String] = []
        for planned in Registry.all(includeVMChecks: false) where !names.contains(planned.test.id.name) {
            names.append(planned.test.id.name)
        }
        for name in names {
            var c: [Double] = []
            var swift: [Double] = []
            var mismatch: String?
            for _ in 0..<rounds {
                let kselftest = try Self.time([hmmTests, "-t", name])
                let hmmkitRun = try Self.time([hmmkit, "run", "-t", name])
                c.append(kselftest.seconds)
                swift.append(hmmkitRun.seconds)
                mismatch = mismatch ?? Self.caseMismatch(hmmTests: kselftest.totals, hmmkit: hmmkitRun.totals)
            }
            if let mismatch {
                writer.diagnostic("per-test \(name): no ratio: \(mismatch)")
                continue
            }
            let (cMedian, swiftMedian) = (Self.median(c), Self.median(swift))
            writer.diagnostic("per-test \(name): hmm-tests \(cMedian.fixed(3)) s, hmmkit \(swiftMedian.fixed(3)) s, "
                              + "ratio \((swiftMedian / cMedian).fixed(2))")
        }
    }

    /// hmmkit, checking every step against the model, should cost no more than the C selftest.
    public static let targetRatio = 1.0

    static func median(_ values: [Double]) -> Double { HMMSuite.median(values) ?? .nan }

    /// Runs a suite to completion; returns wall seconds, its CPU time, its `# Totals:` counts
    /// and whether it passed.
    static func time(_ argv: [String]) throws(SystemError)
        -> (seconds: Double, cpu: CPUSeconds, totals: KTAPTotals?, passed: Bool) {
        let start = monotonicSeconds()
        let run = try runProgram(argv, input: .inherited, error: .discarded)
        let seconds = monotonicSeconds() - start
        return (seconds, run.cpu, KTAPParser.parse(run.output).reportedTotals, run.termination == .exited(0))
    }

    /// Where hmmkit's extra time goes, by the kernel's accounting: user space (hmmkit's own
    /// code: the model, its bookkeeping) against the kernel (the work both sides ask for).
    static func cpuDifference(hmmTests: [CPUSeconds], hmmkit: [CPUSeconds]) -> String {
        let user = median(hmmkit.map(\.user)) - median(hmmTests.map(\.user))
        let kernel = median(hmmkit.map(\.system)) - median(hmmTests.map(\.system))
        func signed(_ value: Double) -> String { (value >= 0 ? "+" : "") + value.fixed(2) }
        return "hmmkit - hm-tests (median CPU per round): user \(signed(user)) s, kernel \(signed(kernel)) s"
    }

    /// Why the two sides' last runs are not the same workload (different numbers of tests,
    /// or no `# Totals:` line to tell), or nil when they ran as many tests each.
    static func caseMismatch(hmmTests: KTAPTotals?, hmmkit: KTAPTotals?) -> String? {
        guard let hmmTests, let hmmkit else {
            return "a side printed no Totals line (hm-tests: \(hmmTests?.description ?? "none"); hmmkit: \(hmmkit?.description ?? "none"))"
        }
        if hmmTests.total == hmmkit.total { return nil }
        return "hm-tests ran \(hmmTests.total) tests, hmmkit \(hmmkit.total) (a harness that ignores -t, as 6.1's does, runs them all)"
    }
}
