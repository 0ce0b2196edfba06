import Foundation
import HMMFixtures
import HMMModel
import HMMWorkflows
import Testing

/// `gen` and `fixture expect/check` through FixtureFiles.
@Suite struct FixtureFilesTests {
    @Test func generatedFixturesAreCleanAndAMissingFileIsOneProblem() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var written: [String] = []
        try FixtureFiles.generate(seeds: [1, 2], profile: .linux6_12, environment: Environment(devices: [0, 1], nodes: [0], thp: .never),
                                  steps: 10, into: dir + "/out") { written.append($0) }
        #expect(written == [dir + "/out/gen-linux-6.12-seed1.fixture", dir + "/out/gen-linux-6.12-seed2.fixture"])
        var lines: [String] = []
        #expect(FixtureFiles.check(written, forbidHazards: false) { lines.append($0) })
        #expect(lines.isEmpty)
        #expect(FixtureFiles.expect(written) { lines.append($0) })
        #expect(lines == written.map { "\($0): unchanged" })

        lines = []
        #expect(!FixtureFiles.check(written + [dir + "/none.fixture"], forbidHazards: true) { lines.append($0) })
        #expect(lines.count == 1 && lines[0].hasPrefix(dir + "/none.fixture:1: cannot read: "), "\(lines)")
    }
}
