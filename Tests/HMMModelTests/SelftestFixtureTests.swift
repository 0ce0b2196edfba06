import Foundation
import HMMFixtures
import HMMModel
import Testing

/// `Fixtures/selftest`: the kernel's `hmm-tests.c` cases the fixture language can express, one file per
/// case and variant (`hmm-private-anon_read.fixture`, `hmm2-coherent-snapshot.fixture`), checked by the
/// reference model (see `Fixtures/README.md`).
@Suite struct SelftestFixtureTests {
    static let directory = FixtureDirectory("selftest")
    static var files: [String] { directory.files }

    /// hmm-tests.c's TEST_F cases per fixture (6.12).
    static let cases: [String: Set<String>] = [
        "hmm": ["open_close", "anon_read", "anon_read_prot", "anon_write", "anon_write_prot", "anon_write_child",
                "anon_write_child_shared", "anon_write_huge", "anon_write_hugetlbfs", "file_read", "file_write", "migrate",
                "migrate_file_private", "migrate_fault", "migrate_release", "migrate_shared", "migrate_multiple",
                "anon_read_multiple", "anon_teardown", "mixedmap", "compound", "exclusive", "exclusive_mprotect",
                "exclusive_cow", "hmm_gup_test", "hmm_cow_in_device"],
        "hmm2": ["migrate_mixed", "snapshot", "double_map"],
    ]

    /// `<fixture>-<private|coherent>-<case>.fixture`, the case one of hmm-tests.c's.
    static func parts(_ name: String) -> (fixture: String, variant: String, test: String)? {
        let base = name.split(separator: "/").last.map(String.init) ?? name
        let p = base.dropLast(".fixture".count).split(separator: "-", maxSplits: 2).map(String.init)
        guard p.count == 3, let known = cases[p[0]], known.contains(p[2]), ["private", "coherent"].contains(p[1]) else { return nil }
        return (p[0], p[1], p[2])
    }

    @Test func everyExpressibleCaseHasBothVariants() {
        let names = Self.files.compactMap(Self.parts)
        #expect(names.count == Self.files.count)
        // Not expressible (Fixtures/README.md): the racing thread, the device-file mmap, gup_test.
        let expressible = Self.cases.values.reduce(0) { $0 + $1.count } - 3
        #expect(Set(names.map { "\($0.fixture).\($0.variant).\($0.test)" }).count == 2 * expressible)
    }

    @Test(arguments: SelftestFixtureTests.files) func isCurrentAndSafe(name: String) throws {
        let (text, _) = try Self.directory.load(name)
        let problems = FixtureMaintenance.problems(in: text, file: name, allowHazards: false)
        #expect(problems.isEmpty, "\(problems.map(\.description).joined(separator: "\n"))")
    }

    /// The test VM's header, the device numbers of the variant, and an `about` line citing the case under kselftest's name.
    @Test(arguments: SelftestFixtureTests.files) func citesTheCaseOnTheTestMachine(name: String) throws {
        let f = try Self.directory.load(name).fixture
        let p = try #require(Self.parts(name))
        #expect(f.environment.devices == [0, 1, 2, 3] && f.environment.nodes == [0, 1] && f.environment.localNode == 0)
        #expect(f.environment.thp == .madvise && f.environment.coherentCapacity == Environment().coherentCapacity)
        #expect(f.about.first?.hasPrefix("\(p.fixture).\(p.fixture)_device_\(p.variant).\(p.test) (") == true)
        let minors = p.variant == "private" ? [0, 1] : [2, 3]
        for case let .open(_, minor) in f.steps.map(\.action) where !(p.test.hasPrefix("anon_write_child") && minor == 0) {
            #expect(minors.contains(minor), "\(name) opens device \(minor)")
        }
    }

    /// Top-level files serve 6.1 and 6.12 alike; `linux-6.1/`, `linux-6.12/` hold the ones that differ.
    @Test(arguments: SelftestFixtureTests.files) func profile(name: String) throws {
        let f = try Self.directory.load(name).fixture
        let other: KernelProfile = f.profile == .linux6_1 ? .linux6_12 : .linux6_1
        if name.contains("/") {
            #expect(name.hasPrefix("linux-\(f.profile.since.major).\(f.profile.since.minor)/"))
            #expect(!f.sameExpectations(under: other))
        } else {
            #expect(f.profile == .linux6_12)
            #expect(f.sameExpectations(under: other), "expectations differ between linux-6.1 and linux-6.12")
        }
    }
}
