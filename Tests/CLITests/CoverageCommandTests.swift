import ArgumentParser
import HMMCommands
import Testing
@testable import hmmkit

@Suite struct CoverageCommandTests {
    @Test func defaultsToSuiteAndHmTestsAndAddsTheCorpusWhenGiven() throws {
        let plain = try #require(try HMMKit.parseAsRoot(["coverage"]) as? CoverageCommand.Run)
        #expect(plain.plannedWorkloads() == [.suite, .hmTests])
        let withCorpus = try #require(try HMMKit.parseAsRoot(["coverage", "--corpus", "/"]) as? CoverageCommand.Run)
        #expect(withCorpus.plannedWorkloads() == [.suite, .hmTests, .corpus])
        let only = try #require(try HMMKit.parseAsRoot(["coverage", "--workload", "hm-tests"]) as? CoverageCommand.Run)
        #expect(only.plannedWorkloads() == [.hmTests])
    }

    @Test func usageErrors() {
        #expect(throws: (any Error).self) { try HMMKit.parseAsRoot(["coverage", "--workload", "corpus"]) }
        #expect(throws: (any Error).self) { try HMMKit.parseAsRoot(["coverage", "--corpus", "/no/such/corpus"]) }
        #expect(throws: (any Error).self) { try HMMKit.parseAsRoot(["coverage", "--workload", "kcov"]) }
        #expect(throws: (any Error).self) { try HMMKit.parseAsRoot(["coverage", "collect", "--objects", "mm/hmm", "--", "run"]) }
    }
}
