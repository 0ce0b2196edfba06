import KTAP
import Testing
@testable import HMMSystem
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

    /// Each round's CPU time is the program's own, from the kernel's accounting: a busy loop
    /// shows user time, a sleep shows almost none however long it waits.
    @Test func aRoundCountsTheProgramsCPUTimeNotItsWallTime() throws {
        let busy = try SuiteBenchmark.time(["/bin/sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"])
        #expect(busy.passed)
        #expect(busy.cpu.user > 0.05)
        #expect(busy.cpu.user + busy.cpu.system <= busy.seconds * 1.1 + 0.02)
        let idle = try SuiteBenchmark.time(["/bin/sleep", "0.3"])
        #expect(idle.seconds >= 0.3)
        #expect(idle.cpu.user + idle.cpu.system < 0.1)
    }

    @Test func theDifferenceLineSaysWhereTheExtraTimeIs() {
        let c = [CPUSeconds(user: 0.7, system: 3.1), CPUSeconds(user: 0.8, system: 3.0), CPUSeconds(user: 0.6, system: 3.2)]
        let swift = [CPUSeconds(user: 3.0, system: 3.0), CPUSeconds(user: 3.1, system: 2.9), CPUSeconds(user: 2.9, system: 3.1)]
        #expect(SuiteBenchmark.cpuDifference(hmmTests: c, hmmkit: swift)
                == "hmmkit - hm-tests (median CPU per round): user +2.30 s, kernel -0.10 s")
    }
}
