import Foundation
import HMMFixtures
import HMMModel
import HMMUAPI
import Testing

/// The hand-written scenarios in `Fixtures/scenarios` (see its table in `Fixtures/README.md`).
@Suite struct ScenarioTests {
    static let directory = FixtureDirectory("scenarios")
    static var files: [String] { directory.files }
    static func load(_ name: String) throws -> (text: String, fixture: Fixture) { try directory.load(name) }

    @Test func thereAreScenarios() {
        #expect(Self.files.count >= 20)
    }

    /// Parses, meets every precondition, has no hazard step and carries the current model's
    /// expectations (fill them in with `hmmkit fixture expect`).
    @Test(arguments: ScenarioTests.files) func isCurrentAndSafe(name: String) throws {
        let (text, _) = try Self.load(name)
        let problems = FixtureMaintenance.problems(in: text, file: name, allowHazards: false)
        #expect(problems.isEmpty, "\(problems.map(\.description).joined(separator: "\n"))")
    }

    /// The header is the test VM's: four devices, nodes 0 and 1, the runner on node 0, THP madvise (or never), and an
    /// `about` text naming what is checked.
    @Test(arguments: ScenarioTests.files) func assumesTheTestMachine(name: String) throws {
        let f = try Self.load(name).fixture
        #expect(f.environment.devices == [0, 1, 2, 3] && f.environment.nodes == [0, 1] && f.environment.localNode == 0)
        #expect(f.environment.thp == .madvise || f.environment.thp == .never)
        #expect(f.environment.coherentCapacity == Environment().coherentCapacity)
        #expect(f.profile == .linux6_12 || f.profile == .linux6_1)
        #expect(f.about.count >= 2, "about lines say what the scenario checks and which code path it aims at")
    }

    /// Scenarios run on 6.1 and 6.12 kernels alike: their expectations must not depend on which of the two profiles
    /// derives them, unless the file name ends in the profile's version (`-6.1.fixture`, `-6.12.fixture`).
    @Test(arguments: ScenarioTests.files) func portableBetween61And612(name: String) throws {
        let f = try Self.load(name).fixture
        let specific = name.hasSuffix("-6.1.fixture") || name.hasSuffix("-6.12.fixture")
        let other: KernelProfile = f.profile == .linux6_1 ? .linux6_12 : .linux6_1
        if specific {
            #expect(!f.sameExpectations(under: other), "\(name) is named for one profile but does not depend on it")
            #expect(name.hasSuffix("-\(f.profile.since.major).\(f.profile.since.minor).fixture"))
        } else {
            #expect(f.sameExpectations(under: other), "expectations differ between linux-6.1 and linux-6.12")
        }
    }
}
