import ArgumentParser
import Foundation
import HMMFixtures
import HMMKernel
import HMMModel
import HMMReport
import HMMSystem

struct GenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen", abstract: "Generate fixtures from seeds with the model's expectations.",
        discussion: "Writes one file per seed, named gen-<profile>-seed<N>.fixture, into --output.")
    @Option(help: "Kernel profile: \(KernelProfile.all.map(\.name).joined(separator: ", ")).")
    var profile = "linux-6.12"
    @Option(help: "Seeds, e.g. 1,2,3 or 1-20.")
    var seeds = "1"
    @Option(help: "Operations per fixture.")
    var steps = 50
    @Option(help: "Directory to write into.")
    var output = "Fixtures/corpus"
    @Option(help: "Device minors the machine has (0,1 private; 2,3 coherent).")
    var devices = "0,1"
    @Option(help: "NUMA nodes with memory.")
    var nodes = "0"
    @Option(help: "THP mode the fixtures assume: never, madvise, always.")
    var thp = "never"

    static func numbers(_ text: String, _ option: String) throws -> [Int] {
        let values = text.split(separator: ",").map { Int($0) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil && $0! >= 0 }) else {
            throw ValidationError("--\(option): '\(text)' is not a comma-separated list of numbers")
        }
        return values.map { $0! }
    }

    func environment() throws -> Environment {
        try Self.environment(devices: devices, nodes: nodes, thp: thp)
    }

    /// The machine generated programs assume, from `--devices`, `--nodes` and `--thp` (gen's
    /// and fuzz's): within the fixture parser's limits, so what is written reads back.
    static func environment(devices: String, nodes: String, thp: String) throws -> Environment {
        guard let mode = THPMode(rawValue: thp) else { throw ValidationError("--thp must be never, madvise or always, got '\(thp)'") }
        let d = try Self.numbers(devices, "devices")
        guard d.allSatisfy({ $0 <= FixtureLimits.largestDevice }) else {
            throw ValidationError("--devices: minors are 0...\(FixtureLimits.largestDevice)")
        }
        let n = try Self.numbers(nodes, "nodes")
        // The fixtures must read back: the same limits as the fixture parser's.
        guard n.allSatisfy({ $0 <= FixtureLimits.largestNode }), Set(n).count == n.count else {
            throw ValidationError("--nodes: distinct node numbers 0...\(FixtureLimits.largestNode), got '\(nodes)'")
        }
        return Environment(devices: d, nodes: n, thp: mode)
    }

    /// Seeds one run may generate: each is a file written.
    static let mostSeeds = 1_000_000

    func parsedSeeds() throws -> [UInt64] {
        var out: [UInt64] = []
        for part in seeds.split(separator: ",") {
            let bounds = part.split(separator: "-").map { UInt64($0) }
            switch bounds.count {
            case 1 where bounds[0] != nil: out.append(bounds[0]!)
            case 2 where bounds[0] != nil && bounds[1] != nil && bounds[0]! <= bounds[1]!:
                let (low, high) = (bounds[0]!, bounds[1]!)
                guard high - low < UInt64(Self.mostSeeds - out.count) else {
                    throw ValidationError("--seeds: '\(part)' is more than \(Self.mostSeeds) seeds in all")
                }
                out += Array(low...high)
            default: throw ValidationError("--seeds: '\(part)' is not a number or a range A-B")
            }
            if out.count > Self.mostSeeds { throw ValidationError("--seeds: more than \(Self.mostSeeds) seeds") }
        }
        return out
    }

    func validate() throws {
        if KernelProfile.named(profile) == nil {
            throw ValidationError("unknown profile '\(profile)'; known: \(KernelProfile.all.map(\.name).joined(separator: ", "))")
        }
        if !(1...FixtureLimits.steps).contains(steps) { throw ValidationError("--steps takes 1...\(FixtureLimits.steps), got \(steps)") }
        _ = try parsedSeeds()
        _ = try environment()
    }

    func run() throws {
        let p = KernelProfile.named(profile)!
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        for seed in try parsedSeeds() {
            var generator = FixtureGenerator(seed: seed, profile: p, environment: try environment())
            let fixture = generator.generate(steps: steps)
            let path = "\(output)/gen-\(p.name)-seed\(seed).fixture"
            try AtomicFile.write(fixture.text, to: path)
            print(path)
        }
    }
}

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Benchmarks that print figures.",
                                                    subcommands: [Model.self, Suite.self, Migrate.self])

    struct Model: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Model steps per second, memory for a 262,144-page space, time to generate and check sequences.")
        @Option(help: "Sequences to generate and check.")
        var sequences = 10_000
        @Option(help: "Operations per sequence.")
        var length = 50

        func run() throws {
            let f = ModelBenchmark.run(sequences: sequences, length: length)
            print(String(format: "model steps per second: %.0f (target > 1,000,000: %@)", f.stepsPerSecond,
                         f.stepsPerSecond > 1_000_000 ? "met" : "NOT met"))
            print(String(format: "model memory for 262,144 pages: %.1f MiB (target < 64 MiB: %@)",
                         Double(f.bytesFor262144Pages) / 1_048_576, f.bytesFor262144Pages < 64 << 20 ? "met" : "NOT met"))
            print(String(format: "generate + model-check %d sequences of %d operations: %.2f s", f.sequences, f.length,
                         f.generateAndCheckSeconds))
        }
    }
}

