import Foundation
import HMMFixtures
import KTAP
import Testing
@testable import HMMFuzz

/// Stands in for VMs: answers each replayed program from a table keyed by seed, and
/// records which programs each "boot" got.
final class ScriptedRunner: ProgramRunner, @unchecked Sendable {
    var outcome: (UInt64, _ purpose: ReplayPurpose, _ programsInBoot: Int) -> KTAPTestCase?
    /// Guarded by `lock`: with --jobs several batches replay at once.
    var boots: [[String]] = []
    private let lock = NSLock()

    init(_ outcome: @escaping (UInt64, ReplayPurpose, Int) -> KTAPTestCase?) { self.outcome = outcome }

    func replay(directory: String, purpose: ReplayPurpose, log: String) throws -> ProgramRun {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".fixture") }.sorted()
        lock.lock()
        boots.append(files)
        lock.unlock()
        var results: [KTAPTestCase] = []
        for file in files {
            let text = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
            let seed = text.split(separator: "\n").first { $0.hasPrefix("seed ") }.flatMap { UInt64($0.dropFirst(5)) } ?? 0
            let name = "replay.\((directory as NSString).lastPathComponent).\((file as NSString).deletingPathExtension)"
            var result = outcome(seed, purpose, files.count) ?? KTAPTestCase(name: "", status: .pass)
            result.name = name
            results.append(result)
        }
        return ProgramRun(results: results, boots: 1)
    }
}

private func crash(_ function: String) -> KTAPTestCase {
    KTAPTestCase(name: "", status: .error, reason: "VM died",
                 diagnostics: ["console: BUG: kernel NULL pointer dereference, address: 0000000000000008",
                               "console: RIP: 0010:\(function)+0x65/0x80 [test_hmm]"])
}

private func divergence(_ signature: String) -> KTAPTestCase {
    KTAPTestCase(name: "", status: .fail, diagnostics: ["step 3: munmap r0 0 1", ReplayDiagnostics.divergenceSignature + signature])
}

private func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "hmmkit-fuzz-test-" + UUID().uuidString
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

private func newState(batch: Int = 5) -> CampaignState {
    CampaignState(kernel: "debian-6.12", release: "6.12.118",
                  generator: .init(profile: "linux-6.12", steps: 12, devices: [0, 1], nodes: [0], thp: "madvise", batchSize: batch),
                  firstSeed: 100)
}

