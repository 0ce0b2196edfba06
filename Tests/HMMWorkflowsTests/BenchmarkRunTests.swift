import HMMKernel
import HMMSuite
import HMMWorkflows
import Testing

@Suite struct BenchmarkRunTests {
    /// `bench migrate` on a machine without test_hmm: one skipped result, not a failure.
    @Test func migrateWithoutDevicesSkips() {
        var facts = SystemFacts.gather(generation: UAPIDetection(generation: .v6_1, reason: "test"))
        facts.devices = []
        var lines: [String] = []
        let passed = MigrationBenchmarkRun.run(backings: [.basePages], sizes: [1], rounds: 1, warmup: 0, facts: facts,
                                               output: { lines.append($0) }, log: { _ in })
        #expect(passed)
        #expect(lines.contains("ok 1 bench.migrate # SKIP no /dev/hmm_dmirror* (load test_hmm)"), "\(lines)")
    }

    /// `module run-program` reports a module it cannot load and does not run the program.
    @Test func aProgramWithoutItsModuleIsNotRun() {
        var logged: [String] = []
        var output: [String] = []
        let code = ModuleProgram.run(["/bin/false"], module: "hmmkit_no_such_module", parameters: [], modulesDirectory: "/nonexistent",
                                     environment: [], directory: "/", output: { output.append($0) }, log: { logged.append($0) })
        #expect(code == 1)
        #expect(output.isEmpty)
        #expect(logged.count == 1 && logged[0].hasPrefix("hmmkit: "), "\(logged)")
    }
}
