import HMMKernel
import HMMSystem
import HMMUAPI
import KTAP
import Testing

@testable import HMMSuite

#if canImport(Glibc)
import Glibc
#endif

/// `run --jobs N`: which tests start together, and results told in plan order.
@Suite struct TestScheduleTests {
    static let device0 = Concurrency.holding([.device(minor: 0)])
    static let device2 = Concurrency.holding([.device(minor: 2)])
    static let devices01 = Concurrency.holding([.device(minor: 0), .device(minor: 1)])
    static let devices23 = Concurrency.holding([.device(minor: 2), .device(minor: 3)])

    /// Runs the schedule to the end, finishing the lowest running test first; returns each
    /// round's starts.
    static func rounds(_ claims: [Concurrency], jobs: Int) -> [[Int]] {
        var schedule = TestSchedule(claims: claims, jobs: jobs)
        var out: [[Int]] = []
        while !schedule.isComplete {
            let started = schedule.startable()
            out.append(started)
            guard let lowest = schedule.running.min() else { break }
            schedule.finished(lowest)
        }
        return out
    }

    @Test func oneJobRunsThePlanInOrder() {
        let claims = [Self.device0, Self.device2, .alone, Self.device0]
        #expect(Self.rounds(claims, jobs: 1) == [[0], [1], [2], [3]])
    }

    @Test func kselftestVariantsRunSideBySideInPlanOrderEach() {
        // hmm private x3, hmm coherent x3, hmm2 private, hmm2 coherent.
        let claims = [Self.device0, Self.device0, Self.device0, Self.device2, Self.device2, Self.device2,
                      Self.devices01, Self.devices23]
        let rounds = Self.rounds(claims, jobs: 2)
        #expect(rounds.first == [0, 3])
        // Each device's tests start in plan order, never two at once.
        var order: [Int] = []
        for round in rounds { order += round }
        #expect(order.filter { [0, 1, 2, 6].contains($0) } == [0, 1, 2, 6])
        #expect(order.filter { [3, 4, 5, 7].contains($0) } == [3, 4, 5, 7])
        #expect(order.sorted() == Array(0..<8))
        var schedule = TestSchedule(claims: claims, jobs: 2)
        #expect(schedule.startable() == [0, 3])
        // The hmm2 private test shares device 0 with tests still waiting before it.
        schedule.finished(3)
        #expect(schedule.startable() == [4])
    }

    @Test func aTestThatRunsAloneWaitsForAllAndHoldsBackLaterOnes() {
        var schedule = TestSchedule(claims: [Self.device0, .alone, Self.device2], jobs: 2)
        #expect(schedule.startable() == [0])
        #expect(schedule.startable() == [])
        schedule.finished(0)
        #expect(schedule.startable() == [1])
        #expect(schedule.startable() == [])
        schedule.finished(1)
        #expect(schedule.startable() == [2])
        schedule.finished(2)
        #expect(schedule.isComplete)
    }

    @Test func theHugePagePoolIsHeldByOneTestAtATime() {
        let hugePrivate = Concurrency.kselftest(variant: .hmmPrivate, needs: [.root, .freeHugePages(1)])
        let hugeCoherent = Concurrency.kselftest(variant: .hmmCoherent, needs: [.freeHugePages(1)])
        #expect(hugePrivate == .holding([.device(minor: 0), .hugeTLBPool]))
        #expect(hugePrivate.conflicts(with: hugeCoherent))
        #expect(!Concurrency.kselftest(variant: .hmmPrivate, needs: [.root]).conflicts(with: hugeCoherent))
        #expect(Concurrency.kselftest(variant: .hmm2Private, needs: []).conflicts(with: Self.device0))
        var schedule = TestSchedule(claims: [hugePrivate, hugeCoherent], jobs: 2)
        #expect(schedule.startable() == [0])
        // A test waiting for the pool does not hold back the other device's tests, and
        // the pool goes to whichever test can take it first.
        let plain0 = Concurrency.kselftest(variant: .hmmPrivate, needs: [])
        let plain2 = Concurrency.kselftest(variant: .hmmCoherent, needs: [])
        schedule = TestSchedule(claims: [plain0, hugePrivate, hugeCoherent, plain2], jobs: 2)
        #expect(schedule.startable() == [0, 2])
        schedule.finished(2)
        #expect(schedule.startable() == [3])
        schedule.finished(0)
        #expect(schedule.startable() == [1])
        #expect(schedule.running == [1, 3])
    }

