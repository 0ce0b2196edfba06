import ArgumentParser
import HMMFixtures
import HMMSuite
import HMMSystem

/// `hmmkit bench`: benchmarks that print figures (the model's speed, the suite beside hm-tests, migration).
public struct BenchCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "bench", abstract: "Benchmarks that print figures.",
                                                    subcommands: [Model.self, Suite.self, Migrate.self])

    public init() {}

    struct Model: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "model", 
            abstract: "Model steps per second, memory for a 262,144-page space, time to generate and check sequences.")
        @Option(help: "Sequences to generate and check.")
        var sequences = 10_000
        @Option(help: "Operations per sequence.")
        var length = 50

        func run() throws {
            let f = ModelBenchmark.run(sequences: sequences, length: length)
            print("model steps per second: \(f.stepsPerSecond.fixed(0)) (target > 1,000,000: "
                  + "\(f.stepsPerSecond > 1_000_000 ? "met" : "NOT met"))")
            print("model memory for 262,144 pages: \((Double(f.bytesFor262144Pages) / 1_048_576).fixed(1)) MiB "
                  + "(target < 64 MiB: \(f.bytesFor262144Pages < 64 << 20 ? "met" : "NOT met"))")
            print("generate + model-check \(f.sequences) sequences of \(f.length) operations: \(f.generateAndCheckSeconds.fixed(2)) s")
        }
    }
}
