import ArgumentParser
import Foundation
import HMMKernel
import HMMSuite
import HMMSystem
import HMMVM
import KTAP

extension BenchCommand {
    /// hmmkit's kselftest-equivalent cases against the kernel's own hmm-tests on the same
    /// machine, in alternating rounds (the machines are noisy: only the ratio means much).
    struct Suite: ParsableCommand {
        static let configuration = CommandConfiguration(
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
        @Option(name: .customLong("select"), parsing: .singleValue,
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

        struct Side {
            var name: String
            var argv: [String]
            var seconds: [Double] = []
            var lastTotals: String = "?"
            var failedRounds = 0
        }

        func run() throws {
            let loaded = try module.load()
            defer { loaded?.unload() }
            var sides = [Side(name: "hmm-tests", argv: [hmmTests!] + select),
                         Side(name: "hmmkit", argv: [Repository.executable, "run"] + select)]
            for _ in 0..<warmup {
                for side in sides { _ = try Self.time(side.argv) }
            }
            for round in 0..<rounds {
                // Alternate which side goes first so drift in machine load is shared.
                for i in (round % 2 == 0 ? [0, 1] : [1, 0]) {
                    let (seconds, totals, ok) = try Self.time(sides[i].argv)
                    sides[i].seconds.append(seconds)
                    sides[i].lastTotals = totals
                    if !ok { sides[i].failedRounds += 1 }
                    log("bench suite: round \(round + 1) \(sides[i].name): \(String(format: "%.2f", seconds)) s (\(totals))")
                }
            }
            var writer = KTAPWriter(style: .kselftest) { Stdout.line($0) }
            writer.start(plan: sides.count, testCases: 1)
            for side in sides {
                writer.begin("bench.suite.\(side.name)")
                writer.diagnostic("\(side.name): rounds " + side.seconds.map { String(format: "%.2f", $0) }.joined(separator: " ")
                                  + String(format: " s, median %.2f s; last run %@", Self.median(side.seconds), side.lastTotals))
                writer.end(KTAPTestCase(name: "bench.suite.\(side.name)", status: side.failedRounds == 0 ? .pass : .fail,
                                        reason: nil, duration: nil))
            }
            let ratio = Self.median(sides[1].seconds) / Self.median(sides[0].seconds)
            writer.diagnostic(String(format: "ratio hmmkit / hmm-tests (median wall time, same cases, same machine): "
                                         + "%.2f (target <= 1.5: %@)",
                                     ratio, ratio <= 1.5 ? "met" : "NOT met"))
            if perTest { try timeEachTest(writer: &writer) }
            let code = writer.finish()
            if code != .pass { throw ExitStatus.fail }
        }

        /// One line per test name: each side's median over the rounds with `-t NAME` (process
        /// start-up included on both sides, so open_close shows the fixed cost per run).
        func timeEachTest(writer: inout KTAPWriter) throws {
            var names: [String] = []
            for planned in Registry.all(includeVMChecks: false) where !names.contains(planned.test.id.name) {
                names.append(planned.test.id.name)
            }
            for name in names {
                var c: [Double] = []
                var swift: [Double] = []
                for _ in 0..<rounds {
                    c.append(try Self.time([hmmTests!, "-t", name]).0)
                    swift.append(try Self.time([Repository.executable, "run", "-t", name]).0)
                }
                writer.diagnostic(String(format: "per-test %@: hmm-tests %.3f s, hmmkit %.3f s, ratio %.2f",
                                         name, Self.median(c), Self.median(swift), Self.median(swift) / Self.median(c)))
            }
        }

        static func median(_ values: [Double]) -> Double { HMMSuite.median(values) ?? .nan }

        /// Runs a suite to completion; returns wall seconds, its Totals line and whether it passed.
        static func time(_ argv: [String]) throws -> (Double, String, Bool) {
            let start = monotonicSeconds()
            let run = try runProgram(argv, input: .inherited, error: .discarded)
            let (termination, text) = (run.termination, run.output)
            let seconds = monotonicSeconds() - start
            let totals = text.split(separator: "\n").last { $0.hasPrefix("# Totals:") }.map { String($0.dropFirst(2)) } ?? "no Totals line"
            return (seconds, totals, termination == .exited(0))
        }
    }
}
