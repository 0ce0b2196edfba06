import KTAP
import Testing
@testable import HMMWorkflows

/// `bench suite` gives a ratio only for two runs of the same cases.
@Suite struct SuiteBenchmarkTests {
    @Test func sameNumberOfTestsIsComparable() {
        #expect(SuiteBenchmark.caseMismatch(hmmTests: KTAPTotals(pass: 57, skip: 1), hmmkit: KTAPTotals(pass: 58)) == nil)
    }

    /// 6.1's harness ignores -t: 58 tests against hmmkit's 2 gave a "ratio" of 0.36.
    @Test func aHarnessThatRanEverythingIsNot() throws {
        let reason = try #require(SuiteBenchmark.caseMismatch(hmmTests: KTAPTotals(pass: 58), hmmkit: KTAPTotals(pass: 2)))
        #expect(reason.contains("hm-tests ran 58 tests, hmmkit 2"))
    }

    @Test func aMissingTotalsLineIsNot() {
        #expect(SuiteBenchmark.caseMismatch(hmmTests: nil, hmmkit: KTAPTotals(pass: 2)) != nil)
        #expect(SuiteBenchmark.caseMismatch(hmmTests: KTAPTotals(pass: 2), hmmkit: nil) != nil)
    }
}
