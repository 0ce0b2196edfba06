import Foundation
import HMMFixtures
import Testing

@testable import HMMModel

/// `Model.apply` skips its state backup when a step cannot have several results. The
/// shortcut must never change an envelope or where `commit` leads: each sequence runs
/// through a model that always backs up and one that does not, the kernel's answers
/// drawn at random from inside each envelope, and every envelope must agree.
@Suite struct BackupEquivalenceTests {
    static let fixtureRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// An observation inside `e`: a random outcome, a random allowed value per page.
    static func draw(_ e: Envelope, _ rng: inout SystemRandomNumberGenerator) -> Observation {
        let o = e.outcomes.randomElement(using: &rng)!
        func pick<T>(_ v: PageValues<T>?) -> [T]? {
            v.map { values in (0..<values.count).map { values.allowed(at: $0).randomElement(using: &rng)! } }
        }
        return Observation(errno: o.errno, cpages: o.cpages, faults: o.faults?.lowerBound,
                           tokens: pick(o.tokens).map { $0.map { Optional($0) } }, snapshot: pick(o.snapshot), nodes: pick(o.nodes))
    }

    /// A model that backs up before every step, one that backs up when a step may vary, and
    /// one that only follows CPU writes (as the suite's checker does) agree on every envelope.
    static func compare(_ fixture: Fixture, _ name: String) -> String? {
        var always = fixture.makeModel()
        always.alwaysBackup = true
        var fast = fixture.makeModel()
        var follower = fixture.makeModel()
        var rng = SystemRandomNumberGenerator()
        for (i, step) in fixture.steps.enumerated() {
            if always.violation(of: step.action) != nil { return nil }  // a branch ended the fixture
            let a = always.apply(step.action)
            let b = fast.apply(step.action)
            if a != b { return "\(name) step \(i + 1) \(step.action.fixtureText): \(a) vs \(b)" }
            let answer = draw(a, &rng)
            if always.commit(answer) != fast.commit(answer) { return "\(name) step \(i + 1): commit differs" }
            if case .cpuWrite = step.action {
                // A write's envelope is its primary outcome alone: no answer can move the model elsewhere.
                if a.outcomes.count != 1 { return "\(name) step \(i + 1): a CPU write with several outcomes: \(a)" }
                let f = follower.follow(step.action)
                if f.outcomes != a.outcomes || f.hazard != a.hazard || f.kernelWarning != a.kernelWarning {
                    return "\(name) step \(i + 1) \(step.action.fixtureText): followed \(f) vs \(a)"
                }
            } else {
                let c = follower.apply(step.action)
                if c != a { return "\(name) step \(i + 1) \(step.action.fixtureText) after followed writes: \(c) vs \(a)" }
                follower.commit(answer)
            }
        }
        return nil
    }

    @Test func checkedInFixtures() throws {
        var checked = 0
        let directories = ["corpus", "corpus/thp-migration", "selftest", "scenarios", "scenarios/linux-6.1", "scenarios/linux-6.12",
                           "hazards"]
        for directory in directories {
            let url = Self.fixtureRoot.appendingPathComponent(directory)
            for name in try FileManager.default.contentsOfDirectory(atPath: url.path).sorted() where name.hasSuffix(".fixture") {
                let fixture = try Fixture.parse(String(contentsOf: url.appendingPathComponent(name), encoding: .utf8), file: name)
                for _ in 0..<3 { #expect(Self.compare(fixture, directory + "/" + name) == nil) }
                checked += 1
            }
        }
        #expect(checked > 80)
    }

    @Test(arguments: [THPMode.never, .madvise, .always])
    func generatedSequences(thp: THPMode) {
        for profile in KernelProfile.all {
            for seed in UInt64(1)...40 {
                var g = FixtureGenerator(seed: seed &* 7919, profile: profile,
                                         environment: Environment(devices: [0, 1, 2, 3], nodes: [0, 1], thp: thp))
                #expect(Self.compare(g.generate(steps: 60), "\(profile.name) thp \(thp) seed \(seed)") == nil)
            }
        }
    }
}
