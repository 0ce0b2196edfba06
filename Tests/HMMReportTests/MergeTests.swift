import Foundation
import KTAP
import Testing
@testable import HMMReport

/// `set` cut into `count` shards the way `--shard` cuts a plan (by a hash of the name), each
/// named as if read from `shard-K.ktap`.
func shards(of set: ResultSet, count: Int) -> [ResultSet] {
    (1...count).map { k in
        var shard = set
        shard.tests = set.tests.filter { Int(StableHash.fnv1a64($0.name) % UInt64(count)) + 1 == k }
        shard.source = "shard-\(k).ktap"
        return shard
    }
}

@Suite("merging results")
struct MergeTests {
    @Test("shards merge back into the whole run, sorted by name", arguments: fixtureLogNames)
    func shardsMergeBack(_ log: String) throws {
        let whole = try ResultSet.load(path: fixturePath(log), options: LoadOptions(allowIncomplete: true))
        for count in [1, 2, 3, 7] {
            let merged = try ResultSet.merging(shards(of: whole, count: count).reversed())
            #expect(merged.tests == whole.tests.sorted { $0.name < $1.name }, "\(log) in \(count) shards")
            #expect(merged.tool == whole.tool)
            #expect(merged.kernelRelease == whole.kernelRelease)
            #expect(merged.hmmkitVersion == whole.hmmkitVersion)
            #expect(merged.source == nil)
        }
    }

    @Test func aTestInSeveralFilesWithTheSameStatusIsKeptOnce() throws {
        var a = ResultSet(tool: .hmmkit, kernelRelease: "6.12.117", tests: [
            .init(name: "hmm.v.b", status: .pass, duration: 1), .init(name: "hmm.v.a", status: .skip, reason: "no THP"),
        ])
        a.source = "a.ktap"
        var b = ResultSet(tool: .hmmkit, tests: [.init(name: "hmm.v.b", status: .pass, duration: 2), .init(name: "hmm.v.c", status: .fail)])
        b.source = "b.json"
        let merged = try ResultSet.merging([a, b, a])
        #expect(merged.tests.map(\.name) == ["hmm.v.a", "hmm.v.b", "hmm.v.c"])
        #expect(merged.test(named: "hmm.v.b")?.duration == 1)  // the first file's copy
        #expect(merged.kernelRelease == "6.12.117")  // b does not say, a does
        #expect(merged.summary == "3 tests: 1 pass, 1 fail, 1 skip")
    }

    @Test func conflictingStatusesNameBothFiles() throws {
        var a = ResultSet(tool: .hmmkit, tests: [.init(name: "hmm.v.x", status: .pass), .init(name: "hmm.v.y", status: .pass)])
        a.source = "shard-1.ktap"
        var b = ResultSet(tool: .hmmkit, tests: [.init(name: "hmm.v.x", status: .fail), .init(name: "hmm.v.y", status: .timeout)])
        b.source = "machine-2.json"
        let error = try #require(reportError { _ = try ResultSet.merging([a, b]) })
        #expect(error.kind == .conflict)
        #expect(error.file == "machine-2.json")
        #expect(error.description
                == "machine-2.json: test 'hmm.v.x' is fail here but pass in shard-1.ktap (and 1 more tests that disagree)")
        b.tests.removeLast()
        #expect(reportError { _ = try ResultSet.merging([a, b]) }?.description
                == "machine-2.json: test 'hmm.v.x' is fail here but pass in shard-1.ktap")
    }

    @Test func differentToolsOrKernelsAndNothingAreRefused() throws {
        var ours = ResultSet(tool: .hmmkit, kernelRelease: "6.12.117", tests: [.init(name: "a.b.c", status: .pass)])
        ours.source = "hmmkit.ktap"
        var theirs = ResultSet(tool: .kselftest, kernelRelease: "6.12.117", tests: [.init(name: "a.b.d", status: .pass)])
        theirs.source = "hm-tests.ktap"
        let tools = try #require(reportError { _ = try ResultSet.merging([ours, theirs]) })
        #expect(tools.kind == .incompatible)
        #expect(tools.description.hasPrefix("hm-tests.ktap: these are kselftest results but hmmkit.ktap holds hmmkit results"))
        var older = ours
        older.kernelRelease = "6.1.192"
        older.source = "old.ktap"
        let kernels = try #require(reportError { _ = try ResultSet.merging([ours, older]) })
        #expect(kernels.kind == .incompatible)
        #expect(kernels.description.hasPrefix("old.ktap: results of kernel 6.1.192 here but of 6.12.117 in hmmkit.ktap"))
        #expect(reportError { _ = try ResultSet.merging([]) } != nil)
    }

    @Test func factsAreKeptWhereTheFilesAgreeAndWarnedAboutWhereNot() throws {
        var a = factsSet
        a.source = "a.ktap"
        a.tests = Array(factsSet.tests.prefix(3))
        a.startedAt = Date(timeIntervalSince1970: 2_000)
        a.warnings = ["kernel-log check off"]
        var b = factsSet
        b.source = "b.ktap"
        b.tests = Array(factsSet.tests.dropFirst(3))
        b.startedAt = Date(timeIntervalSince1970: 1_000)
        b.machine = "nodes 0 (CPUs 0, 1024 MiB); THP never"
        b.hmmkitVersion = HMMKitVersion.string(commit: "0123abcd")
        let merged = try ResultSet.merging([a, b])
        #expect(merged.architecture == factsSet.architecture)
        #expect(merged.compiler == factsSet.compiler)
        #expect(merged.configName == factsSet.configName)
        #expect(merged.machine == nil)
        #expect(merged.startedAt == Date(timeIntervalSince1970: 1_000))
        #expect(merged.hmmkitVersion == "\(a.hmmkitVersion), \(b.hmmkitVersion)")
        #expect(merged.warnings == [
            "a.ktap: kernel-log check off",
            "the merged results differ in machine: a.ktap: \(a.machine ?? ""); b.ktap: \(b.machine ?? "")",
        ])
        #expect(merged.tests.count == factsSet.tests.count)
    }

    @Test func aShardSkippedAsAWholeIsNotLostSilently() throws {
        var ran = ResultSet(tool: .hmmkit, tests: [.init(name: "a.b.c", status: .pass)])
        ran.source = "shard-1.ktap"
        var skipped = ResultSet(tool: .hmmkit, skipReason: "test_hmm not loaded")
        skipped.source = "shard-2.ktap"
        let merged = try ResultSet.merging([ran, skipped])
        #expect(merged.skipReason == nil)
        #expect(merged.warnings == ["shard-2.ktap: the whole run was skipped: test_hmm not loaded"])
        #expect(try ResultSet.merging([skipped, skipped]).skipReason == "test_hmm not loaded")
    }
}

