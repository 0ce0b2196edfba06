import Foundation
import HMMModel
import KTAP
import Testing

@testable import HMMSuite

/// `Fixtures/` of this package, found from this file so `swift test` works from any directory.
private let fixtureRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures").path

/// Every test a plan can hold: the suite, hmmkit's VM checks and the checked-in fixtures.
private let everyPlannedTest: [PlannedTest] = {
    let directories = ["corpus", "corpus/thp-migration", "selftest", "scenarios", "hazards"].map { fixtureRoot + "/" + $0 }
    let fixtures = (try? FixtureTests.expand(directories)) ?? []
    let replays = FixtureTests(replayer: FixtureReplayer(generation: .v6_1), kernelProfile: .linux6_12).plan(paths: fixtures)
    return Registry.all(includeVMChecks: true) + replays
}()

@Suite struct ShardTests {
    @Test func thePlanHasSuiteAndFixtureTests() {
        #expect(everyPlannedTest.contains { $0.test.id.fixture == "replay" })
        #expect(everyPlannedTest.contains { $0.test.id.fixture == "hmm" })
        // Names are unique, so "each name in exactly one shard" is "each test in exactly one shard".
        #expect(Set(everyPlannedTest.map(\.test.id.description)).count == everyPlannedTest.count)
    }

    @Test("shards 1..N together hold every test exactly once, in plan order",
          arguments: [1, 2, 3, 7, 10, everyPlannedTest.count, everyPlannedTest.count + 5, Shard.maximumCount])
    func shardsPartitionThePlan(count: Int) throws {
        let names = everyPlannedTest.map(\.test.id.description)
        var seen: [String: Int] = [:]
        for k in 1...count {
            let selected = try Shard(k, of: count).select(everyPlannedTest).map(\.test.id.description)
            // Each shard keeps the plan's order.
            #expect(selected == names.filter { selected.contains($0) })
            for name in selected {
                #expect(seen[name] == nil, "\(name) is in shards \(seen[name] ?? 0) and \(k) of \(count)")
                seen[name] = k
            }
        }
        #expect(Set(seen.keys) == Set(names))
    }

    @Test func aTestsShardDependsOnlyOnItsNameAndN() throws {
        let count = 5
        for planned in everyPlannedTest {
            let name = planned.test.id.description
            let k = Shard.number(for: name, count: count)
            // Planned alone, in reverse order, or among other tests: the same shard.
            #expect(try Shard(k, of: count).select([planned]).count == 1)
            #expect(try Shard(k, of: count).select(everyPlannedTest.reversed()).contains { $0.test.id.description == name })
            #expect(Shard.number(for: name, count: count) == k)
        }
    }

    @Test func theShardIsFNV1aOfTheUTF8NameModN() throws {
        // FNV-1a 64 by its definition, byte by byte, against the shared helper.
        for name in everyPlannedTest.map(\.test.id.description) + ["", "é", "replay.corpus.gen-6_12-numa-seed3"] {
            var hash = StableHash.offsetBasis
            for byte in Array(name.utf8) { hash = (hash ^ UInt64(byte)) &* StableHash.prime }
            #expect(StableHash.fnv1a64(name) == hash)
            for count in [1, 3, 64, Shard.maximumCount] {
                #expect(Shard.number(for: name, count: count) == Int(hash % UInt64(count)) + 1)
            }
        }
        #expect(StableHash.hex("").count == 16)
        #expect(StableHash.hex("") == String(StableHash.offsetBasis, radix: 16))
    }

    @Test func aSplitSpreadsTheTests() throws {
        // Not a guarantee, but a hash that put everything in one shard would be useless.
        let sizes = try (1...3).map { try Shard($0, of: 3).select(everyPlannedTest).count }
        #expect(sizes.allSatisfy { $0 > 0 }, "\(sizes)")
    }

    @Test func parsesKOverN() throws {
        let shard = try Shard(parsing: "2/5")
        #expect(shard.index == 2 && shard.count == 5)
        #expect(shard.description == "2/5")
        #expect(try Shard(parsing: "1/1") == Shard(1, of: 1))
        #expect(try Shard(parsing: "\(Shard.maximumCount)/\(Shard.maximumCount)").index == Shard.maximumCount)
    }

    @Test("bad shard specs are refused with a reason, never a trap", arguments: [
        ("0/3", "K must be from 1 to N"),
        ("4/3", "K must be from 1 to N"),
        ("1/0", "N must be from 1 to"),
        ("0/0", "N must be from 1 to"),
        ("1/\(Shard.maximumCount + 1)", "N must be from 1 to \(Shard.maximumCount)"),
        ("1/99999999999999999999999999", "N must be from 1 to"),
        ("99999999999999999999999999/3", "K must be from 1 to N"),
        ("x/y", "expected K/N"),
        ("1", "expected K/N"),
        ("1/2/3", "expected K/N"),
        ("/3", "expected K/N"),
        ("1/", "expected K/N"),
        ("-1/3", "expected K/N"),
        ("+1/3", "expected K/N"),
        (" 1/3", "expected K/N"),
        ("1/3 ", "expected K/N"),
        ("١/٣", "expected K/N"),
        ("", "expected K/N"),
    ])
    func badSpecs(spec: String, words: String) {
        do {
            let shard = try Shard(parsing: spec)
            Issue.record("'\(spec)' was accepted as \(shard)")
        } catch {
            #expect(error.description.contains(words), "\(spec): \(error)")
        }
    }
}
