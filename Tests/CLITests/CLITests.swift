import ArgumentParser
import Foundation
import HMMCommands
import HMMSuite
import KTAP
import Testing
import hmmkit

@Suite struct ArgumentTests {
    @Test func badSPMIsAClearError() {
        #expect(throws: (any Error).self) { try HMMKit.parseAsRoot(["run", "--load-module", "--allow-host-module-load", "--spm", "zz"]) }
        do { _ = try HMMKit.parseAsRoot(["run", "--load-module", "--allow-host-module-load", "--spm", "0x1"]) } catch {
            #expect(HMMKit.message(for: error).contains("--spm takes two hex addresses"))
        }
    }

    @Test func loadingOnAHostNeedsAnExplicitFlag() {
        do {
            _ = try HMMKit.parseAsRoot(["run", "--load-module"])
            Issue.record("--load-module outside a VM was accepted")
        } catch {
            #expect(HMMKit.message(for: error).contains("--allow-host-module-load"))
        }
    }

    @Test func spmWithoutLoadIsRejected() {
        #expect(throws: (any Error).self) { try HMMKit.parseAsRoot(["run", "--spm", "0x40000000,0x50000000"]) }
    }

    @Test func malformedFullNameFilter() {
        do {
            _ = try HMMKit.parseAsRoot(["run", "-r", "hmm.migrate"])
            Issue.record("-r without three parts accepted")
        } catch {
            #expect(HMMKit.message(for: error).contains("fixture.variant.test"))
        }
    }

    @Test func timeoutMustBePositive() {
        #expect(throws: (any Error).self) { try HMMKit.parseAsRoot(["run", "--timeout", "0"]) }
    }

    @Test func unknownStartAfter() {
        #expect(throws: (any Error).self) { try HMMKit.parseAsRoot(["run", "--start-after", "hmm.nope.nope"]) }
    }

    @Test func vmAcceleratorChoices() {
        #expect(throws: (any Error).self) { try HMMKit.parseAsRoot(["vm", "run", "--accel", "hvf"]) }
    }

    @Test func fixtureCommandsTakeFiles() throws {
        #expect(throws: (any Error).self) { try HMMKit.parseAsRoot(["fixture", "check"]) }
        #expect(throws: (any Error).self) { try HMMKit.parseAsRoot(["fixture", "expect"]) }
        let check = try HMMKit.parseAsRoot(["fixture", "check", "--forbid-hazards", "a.fixture", "b.fixture"])
        #expect((check as? FixtureCommand.Check)?.files == ["a.fixture", "b.fixture"])
        #expect((check as? FixtureCommand.Check)?.forbidHazards == true)
    }

    @Test func moduleParametersMustBeNameValue() {
        #expect(throws: (any Error).self) { try HMMKit.parseAsRoot(["module", "load", "--allow-host-module-load", "spm_addr_dev0"]) }
    }
}

/// Arguments that used to trap or write fixtures that do not read back (the bad-input issue).
@Suite struct BadArgumentTests {
    @Test(arguments: [
        (["gen", "--seeds", "0-18446744073709551615"], "more than 1000000 seeds"),
        (["gen", "--nodes", "0,20"], "--nodes"),
        (["gen", "--nodes", "0,255"], "--nodes"),
        (["gen", "--steps", "0"], "--steps"),
        (["run", "--repeat", "0"], "--repeat"),
        (["vm", "run", "--thp", "sometimes"], "sometimes"),
        (["vm", "run", "--numa", "flat"], "flat"),
        (["vm", "run", "--accel", "fast"], "fast"),
        (["run", "--shard", "0/3"], "K must be from 1 to N (3), got 0"),
        (["run", "--shard", "4/3"], "K must be from 1 to N (3), got 4"),
        (["list", "--shard", "x/y"], "expected K/N"),
        (["list", "--shard", "1/99999999999999999999"], "N must be from 1 to 10000"),
        (["replay", "Fixtures/corpus", "--shard", "1/0"], "N must be from 1 to 10000"),
        (["replay", "Fixtures/corpus", "--shard", "3"], "expected K/N"),
    ])
    func refusedWithAMessage(arguments: [String], words: String) {
        do {
            _ = try HMMKit.parseAsRoot(arguments)
            Issue.record("\(arguments) was accepted")
        } catch {
            #expect(HMMKit.message(for: error).contains(words), "\(arguments): \(HMMKit.message(for: error))")
        }
    }
}

@Suite struct ShardOptionTests {
    @Test func aBadShardIsAUsageError() {
        do {
            _ = try HMMKit.parseAsRoot(["run", "--shard", "4/3"])
            Issue.record("--shard 4/3 was accepted")
        } catch {
            #expect(HMMKit.usageExitCode(for: error) == ExitCode(2))
            #expect(HMMKit.message(for: error).contains("--shard"))
        }
    }

    @Test func startAfterNamesATestOfTheShard() throws {
        let all = Registry.all().map(\.test.id.description)
        let elsewhere = try #require(all.first { Shard.number(for: $0, count: 2) == 2 })
        #expect(throws: (any Error).self) { try HMMKit.parseAsRoot(["run", "--shard", "1/2", "--start-after", elsewhere]) }
        _ = try HMMKit.parseAsRoot(["run", "--shard", "2/2", "--start-after", elsewhere])
    }
}

/// The filter options keep their relative order through ArgumentParser (the first matching
/// rule decides), and only the command's own arguments count: not the test runner's argv.
@Suite struct FilterOrderTests {
    @Test func interleavedFiltersKeepTheirOrder() throws {
        let parsed = try HMMKit.parseAsRoot(["list", "-T", "migrate", "-v", "hmm_device_private", "--include-vm-checks",
                                             "-t", "migrate", "-F", "hmm2", "-r", "hmm.hmm_device_coherent.migrate", "-V", "x",
                                             "-f", "hmm", "-t", "open_close"])
        let list = try #require(parsed as? ListCommand)
        let rules = list.filters.filter.rules.map { "\($0.include ? "+" : "-")\($0.field):\($0.value)" }
        #expect(rules == ["-test:migrate", "+variant:hmm_device_private", "+test:migrate", "-fixture:hmm2",
                          "+full:hmm.hmm_device_coherent.migrate", "-variant:x", "+fixture:hmm", "+test:open_close"])
        // -T migrate came first, so no migrate test runs although -t migrate and -r name one.
        #expect(!list.filters.plan.tests().contains { $0.test.id.name == "migrate" })

        let reversed = try #require(try HMMKit.parseAsRoot(["list", "-t", "migrate", "-T", "migrate"]) as? ListCommand)
        #expect(reversed.filters.plan.tests().map(\.test.id.name) == ["migrate", "migrate"])
    }

    @Test func noFilterMeansEveryTest() throws {
        let list = try #require(try HMMKit.parseAsRoot(["list"]) as? ListCommand)
        #expect(list.filters.filter.rules.isEmpty)
        #expect(list.filters.plan.tests().count == Registry.all().count)
    }
}
