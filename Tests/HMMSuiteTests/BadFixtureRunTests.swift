import Foundation
import HMMKernel
import Testing

@testable import HMMSuite

private let repository = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// `run --fixtures` and `replay` (their plan: TestPlan and FixtureTests.plan(expanding:)):
/// each bad fixture is one failing test, the others still run.
@Suite struct OneBadFixtureFailsOnlyItselfTests {
    /// The issue's trap cases, as kept in Tests/MalformedInputs/fixture.
    static let traps = ["arrow-alone", "munmap-first-7", "file-punch-count-7", "ioctl-read-first-7", "mmap-pages-7",
                        "id-fd-1000000000000", "id-region-1000000000000", "mremap-to-huge", "local-node-300",
                        "local-node--1", "mmap-offset-7", "file-truncate-huge", "total-pages"]

    @Test(arguments: [true, false])
    func trapsFailTheirOwnTestWithFileAndLine(withSuite: Bool) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hmmkit-plan-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let malformed = repository.appendingPathComponent("Tests/MalformedInputs/fixture").path
        for name in Self.traps {
            try FileManager.default.copyItem(atPath: "\(malformed)/\(name).fixture", toPath: "\(dir)/\(name).fixture")
        }
        let good = repository.appendingPathComponent("Fixtures/corpus/gen-6.12-private-seed1.fixture").path
        try FileManager.default.copyItem(atPath: good, toPath: dir + "/good.fixture")

        // As `run --fixtures DIR` (the suite first) and `replay DIR` plan them.
        let replays = FixtureTests(replayer: FixtureReplayer(generation: .v6_1), kernelProfile: nil).plan(expanding: [dir])
        let planned = TestPlan().tests(suite: withSuite, replays: replays).filter { $0.test.id.fixture == "replay" }
        let byName = Dictionary(planned.map { ($0.test.id.name, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(planned.count == Self.traps.count + 1)
        // The good fixture is a real replay (it needs root and its device), not a broken one.
        #expect(byName["good"]?.test.needs.isEmpty == false)
        for name in Self.traps {
            let test = try #require(byName[name], "\(name) not planned")
            #expect(test.test.needs.isEmpty)
            do {
                try test.test.body(TestContext(id: test.test.id, variant: test.variant,
                                               facts: SystemFacts.gather(generation: UAPIDetection(generation: .v6_1, reason: "test")),
                                               emit: { _ in }))
                Issue.record("\(name) did not fail")
            } catch let failure as TestFailure {
                let message = failure.message
                let prefix = "\(dir)/\(name).fixture:"
                #expect(message.hasPrefix(prefix), "\(name): \(message)")
                #expect(message.dropFirst(prefix.count).first?.isNumber == true, "\(name): \(message)")
            } catch {
                Issue.record("\(name): \(error)")
            }
        }
    }
}
