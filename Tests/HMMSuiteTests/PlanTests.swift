import Foundation
import KTAP
import Testing

@testable import HMMSuite

@Suite struct FilterTests {
    let ids = Registry.kselftestParity().map(\.test.id)

    @Test func everythingByDefaultInKselftestOrder() {
        #expect(ids.count == 58)
        #expect(ids.first?.description == "hmm.hmm_device_private.open_close")
        #expect(ids[26].description == "hmm.hmm_device_coherent.open_close")
        #expect(ids[52].description == "hmm2.hmm2_device_private.migrate_mixed")
        #expect(ids.last?.description == "hmm2.hmm2_device_coherent.double_map")
    }

    @Test func firstMatchDecides() {
        // -T migrate -t migrate: the exclusion comes first and wins.
        let f = TestFilter.parse(["-T", "migrate", "-t", "migrate", "-v", "hmm_device_private"])
        #expect(!ids.filter(f.accepts).contains { $0.name == "migrate" })
        #expect(ids.filter(f.accepts).allSatisfy { $0.variant == "hmm_device_private" })
    }

    @Test func exclusionsOnlyRunTheRest() {
        let f = TestFilter.parse(["-F", "hmm2", "-V", "hmm_device_coherent"])
        #expect(ids.filter(f.accepts).count == 26)
    }

    @Test func fullName() {
        let f = TestFilter.parse(["-r", "hmm2.hmm2_device_coherent.snapshot"])
        #expect(ids.filter(f.accepts).map(\.description) == ["hmm2.hmm2_device_coherent.snapshot"])
    }
}

/// What `list`, `run` and `replay` plan under `--shard`.
@Suite struct ShardPlanTests {
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/corpus").path

    /// The corpus's replays, as `run --fixtures` and `replay` plan them.
    static func replays() -> [PlannedTest] {
        FixtureTests(replayer: FixtureReplayer(generation: .v6_1), kernelProfile: nil).plan(expanding: [corpus])
    }

    @Test func runPlansOnlyItsShardSuiteAndFixturesAlike() throws {
        let count = 3
        let whole = TestPlan().tests(replays: Self.replays())
        var union: [String] = []
        for k in 1...count {
            let names = TestPlan(shard: try Shard(k, of: count)).tests(replays: Self.replays()).map(\.test.id.description)
            #expect(names.allSatisfy { Shard.number(for: $0, count: count) == k })
            union += names
        }
        #expect(union.sorted() == whole.map(\.test.id.description).sorted())
        #expect(whole.contains { $0.test.id.fixture == "replay" })
    }

    @Test func replayAndListShardTheSameWay() throws {
        let replay = TestPlan(shard: try Shard(2, of: 2)).tests(suite: false, replays: Self.replays())
        let all = TestPlan().tests(suite: false, replays: Self.replays())
        #expect(replay.map(\.test.id) == (try Shard(2, of: 2)).select(all).map(\.test.id))
        let list = TestPlan(shard: try Shard(1, of: 4)).tests()
        #expect(list.map(\.test.id) == (try Shard(1, of: 4)).select(Registry.all()).map(\.test.id))
    }

    @Test func resumingAfterATest() {
        let all = Registry.all()
        #expect(TestPlan.resuming(after: all[0].test.id.description, in: all)?.map(\.test.id) == all.dropFirst().map(\.test.id))
        #expect(TestPlan.resuming(after: all.last!.test.id.description, in: all)?.isEmpty == true)
        #expect(TestPlan.resuming(after: "hmm.nope.nope", in: all) == nil)
    }
}
