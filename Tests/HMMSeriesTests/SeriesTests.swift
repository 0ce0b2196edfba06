import Foundation
import HMMReport
import KTAP
import Testing
@testable import HMMSeries

@Suite struct LayoutTests {
    let layout = SeriesLayout(cacheRoot: "/c", repository: "/src/linux")

    @Test func cacheLayout() {
        #expect(layout.key.count == 16 && layout.key.allSatisfy(\.isHexDigit))
        #expect(layout.directory == "/c/series/\(layout.key)")
        #expect(layout.scratchTree == "/c/series/\(layout.key)/tree")
        #expect(layout.patchesDirectory == "/c/series/\(layout.key)/patches")
        #expect(layout.buildDirectory(tree: "4b825dc6", config: "1ea9280eb75f") == "/c/series/\(layout.key)/builds/4b825dc6-1ea9280eb75f")
        #expect(layout.lockFile.hasPrefix(layout.directory + "/"))
    }

    @Test func keyDependsOnThePathOnly() {
        #expect(SeriesLayout.pathKey("/src/linux") == SeriesLayout(cacheRoot: "/other", repository: "/src/linux").key)
        #expect(SeriesLayout.pathKey("/src/linux") != SeriesLayout.pathKey("/src/linux2"))
        // FNV-1a 64 of the empty string is its offset basis: the hash is the documented one.
        #expect(SeriesLayout.pathKey("") == "cbf29ce484222325")
        #expect(SeriesLayout.pathKey("a") == "af63dc4c8601ec8c")
    }

    @Test func configKeyIsTheBuildKeysLastPart() {
        #expect(SeriesLayout.configKey(fromBuildKey: "tree-1cf3a0cbabef-1ea9280eb75f") == "1ea9280eb75f")
        #expect(SeriesLayout.configKey(fromBuildKey: "no-dash-here!") == nil)
        #expect(SeriesLayout.configKey(fromBuildKey: "") == nil)
    }

    @Test func labels() {
        #expect(SeriesStep.label(0, of: 2) == "base")
        #expect(SeriesStep.label(1, of: 2) == "patch-01")
        #expect(SeriesStep.label(12, of: 12) == "patch-12")
        #expect(SeriesStep.label(7, of: 120) == "patch-007")
        let step = SeriesStep(number: 2, subject: "mm: x", commit: "c", tree: "t")
        #expect(step.title(of: 3) == "patch 2/3 \"mm: x\"")
        #expect(SeriesStep(number: 0, subject: nil, commit: "c", tree: "t").title(of: 3) == "base")
    }

    @Test func ranges() {
        #expect(CommitRange("base..HEAD") == CommitRange("base..HEAD"))
        #expect(CommitRange("base..HEAD")?.from == "base")
        #expect(CommitRange("v6.12..topic")?.to == "topic")
        for bad in ["base", "base...HEAD", "..HEAD", "base..", "a..b..c", ""] {
            #expect(CommitRange(bad) == nil, "\(bad)")
        }
    }

    @Test func ownOutputFiles() {
        for name in ["base.ktap", "patch-01.kcidb.json", "patched.junit.xml", "patch-003.json", "patch-02.build.log",
                     "comparison.txt", "summary.txt"] {
            #expect(SeriesRunner.isOwnOutput(name), "\(name)")
        }
        for name in ["notes.txt", "patch-x.ktap", "patch-.ktap", "base.txt", "my.ktap", "basement.ktap"] {
            #expect(!SeriesRunner.isOwnOutput(name), "\(name)")
        }
    }

    @Test func buildLogTailShowsCompilerErrorsFirst() {
        var lines = (1...100).map { "  CC      file\($0).o" }
        lines[40] = "mm/migrate_device.c:150:5: error: expected ';' before '}' token"
        lines += ["make[2]: *** [mm/migrate_device.o] Error 1", "make: *** [Makefile:224: __sub-make] Error 2", ""]
        let tail = KernelStore.logTail(lines.joined(separator: "\n"), last: 5)
        #expect(tail.first == lines[40])
        #expect(tail[1] == "…")
        #expect(tail.last == "make: *** [Makefile:224: __sub-make] Error 2")
        #expect(tail.count == 7)
        #expect(KernelStore.logTail("a\nb\n", last: 5) == ["a", "b"])
    }