    @Test func neverMoreThanJobsAtOnce() {
        let claims = (0..<6).map { Concurrency.holding([.device(minor: $0)]) }
        var schedule = TestSchedule(claims: claims, jobs: 3)
        #expect(schedule.startable() == [0, 1, 2])
        schedule.finished(1)
        #expect(schedule.startable() == [3])
        // Finishing a test twice, or one that never started, changes nothing.
        schedule.finished(1)
        schedule.finished(5)
        #expect(schedule.running == [0, 2, 3])
    }

    @Test func everyKselftestTestDeclaresWhatItHolds() {
        for planned in Registry.kselftestParity() {
            guard case let .holding(held) = planned.test.concurrency else {
                Issue.record("\(planned.test.id) runs alone")
                continue
            }
            #expect(held.isSuperset(of: planned.variant.minors.map { SharedResource.device(minor: $0) }))
        }
    }

    @Test func jobCounts() {
        #expect(JobCount(parsing: "auto") == .automatic)
        #expect(JobCount(parsing: "2") == .exactly(2))
        for bad in ["0", "-1", "257", "99999999999999999999", "two", ""] {
            #expect(JobCount(parsing: bad) == nil, "\(bad)")
        }
    }
}

@Suite struct OrderedReportTests {
    static let ids = (0..<3).map { TestID(fixture: "f", variant: "v", name: "t\($0)") }
    static func outcome(_ status: TestStatus) -> TestOutcome {
        TestOutcome(status: status, reason: nil, diagnostics: [], seconds: 0)
    }

    @Test func theHeadStreamsAndLaterTestsWaitTheirTurn() {
        var report = OrderedReport(ids: Self.ids)
        #expect(report.started(0) == [.started(Self.ids[0])])
        #expect(report.started(1) == [])
        #expect(report.diagnostic(1, "from t1") == [])
        #expect(report.diagnostic(0, "from t0") == [.diagnostic("from t0")])
        #expect(report.finished(1, Self.outcome(.fail)) == [])
        #expect(report.started(2) == [])
        #expect(report.diagnostic(2, "from t2") == [])
        #expect(report.finished(0, Self.outcome(.pass)) == [
            .finished(Self.ids[0], Self.outcome(.pass)),
            .started(Self.ids[1]), .diagnostic("from t1"), .finished(Self.ids[1], Self.outcome(.fail)),
            .started(Self.ids[2]), .diagnostic("from t2"),
        ])
        // t2 is the head now: its lines go straight out.
        #expect(report.diagnostic(2, "more") == [.diagnostic("more")])
        #expect(report.finished(2, Self.outcome(.skip)) == [.finished(Self.ids[2], Self.outcome(.skip))])
    }

    @Test func aHeadThatHasNotStartedHoldsBackLaterResults() {
        var report = OrderedReport(ids: Self.ids)
        #expect(report.started(0) == [.started(Self.ids[0])])
        #expect(report.started(2) == [])
        #expect(report.finished(2, Self.outcome(.pass)) == [])
        #expect(report.finished(0, Self.outcome(.pass)) == [.finished(Self.ids[0], Self.outcome(.pass))])
        #expect(report.started(1) == [.started(Self.ids[1])])
        #expect(report.finished(1, Self.outcome(.pass)) == [
            .finished(Self.ids[1], Self.outcome(.pass)), .started(Self.ids[2]), .finished(Self.ids[2], Self.outcome(.pass)),
        ])
    }
}

/// The runner with tests that need no kernel: two at once, reported in plan order.
@Suite struct ParallelRunnerTests {
    final class Sink: ResultSink {
        var lines: [String] = []
        func begin(plan: Int) { lines.append("plan \(plan)") }
        func started(_ id: TestID) { lines.append("start \(id.name)") }
        func diagnostic(_ line: String) { lines.append("# \(line)") }
        func finished(_ id: TestID, _ outcome: TestOutcome) { lines.append("\(outcome.status.rawValue) \(id.name)") }
        func end() { lines.append("end") }
    }

    static func test(_ name: String, minor: Int, sleep microseconds: UInt32, fails: Bool = false) -> TestCase {
        TestCase(TestID(fixture: "f", variant: "v\(minor)", name: name), concurrency: .holding([.device(minor: minor)])) { c in
            c.log("\(name) begins")
            usleep(microseconds)
            if fails { throw TestFailure("\(name) failed", file: "", line: 0) }
        }
    }

    /// A test that passes only if `other` creates `file` while it runs (within 10 s).
    static func waiting(_ name: String, minor: Int, for file: String) -> TestCase {
        TestCase(TestID(fixture: "f", variant: "v\(minor)", name: name), concurrency: .holding([.device(minor: minor)])) { c in
            c.log("\(name) begins")
            for _ in 0..<1000 where access(file, F_OK) != 0 { usleep(10_000) }
            try c.require(access(file, F_OK) == 0, "no test ran beside \(name)")
        }
    }