struct FixtureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fixture", abstract: "Maintain fixture files with the model.",
        discussion: "Limits every fixture must stay within (else file:line: problem): \(FixtureLimits.summary).",
        subcommands: [Expect.self, Check.self, C.self])

    static func read(_ path: String) throws -> String {
        // At most one byte over the limit, so a huge file is refused by the parser, not read whole.
        do { return try readTextFile(path, limit: FixtureLimits.fileBytes) } catch {
            throw ValidationError("\(path):1: cannot read: \(error)")
        }
    }

    struct Expect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the steps' expectations and notes with the model and rewrite the files in place.",
            discussion: "Header lines, comments and blank lines are kept. Exits 1 if a file does not parse or a step's precondition fails.")
        @Argument(help: "Fixture files.")
        var files: [String]

        func run() throws {
            var failed = false
            for path in files {
                do {
                    let text = try FixtureCommand.read(path)
                    let updated = try FixtureMaintenance.withExpectations(text, file: path)
                    if updated != text {
                        try AtomicFile.write(updated, to: path)
                        print("\(path): updated")
                    } else {
                        print("\(path): unchanged")
                    }
                    for p in FixtureMaintenance.problems(in: updated, file: path) {
                        print(p)
                        failed = true
                    }
                } catch {
                    print(error)
                    failed = true
                }
            }
            if failed { throw ExitStatus.fail }
        }
    }

    struct C: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the kselftest C test that performs a fixture's steps and checks the model's primary expectations.",
            discussion: """
            Builds against the kernel tree's tools/testing/selftests (kselftest_harness.h) and
            lib/test_hmm_uapi.h, like hmm-tests.c; 'hmmkit vm run --program' runs it in a VM.
            """)
        @Option(help: "Name of the test in the C file (letters, digits, _).")
        var name = "fixture"
        @Option(help: "Where to write the C file (default: stdout).")
        var output: String?
        @Argument(help: "Fixture file.")
        var file: String

        func run() throws {
            let fixture: Fixture
            do { fixture = try Fixture.parse(try FixtureCommand.read(file), file: file) } catch {
                print(HMMKit.message(for: error))
                throw ExitStatus.fail
            }
            let text = CSelftestEmitter(testName: name).emit(fixture)
            if let output {
                try AtomicFile.write(text, to: output)
            } else {
                print(text, terminator: "")
            }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that fixtures parse, meet the model's preconditions and carry its current expectations.",
            discussion: "Prints file:line: problem for each difference and exits 1 if there is any.")
        @Flag(help: "Also report steps the model flags as HAZARD (predicted kernel crash or use-after-free read).")
        var forbidHazards = false
        @Argument(help: "Fixture files.")
        var files: [String]

        func run() throws {
            var failed = false
            for path in files {
                // An unreadable file is one problem among the others, not the end of the check.
                let problems: [String]
                do {
                    problems = FixtureMaintenance.problems(in: try FixtureCommand.read(path), file: path,
                                                           allowHazards: !forbidHazards).map { "\($0)" }
                } catch {
                    problems = [HMMKit.message(for: error)]
                }
                for p in problems { print(p) }
                failed = failed || !problems.isEmpty
            }
            if failed { throw ExitStatus.fail }
        }
    }
}
