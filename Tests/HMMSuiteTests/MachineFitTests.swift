import Foundation
import HMMFixtures
import HMMKernel
import HMMModel
import HMMSystem
import KTAP
import Testing

@testable import HMMSuite

/// Fixtures written on hmmkit's VM (node 0 with the CPUs, node 1 memory only) must give
/// no false failure on machines shaped otherwise: pinned to their local node's CPUs,
/// replayed under another local node where that changes nothing, or skipped with a reason.
@Suite struct LocalNodePlacementTests {
    static let gib: Int64 = 1 << 30
    static let hmmkitVM = [NumaNode(id: 0, memoryBytes: gib, freeBytes: gib, cpus: [0, 1]),
                           NumaNode(id: 1, memoryBytes: gib, freeBytes: gib, cpus: [])]
    static let cpuPerNode = [NumaNode(id: 0, memoryBytes: gib, freeBytes: gib, cpus: [0]),
                             NumaNode(id: 1, memoryBytes: gib, freeBytes: gib, cpus: [1])]
    static let cpusOnNode1 = [NumaNode(id: 0, memoryBytes: gib, freeBytes: gib, cpus: []),
                              NumaNode(id: 1, memoryBytes: gib, freeBytes: gib, cpus: [0, 1])]

    static func scenario(_ name: String) throws -> Fixture {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.path + "/Fixtures/scenarios/\(name).fixture"
        return try Fixture.parse(try readTextFile(path), file: path)
    }

    @Test func pinsToTheFixturesLocalNodeWhereItHasCPUs() throws {
        let f = try Self.scenario("numa-bind-coherent")
        #expect(f.environment.localNode == 0)
        for nodes in [Self.hmmkitVM, Self.cpuPerNode] {
            let (placement, placed) = try LocalNodePlacement.forFixture(f, nodes: nodes).get()
            #expect(placement == .pinned(node: 0, cpus: nodes[0].cpus))
            #expect(placed == f)
        }
    }

    @Test func aFixtureThatQueriesNodesSkipsWhereItsLocalNodeHasNoCPUs() throws {
        let f = try Self.scenario("numa-bind-coherent")
        switch LocalNodePlacement.forFixture(f, nodes: Self.cpusOnNode1) {
        case .success: Issue.record("a fixture expecting pages on its local node 0 ran where node 0 has no CPUs")
        case let .failure(skip): #expect(skip.reason.contains("node 0 has no CPUs"))
        }
    }

    @Test func aFixtureThatNeverAsksForNodesMovesToAnotherLocalNode() throws {
        let f = try Self.scenario("fork-on-device-private")
        #expect(!f.steps.contains { if case .queryNodes = $0.action { true } else { false } })
        let (placement, placed) = try LocalNodePlacement.forFixture(f, nodes: Self.cpusOnNode1).get()
        #expect(placement == .pinned(node: 1, cpus: [0, 1]))
        #expect(placed.environment.localNode == 1)
    }

    @Test func homeIsTheFirstNodeWithCPUsAndMemory() {
        #expect(LocalNodePlacement.home(among: Self.cpusOnNode1) == .pinned(node: 1, cpus: [0, 1]))
        #expect(LocalNodePlacement.pinned(node: 1, cpus: [3, 2]).oneCPU == .pinned(node: 1, cpus: [2]))
        #expect(LocalNodePlacement.anywhere.oneCPU == .anywhere)
        #expect(LocalNodePlacement.home(among: Self.cpuPerNode) == .pinned(node: 0, cpus: [0]))
        #expect(LocalNodePlacement.home(among: []) == nil)
    }

    @Test func pinningThisThreadWorks() throws {
        let cpus = LocalNodePlacement.home(among: (try? Numa.nodes()) ?? [])
        // Pin in a forked child so the test runner's threads keep every CPU.
        var child = try ForkedChild.spawn { send in
            do { try (cpus ?? .anywhere).apply(); send("ok") } catch { send("\(error)") }
            return 0
        }
        var answer = ""
        while case let .line(l) = child.next(deadline: monotonicSeconds() + 10) { answer = l }
        _ = child.wait()
        #expect(answer == "ok")
    }
}

@Suite struct SoakTests {
    static func outcome(_ s: TestStatus, _ reason: String? = nil) -> TestOutcome {
        TestOutcome(status: s, reason: reason, diagnostics: [], seconds: 0.5)
    }

    @Test func everyRunPassedIsAPass() {
        var soak = Soak(runs: 3)
        while let run = soak.nextRun { #expect(soak.record(Self.outcome(.pass), run: run) == nil) }
        #expect(soak.verdict.status == .pass)
        #expect(soak.verdict.seconds == 1.5)
        #expect(soak.counts == "3 runs: 3 pass")
        #expect(!soak.isFlaky)
    }

    @Test func oneFailureAmongPassesIsAFlakyFailure() {
        var soak = Soak(runs: 4)
        var lines: [String] = []
        for status in [TestStatus.pass, .fail, .pass, .pass] {
            if let l = soak.record(Self.outcome(status, status == .fail ? "step 7: ENOENT" : nil), run: soak.nextRun!) { lines.append(l) }
        }
        #expect(soak.nextRun == nil)
        #expect(lines == ["repeat: run 2 of 4: fail: step 7: ENOENT"])
        #expect(soak.isFlaky)
        #expect(soak.verdict.status == .fail)
        #expect(soak.verdict.reason == "flaky (4 runs: 3 pass, 1 fail); first: step 7: ENOENT")
    }

    @Test func passingSomeRunsAndSkippingOthersIsNotAPass() {
        var soak = Soak(runs: 3)
        for status in [TestStatus.pass, .skip, .pass] {
            _ = soak.record(Self.outcome(status, status == .skip ? "no huge page" : nil), run: soak.nextRun!)
        }
        #expect(soak.verdict.status == .fail)
        #expect(soak.verdict.reason == "flaky (3 runs: 2 pass, 1 skip); first skip: no huge page")
    }

    @Test func allSkippedIsASkipAndASingleRunIsItself() {
        var soak = Soak(runs: 2)
        _ = soak.record(Self.outcome(.skip, "no device"), run: 1)
        _ = soak.record(Self.outcome(.skip, "no device"), run: 2)
        #expect(soak.verdict.status == .skip)
        #expect(soak.verdict.reason == "no device")
        var single = Soak(runs: 1)
        _ = single.record(Self.outcome(.timeout, "30 seconds"), run: 1)
        #expect(single.verdict == Self.outcome(.timeout, "30 seconds"))
    }
}