    static func creating(_ name: String, minor: Int, _ file: String) -> TestCase {
        TestCase(TestID(fixture: "f", variant: "v\(minor)", name: name), concurrency: .holding([.device(minor: minor)])) { c in
            c.log("\(name) begins")
            try c.require(creat(file, 0o600) >= 0, "cannot create \(file)")
        }
    }

    static var facts: SystemFacts { SystemFacts.gather(generation: UAPIDetection(generation: .v6_1, reason: "test")) }

    @Test func twoJobsOverlapAndReportInPlanOrder() throws {
        let file = "/tmp/hmmkit-jobs-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(file) }
        // `a` waits for `c`, which shares no device with it; `b` shares `a`'s device and fails.
        let tests = [Self.waiting("a", minor: 0, for: file), Self.test("b", minor: 0, sleep: 1000, fails: true),
                     Self.creating("c", minor: 2, file)]
        let sink = Sink()
        Runner(facts: Self.facts, defaultTimeout: 20, watchKernelLog: false, jobs: 2).run(tests, variants: [:], sink: sink)
        #expect(sink.lines == ["plan 3", "start a", "# a begins", "pass a", "start b", "# b begins", "fail b",
                               "start c", "# c begins", "pass c", "end"])
    }

    @Test func oneJobRunsEachTestInTurn() throws {
        let file = "/tmp/hmmkit-jobs-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(file) }
        var waiting = Self.waiting("a", minor: 0, for: file)
        waiting.timeout = 0.5
        let sink = Sink()
        Runner(facts: Self.facts, defaultTimeout: 20, watchKernelLog: false, jobs: 1)
            .run([waiting, Self.creating("c", minor: 2, file)], variants: [:], sink: sink)
        #expect(sink.lines == ["plan 2", "start a", "# a begins", "# a: Test terminated by timeout", "timeout a",
                               "start c", "# c begins", "pass c", "end"])
    }

    /// Waits up to 10 s for `path` to exist (or, with `content`, to hold it).
    static func await(_ path: String, content: String? = nil) -> Bool {
        for _ in 0..<1000 {
            if let content { if (try? readTextFile(path))?.hasPrefix(content) == true { return true } }
            else if access(path, F_OK) == 0 { return true }
            usleep(10_000)
        }
        return false
    }

    @Test func aKernelFaultSeenWhileTwoTestsRanFailsBothAndNamesTheOther() throws {
        let dir = "/tmp/hmmkit-jobs-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try makeDirectory(dir)
        defer { for f in ["tainted", "c-started"] { unlink(dir + "/" + f) }; rmdir(dir) }
        try createTextFile(dir + "/tainted", "0\n")
        // `a` taints the kernel (a WARN, bit 9) once `c` runs; `c` ends only after that.
        let a = TestCase(TestID(fixture: "f", variant: "v0", name: "a"), concurrency: .holding([.device(minor: 0)])) { c in
            try c.require(Self.await(dir + "/c-started"), "c never started")
            try createTextFile(dir + "/tainted", "512\n")
        }
        let c = TestCase(TestID(fixture: "f", variant: "v2", name: "c"), concurrency: .holding([.device(minor: 2)])) { c in
            try createTextFile(dir + "/c-started", "")
            try c.require(Self.await(dir + "/tainted", content: "512"), "the taint never came")
        }
        var runner = Runner(facts: Self.facts, defaultTimeout: 20, watchKernelLog: false, jobs: 2)
        runner.taintPath = dir + "/tainted"
        let sink = Sink()
        runner.run([a, c], variants: [:], sink: sink)
        #expect(sink.lines == ["plan 2", "start a", "# kernel taint gained 0x200 during the test",
                               "# ran beside f.v2.c: the kernel's report may be theirs (run --jobs 1 tells)", "fail a",
                               "start c", "# kernel taint gained 0x200 during the test",
                               "# ran beside f.v0.a: the kernel's report may be theirs (run --jobs 1 tells)", "fail c", "end"])
    }

    @Test func aHungTestTimesOutWhileTheOtherFinishes() throws {
        var hung = Self.test("hung", minor: 0, sleep: 30_000_000)
        hung.timeout = 0.5
        let tests = [hung, Self.test("quick", minor: 2, sleep: 10_000)]
        let sink = Sink()
        Runner(facts: Self.facts, defaultTimeout: 10, watchKernelLog: false, jobs: 2).run(tests, variants: [:], sink: sink)
        #expect(sink.lines == ["plan 2", "start hung", "# hung begins", "# hung: Test terminated by timeout", "timeout hung",
                               "start quick", "# quick begins", "pass quick", "end"])
    }
}
