import Foundation
import HMMFixtures
import HMMModel
import HMMUAPI
import Testing

/// `FixtureMaintenance`: filling in and checking the model's expectations in hand-written fixtures.
@Suite struct FixtureMaintenanceTests {
    static let authored = """
    hmmkit-fixture 1
    about A hand-written fixture.
    profile linux-6.12
    devices 0 1
    nodes 0
    local-node 0
    thp never
    # steps
    open f0 dev=0
    mmap r0 pages=2 prot=rw kind=anon-private
    # A comment the author wants to keep.
    cpu-write r0 0 0x10

    ioctl f0 migrate-to-dev r0 0 2
    fork {
    open f1 dev=1
    ioctl f1 read r0 0 1
    }
    ioctl f0 migrate-to-dev r0 0 3
    """

    @Test func fillsInExpectationsAndKeepsComments() throws {
        let filled = try FixtureMaintenance.withExpectations(Self.authored, file: "a.fixture")
        #expect(filled.contains("\n# A comment the author wants to keep.\ncpu-write r0 0 0x10  => ok\n\nioctl f0 migrate-to-dev"))
        #expect(filled.contains("ioctl f0 migrate-to-dev r0 0 2  => ok cpages=2 faults=0 data=[0x10,0x0]\n"))
        // Fork blocks are indented; the fork and its end carry no expectation.
        #expect(filled.contains("fork {\n  open f1 dev=1  => ok\n  ioctl f1 read r0 0 1  => ok cpages=1 faults=1 data=[0x10]\n}\n"))
        // The last step breaks a precondition: it keeps no expectation, and the check says where.
        #expect(filled.hasSuffix("ioctl f0 migrate-to-dev r0 0 3"))
        let problems = FixtureMaintenance.problems(in: filled, file: "a.fixture")
        #expect(problems.map(\.description) == ["a.fixture:19: precondition: range r0 0 3 outside region span 2"])
        // Filling in is idempotent.
        #expect(try FixtureMaintenance.withExpectations(filled, file: "a.fixture") == filled)
    }

    @Test func checkReportsStaleExpectationsNotesAndHazards() throws {
        var text = try FixtureMaintenance.withExpectations(
            Self.authored.replacingOccurrences(of: "ioctl f0 migrate-to-dev r0 0 3", with: "ioctl f0 read r0 0 2"), file: "b")
        #expect(FixtureMaintenance.problems(in: text, file: "b").isEmpty)
        // The final READ of f0's own pages after fork dropped its mirror is a hazard.
        let hazards = FixtureMaintenance.problems(in: text, file: "b", allowHazards: false)
        #expect(hazards.count == 1 && hazards[0].line == 19 && hazards[0].message.hasPrefix("hazard step: HAZARD:"))
        text = text.replacingOccurrences(of: "faults=0 data=[0x10,0x0]", with: "faults=0 data=[0x10,0x1]")
        text = text.replacingOccurrences(of: "#: HAZARD", with: "#: hazard")
        let problems = FixtureMaintenance.problems(in: text, file: "b")
        #expect(problems.map(\.line) == [14, 19])
        #expect(problems[0].message.contains("'ok cpages=2 faults=0 data=[0x10,0x1]' differs from the model's 'ok cpages=2 faults=0 "
            + "data=[0x10,0x0]'"))
        #expect(problems[1].message.hasPrefix("notes differ from the model's: [HAZARD:"))
        // A missing expectation is a difference too; a parse error is reported with its line.
        let withoutMigrate = Self.authored.replacingOccurrences(of: "\nioctl f0 migrate-to-dev r0 0 3", with: "")
        let bare = FixtureMaintenance.problems(in: withoutMigrate, file: "c")
        #expect(bare.first?.description == "c:9: expectation none differs from the model's 'ok'")
        #expect(FixtureMaintenance.problems(in: "hmmkit-fixture 1\nprofile linux-6.12\nzap\n", file: "d").map(\.description)
            == ["d:3: unknown operation 'zap'"])
    }

    @Test func sameExpectationsAcrossProfiles() throws {
        let base = try Fixture.parse(Self.authored.replacingOccurrences(of: "\nioctl f0 migrate-to-dev r0 0 3", with: ""))
        #expect(base.sameExpectations(under: .linux6_1) && base.sameExpectations(under: .linux6_12))
        // move_pages on an empty anonymous PTE: -ENOENT on 6.12, -EFAULT on 6.1.
        var hole = base
        hole.environment.nodes = [0, 1]
        hole.steps.append(Step(.mmap(1, pages: 1, prot: .readWrite, kind: .anonPrivate, file: nil, offset: 0)))
        hole.steps.append(Step(.queryNodes(PageRange(1, 0, 1))))
        #expect(hole.sameExpectations(under: .linux6_12))
        #expect(!hole.sameExpectations(under: .linux6_1))
    }
}
