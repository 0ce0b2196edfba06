import Foundation
import HMMFixtures
import HMMModel
import Testing

/// `Fixtures/scenarios/zero-page-migrate-private.fixture`, which `scripts/demo-series` relies
/// on to catch a kernel that no longer migrates the shared zero page.
@Suite struct ZeroPageFixtureTests {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/scenarios/zero-page-migrate-private.fixture").path

    func load() throws -> (String, Fixture) {
        let text = try String(contentsOfFile: Self.path, encoding: .utf8)
        return (text, try Fixture.parse(text, file: Self.path))
    }

    @Test func parsesWithCurrentExpectationsAndNoViolation() throws {
        let (text, fixture) = try load()
        #expect(fixture.firstViolation() == nil)
        #expect(fixture.derived().text == text, "expectations differ from the current model")
        #expect(!fixture.derived().steps.contains { $0.notes.contains { $0.hasPrefix("HAZARD:") } })
    }

    @Test func assumesTheTestVMAndRunsOn61And612Alike() throws {
        var fixture = try load().1
        #expect(fixture.environment.devices == [0, 1, 2, 3] && fixture.environment.nodes == [0, 1])
        #expect(fixture.environment.localNode == 0 && fixture.environment.thp == .madvise)
        #expect(fixture.about.count >= 2)
        let own = fixture.derived().steps.map(\.expectation)
        fixture.profile = .linux6_1
        #expect(fixture.derived().steps.map(\.expectation) == own)
    }

    /// The point of the fixture: the zero-page-backed pages are read (so they map the zero
    /// page, not nothing) and MIGRATE_TO_DEV must move all eight.
    @Test func migratesZeroPageBackedMemory() throws {
        let fixture = try load().1.derived()
        let migrate = try #require(fixture.steps.first { $0.action.fixtureText.hasPrefix("ioctl f0 migrate-to-dev r0 0 8") })
        #expect(migrate.expectation?.hasPrefix("ok cpages=8 ") == true)
        let reads = fixture.steps.prefix { !$0.action.fixtureText.hasPrefix("ioctl") }
            .filter { $0.action.fixtureText.hasPrefix("cpu-read") }
        #expect(reads.count == 7)
        let snapshot = try #require(fixture.steps.first { $0.action.fixtureText.hasPrefix("ioctl f0 snapshot") })
        #expect(snapshot.expectation?.contains("snap=[11*4,02,11*3]") == true)  // zero page: read-only mapped
    }
}