@Suite struct CampaignTests {
    @Test func jobsRunBatchesOfTheirOwnSeedsAtOnce() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let runner = ScriptedRunner { seed, _, _ in
            switch seed {
            case 101, 104: crash("dmirror_do_read")
            case 105: divergence("munmap / result")
            default: nil
            }
        }
        var options = FuzzCampaign.Options(duration: 0)
        options.reproduce = false
        options.jobs = 2
        let campaign = FuzzCampaign(directory: dir, state: newState(batch: 3), runner: runner, options: options) { _ in }
        try campaign.makeDirectories()
        try campaign.runBatch(baseSeconds: 0)
        let state = campaign.state
        #expect(state.execs == 6)
        #expect(state.nextSeed == 106)
        #expect(state.batches == 2)
        #expect(Set(runner.boots) == [["seed00000000000000000100.fixture", "seed00000000000000000101.fixture",
                                       "seed00000000000000000102.fixture"],
                                      ["seed00000000000000000103.fixture", "seed00000000000000000104.fixture",
                                       "seed00000000000000000105.fixture"]])
        let crashEvent = try #require(state.events.first { $0.kind == .crash })
        #expect(crashEvent.count == 2)
        #expect(crashEvent.firstSeed == 101)
        #expect(crashEvent.bootHistory == [100, 101])
        #expect(state.events.first { $0.kind == .divergence }?.firstSeed == 105)
        #expect(FileManager.default.fileExists(atPath: dir + "/batch-2/seed00000000000000000105.fixture"))
    }

    @Test func duplicatesCollapseAndEachKindIsCounted() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let runner = ScriptedRunner { seed, _, _ in
            switch seed {
            case 101, 103: crash("dmirror_do_read")
            case 102: divergence("munmap / result")
            case 104: divergence("munmap / result")
            default: nil
            }
        }
        var options = FuzzCampaign.Options(duration: 0)
        options.reproduce = false
        let campaign = FuzzCampaign(directory: dir, state: newState(), runner: runner, options: options) { _ in }
        try campaign.makeDirectories()
        try campaign.runBatch(baseSeconds: 0)
        let state = campaign.state
        #expect(state.execs == 5)
        #expect(state.nextSeed == 105)
        #expect(state.events.count == 2)
        let crashEvent = try #require(state.events.first { $0.kind == .crash })
        #expect(crashEvent.count == 2)
        #expect(crashEvent.firstSeed == 101)
        // The boot of the first crash ran 100 then 101.
        #expect(crashEvent.bootHistory == [100, 101])
        #expect(state.events.first { $0.kind == .divergence }?.count == 2)
        // Saved, and a resume reads back the same state.
        #expect(try CampaignState.load(directory: dir) == state)
        #expect(FileManager.default.fileExists(atPath: dir + "/" + crashEvent.files[0]))
    }

    @Test func aCrashThatNeedsItsPredecessorsIsReproducedWithThem() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Seed 103 crashes only when at least 3 programs ran before it in the boot.
        let runner = ScriptedRunner { seed, _, inBoot in seed == 103 && inBoot >= 4 ? crash("rmap_walk_anon") : nil }
        var options = FuzzCampaign.Options(duration: 0)
        options.reproductionHistory = 2
        let campaign = FuzzCampaign(directory: dir, state: newState(), runner: runner, options: options) { _ in }
        try campaign.makeDirectories()
        try campaign.runBatch(baseSeconds: 0)
        let event = try #require(campaign.state.events.first)
        // Alone: no; with the 2 before it: no; with all 3 of its boot: yes.
        #expect(event.reproduction == .withPrevious(count: 3))
        #expect(runner.boots.count == 4)
        #expect(runner.boots[1].count == 1)
        #expect(runner.boots[2].count == 3)
    }

    @Test func aCrashTheProgramAloneReproducesIsShrunkOnFreshBoots() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let runner = ScriptedRunner { seed, purpose, _ in
            switch purpose {
            case .campaign: seed == 102 ? crash("dmirror_do_read") : nil
            // Any candidate still "crashes": the shrinker takes it down to its floor.
            case .reproduction: crash("dmirror_do_read")
            }
        }
        var options = FuzzCampaign.Options(duration: 0)
        options.shrinkBoots = 40
        let campaign = FuzzCampaign(directory: dir, state: newState(), runner: runner, options: options) { _ in }
        try campaign.makeDirectories()
        try campaign.runBatch(baseSeconds: 0)
        let event = try #require(campaign.state.events.first)
        guard case let .shrunk(from, to, boots) = event.reproduction else {
            Issue.record("not shrunk: \(event.reproduction)"); return
        }
        #expect(from == 12)
        #expect(to < from)
        #expect(boots <= 40)
        let reproducer = try #require(event.files.first { $0.hasSuffix(".c") })
        #expect(try String(contentsOfFile: dir + "/" + reproducer, encoding: .utf8).contains("TEST_F"))
    }

    @Test func aMalformedCampaignFileIsRefusedWithItsPath() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "{\"format\": 1}".write(toFile: dir + "/campaign.json", atomically: true, encoding: .utf8)
        #expect { try CampaignState.load(directory: dir) } throws: { error in
            "\(error)".hasPrefix(dir + "/campaign.json:1: not a campaign file")
        }
        var bad = newState()
        bad.generator.profile = "linux-9.9"
        try bad.save(directory: dir)
        #expect { try CampaignState.load(directory: dir) } throws: { "\($0)".contains("unknown kernel profile 'linux-9.9'") }
    }

    @Test func theReportGroupsDivergencesByOperation() throws {
        var state = newState()
        state.events = [
            .init(kind: .crash, signature: "general protection fault in rmap_walk_anon", count: 3, firstSeed: 374,
                  bootHistory: [374], evidence: [], reproduction: .shrunk(from: 60, to: 7, boots: 22),
                  files: ["events/crash-1/reproducer.c"]),
            .init(kind: .divergence, signature: "munmap / result", count: 1, firstSeed: 5, bootHistory: [5], evidence: []),
            .init(kind: .divergence, signature: "cpu-read / data", count: 2, firstSeed: 9, bootHistory: [9], evidence: []),
        ]
        let text = FuzzReport.markdown(state, directory: "/c")
        #expect(text.contains("## Crashes (1 distinct, 3 in all)"))
        #expect(text.contains("shrunk from 60 to 7 steps in 22 fresh boots"))
        #expect(text.contains("### `cpu-read` (profile linux-6.12)"))
        #expect(text.contains("### `munmap` (profile linux-6.12)"))
        #expect(text.contains("## Hangs (0 distinct, 0 in all)"))
    }

    @Test(arguments: [("90s", 90.0), ("10m", 600), ("1h", 3600), ("1h30m", 5400), ("45", 45)])
    func durationsParse(text: String, seconds: Double) {
        #expect(FuzzDuration(parsing: text)?.seconds == seconds)
    }

    @Test(arguments: ["", "0", "-5", "1x", "h", "9999999999h", "8d", "nan", "inf", "1e400"])
    func badDurationsAreRefused(text: String) {
        #expect(FuzzDuration(parsing: text) == nil)
    }
}

/// `fuzz run`'s start: a new campaign or the saved one, and its KTAP at the end.
@Suite struct CampaignStartTests {
    let settings = CampaignState.GeneratorSettings(profile: "", steps: 12, devices: [0, 1], nodes: [0], thp: "madvise", batchSize: 5)

    @Test func aNewCampaignTakesItsProfileFromTheRelease() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let state = try CampaignState.resumeOrStart(directory: dir, kernel: "debian-6.1", release: "6.1.158", settings: settings,
                                                    firstSeed: 7, log: { Issue.record("logged \($0)") })
        #expect(state.generator.profile == "linux-6.1")
        #expect(state.firstSeed == 7 && state.nextSeed == 7 && state.release == "6.1.158")
    }

    @Test func theSavedCampaignResumesOnItsOwnReleaseOnly() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let saved = newState()
        try saved.save(directory: dir)
        var lines: [String] = []
        let resumed = try CampaignState.resumeOrStart(directory: dir, kernel: "debian-6.12", release: "6.12.118", settings: settings,
                                                      firstSeed: 1, log: { lines.append($0) })
        #expect(resumed == saved)
        #expect(lines == ["resuming \(dir) at seed 100 (0 execs so far); its generator settings apply"])
        let refused = #expect(throws: FuzzError.self) {
            try CampaignState.resumeOrStart(directory: dir, kernel: "debian-6.12", release: "6.12.119", settings: settings,
                                            firstSeed: 1, log: { _ in })
        }
        #expect(refused?.description == "\(dir) is a campaign on 6.12.118, not 6.12.119; use another --output")
    }

    @Test func aCampaignWithoutEventsIsOnePassingResult() {
        var lines: [String] = []
        let code = FuzzReport.ktap(newState(), directory: "/d") { lines.append($0) }
        #expect(code == .pass)
        #expect(lines.first == "TAP version 13" && lines.contains("1..1"))
        #expect(lines.contains { $0.hasPrefix("ok 1 fuzz.campaign") })
    }
}