@Suite("results as KTAP")
struct KTAPExportTests {
    /// The set without what KTAP does not carry back: the source, and the harness's SKIP notices
    /// a 6.1 log keeps among a skipped test's diagnostics (the writer prints its own).
    func comparable(_ set: ResultSet) -> ResultSet {
        var set = set
        set.source = nil
        for i in set.tests.indices where set.tests[i].status == .skip {
            set.tests[i].diagnostics.removeAll { $0.hasPrefix("     SKIP      ") }
        }
        return set
    }

    @Test("every saved log survives results → KTAP → results", arguments: fixtureLogNames)
    func savedLogsRoundTrip(_ log: String) throws {
        let set = try ResultSet.load(path: fixturePath(log), options: LoadOptions(allowIncomplete: true))
        let again = try ResultSet.parse(set.ktapText)
        #expect(comparable(again) == comparable(set))
    }

    @Test func hmmkitResultsKeepTheirVersionFactsAndEveryStatus() throws {
        var set = factsSet
        set.tests = [
            .init(name: "hmm.v.pass", status: .pass, duration: 0.004),
            .init(name: "hmm.v.fail", status: .fail, reason: "expected ok, got ENOENT", duration: 1.5,
                  diagnostics: ["step 15", "# not a result"]),
            .init(name: "hmm.v.skip", status: .skip, reason: "DEVICE_COHERENT not available"),
            .init(name: "hmm.v.timeout", status: .timeout, reason: "30 seconds", diagnostics: ["killed"]),
            .init(name: "hmm.v.error", status: .error, reason: "VM died: Kernel panic"),
            .init(name: "hmm.v.xfail", status: .xfail, reason: "1 GiB pages"),
            .init(name: "hmm.v.xpass", status: .xpass),
            .init(name: "replay.gen-6.12-private-seed1", status: .pass, duration: 0.25),
        ]
        set.hmmkitVersion = HMMKitVersion.string(commit: "0123abcd")
        set.warnings = ["kernel-log check off"]
        let text = set.ktapText
        let lines = text.split(separator: "\n").map(String.init)
        #expect(Array(lines.prefix(3)) == ["TAP version 13", "1..\(set.tests.count)", "# " + ResultSet.ktapVersionLine(set.hmmkitVersion)])
        #expect(try comparable(ResultSet.parse(text)) == comparable(set))
        // A whole-run skip stays one.
        let skipped = ResultSet(tool: .hmmkit, kernelRelease: "6.12.117", skipReason: "test_hmm not loaded")
        #expect(try ResultSet.parse(skipped.ktapText).skipReason == "test_hmm not loaded")
        #expect(try ResultSet.parse(skipped.ktapText).tests.isEmpty)
    }
}