    @Test func guestArguments() {
        var c = SeriesConfiguration(tree: "/t", base: "b", patches: .range(CommitRange("a..b")!), output: "/o")
        c.fixtures = ["/f/corpus", "/f/one.fixture"]
        c.runArguments = ["-t", "migrate"]
        #expect(c.guestArguments == ["run", "--fixtures", "/f/corpus", "--fixtures", "/f/one.fixture", "--no-shrink", "-t", "migrate"])
        c.shrink = true
        #expect(!c.guestArguments.contains("--no-shrink"))
    }
}

func results(_ statuses: [String: TestStatus]) -> ResultSet {
    ResultSet(tool: .hmmkit, kernelRelease: "6.12.117",
              tests: statuses.keys.sorted().map { ResultSet.Test(name: $0, status: statuses[$0]!) })
}

@Suite struct AttributionTests {
    @Test func theFirstPatchOfTheLastFailingStreak() {
        let after = [
            results(["a": .pass, "b": .pass, "c": .fail, "d": .pass]),
            results(["a": .fail, "b": .pass, "c": .pass, "d": .pass]),
            results(["a": .fail, "b": .timeout, "c": .fail, "d": .error]),
        ]
        let culprits = Attribution.culprits(of: ["a", "b", "c", "d"], afterPatch: after)
        #expect(culprits == [
            .init(test: "a", patch: 2),
            .init(test: "b", patch: 3),
            .init(test: "c", patch: 3, earlier: [1]),
            .init(test: "d", patch: 3),
        ])
    }

    @Test func missingCountsAsBadAndAFixedTestHasNoCulprit() {
        let after = [results(["a": .pass, "b": .pass]), results(["b": .fail]), results(["b": .pass])]
        #expect(Attribution.culprits(of: ["a", "b"], afterPatch: after) == [.init(test: "a", patch: 2)])
    }

    @Test func skipBreaksAStreak() {
        let after = [results(["a": .fail]), results(["a": .skip]), results(["a": .fail])]
        #expect(Attribution.culprits(of: ["a"], afterPatch: after) == [.init(test: "a", patch: 3, earlier: [1])])
    }

    @Test func oneComparisonNamesItsRegressions() throws {
        let base = results(["a": .pass, "b": .pass, "c": .skip, "d": .fail])
        let patched = results(["a": .fail, "c": .fail, "d": .fail])
        let comparison = try Comparison(base: base, patched: patched)
        // a: new failure; b: passing test missing; c: skip → fail is a skip change; d: failed before.
        #expect(Attribution.regressedTests(comparison) == ["a", "b"])
    }

    @Test func summaryNamesTheFirstBadPatch() throws {
        let base = results(["hmm.x.migrate": .pass, "replay.scenarios.zero": .pass, "hmm.x.open": .pass])
        let p1 = results(["hmm.x.migrate": .pass, "replay.scenarios.zero": .pass, "hmm.x.open": .pass])
        let p2 = results(["hmm.x.migrate": .pass, "replay.scenarios.zero": .fail, "hmm.x.open": .pass])
        let steps = [SeriesStep(number: 0, subject: nil, commit: "b" + String(repeating: "0", count: 39), tree: "t0"),
                     SeriesStep(number: 1, subject: "harmless", commit: "1" + String(repeating: "0", count: 39), tree: "t1"),
                     SeriesStep(number: 2, subject: "breaks it", commit: "2" + String(repeating: "0", count: 39), tree: "t2")]
        let c1 = try Comparison(base: base, patched: p1)
        let c2 = try Comparison(base: base, patched: p2)
        let outcome = SeriesOutcome(repository: "/src/linux", steps: steps, results: [0: base, 1: p1, 2: p2],
                                    comparisons: [1: c1, 2: c2], final: c2,
                                    culprits: Attribution.culprits(of: Attribution.regressedTests(c2), afterPatch: [p1, p2]),
                                    each: true, output: "/o")
        let text = outcome.summary
        #expect(text.contains("patch-01  1000000000000000  harmless") == false)  // commits are cut to 12
        #expect(text.contains("patch-01  100000000000  harmless"))
        #expect(text.contains("3 tests: 3 pass; no regression against the base"))
        #expect(text.contains("3 tests: 2 pass, 1 fail; REGRESSION: 1 new failure against the base"))
        #expect(text.contains("New failures by the patch that introduced them:\n"
                              + "  patch 2/2 \"breaks it\":\n    replay.scenarios.zero (fail)"))
        #expect(text.hasSuffix("Series result: REGRESSION: 1 new failure; first bad patch: patch 2/2 \"breaks it\"\n"))
        #expect(outcome.isRegression)
    }
}
