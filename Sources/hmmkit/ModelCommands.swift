import ArgumentParser
import Foundation
import HMMCommands
import HMMFixtures
import HMMKernel
import HMMModel
import HMMReport
import HMMSystem
import HMMWorkflows

struct GenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen", abstract: "Generate fixtures from seeds with the model's expectations.",
        discussion: "Writes one file per seed, named gen-<profile>-seed<N>.fixture, into --output.")
    @Option(help: "Kernel profile.")
    var profile = KernelProfile.linux6_12
    @Option(help: "Seeds, e.g. 1,2,3 or 1-20. (default: 1)", transform: Parse.seeds)
    var seeds = SeedList([1])
    @Option(help: "Operations per fixture.")
    var steps = 50
    @Option(help: "Directory to write into.")
    var output = "Fixtures/corpus"
    @Option(help: "Device minors the machine has (0,1 private; 2,3 coherent). (default: 0,1)", transform: Parse.devices)
    var devices = DeviceMinors([0, 1])
    @Option(help: "NUMA nodes with memory. (default: 0)", transform: Parse.nodes)
    var nodes = NodeNumbers([0])
    @Option(help: "THP mode the fixtures assume.")
    var thp = THPMode.never

    func validate() throws {
        if !(1...FixtureLimits.steps).contains(steps) { throw ValidationError("--steps takes 1...\(FixtureLimits.steps), got \(steps)") }
    }

    func run() throws {
        try FixtureFiles.generate(seeds: seeds.seeds, profile: profile,
                                  environment: Environment(devices: devices.minors, nodes: nodes.nodes, thp: thp), steps: steps,
                                  into: output) { print($0) }
    }
}

public struct FixtureCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "fixture", abstract: "Maintain fixture files with the model.",
        discussion: "Limits every fixture must stay within (else file:line: problem): \(FixtureLimits.summary).",
        subcommands: [Expect.self, Check.self, C.self])

    public init() {}

    struct Expect: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "expect", 
            abstract: "Recompute the steps' expectations and notes with the model and rewrite the files in place.",
            discussion: "Header lines, comments and blank lines are kept. Exits 1 if a file does not parse or a step's precondition fails.")
        @Argument(help: "Fixture files.")
        var files: [String]

        func run() throws {
            if !FixtureFiles.expect(files, print: { print($0) }) { throw ExitStatus.fail }
        }
    }

    struct C: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "c", 
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
            do { fixture = try Fixture.parse(try FixtureFiles.read(file), file: file) } catch {
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

    public struct Check: ParsableCommand {
        public static let configuration = CommandConfiguration(commandName: "check", 
            abstract: "Check that fixtures parse, meet the model's preconditions and carry its current expectations.",
            discussion: "Prints file:line: problem for each difference and exits 1 if there is any.")
        @Flag(help: "Also report steps the model flags as HAZARD (predicted kernel crash or use-after-free read).")
        public var forbidHazards = false
        @Argument(help: "Fixture files.")
        public var files: [String]

        public init() {}

        public func run() throws {
            if !FixtureFiles.check(files, forbidHazards: forbidHazards, print: { print($0) }) { throw ExitStatus.fail }
        }
    }
}
