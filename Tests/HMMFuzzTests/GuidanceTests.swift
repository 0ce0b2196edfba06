import Foundation
import HMMFixtures
import HMMModel
import KTAP
import Testing
@testable import HMMFuzz

/// Stands in for a KCOV kernel's VMs: program number `n` (from its file name) reaches the
/// PCs `coverage(n)`, sent as the guest sends them.
final class CoveringRunner: ProgramRunner, @unchecked Sendable {
    let coverage: (UInt64, Fixture) -> [UInt64]
    let event: (UInt64) -> KTAPTestCase?
    var programs: [UInt64: Fixture] = [:]

    init(coverage: @escaping (UInt64, Fixture) -> [UInt64], event: @escaping (UInt64) -> KTAPTestCase? = { _ in nil }) {
        self.coverage = coverage
        self.event = event
    }

    func replay(directory: String, purpose: ReplayPurpose, log: String) throws -> ProgramRun {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".fixture") }.sorted()
        var results: [KTAPTestCase] = []
        for file in files {
            let stem = (file as NSString).deletingPathExtension
            let n = UInt64(stem.dropFirst(4)) ?? 0
            let fixture = try Fixture.parse(String(contentsOfFile: directory + "/" + file, encoding: .utf8), file: file)
            programs[n] = fixture
            let pcs = coverage(n, fixture).sorted()
            var result = event(n) ?? KTAPTestCase(name: "", status: .pass)
            result.name = "replay.\((directory as NSString).lastPathComponent).\(stem)"
            result.diagnostics = [KCOVWire.summaryPrefix + "\(pcs.count) PCs"] + KCOVWire.encode(pcs) + result.diagnostics
            results.append(result)
        }
        return ProgramRun(results: results, boots: 1)
    }
}

private func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "hmmkit-guided-test-" + UUID().uuidString
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

private func guidedState(batch: Int = 10) -> CampaignState {
    var state = CampaignState(kernel: "debian-6.12", release: "6.12.118",
                              generator: .init(profile: "linux-6.12", steps: 20, devices: [0, 1], nodes: [0, 1], thp: "madvise",
                                               batchSize: batch),
                              firstSeed: 1)
    state.guidance = GuidanceState()
    return state
}

private let kernelBase: UInt64 = 0xffff_ffff_8120_0000

/// Coverage that grows with what a program does: one PC per distinct step kind and length bucket.
private func stepCoverage(_ n: UInt64, _ fixture: Fixture) -> [UInt64] {
    Array(Set(fixture.steps.map { kernelBase + UInt64(StableHash.fnv1a64($0.action.kindName) % 4096) * 4 }))
        + [kernelBase + 0x10_0000 + UInt64(fixture.steps.count)]
}

@Suite struct GuidanceTests {
    @Test func wireLinesRoundTripSortedPCs() {
        let pcs: [UInt64] = (0..<150).map { kernelBase + UInt64($0 * $0) } + [KCOVWire.modulePC(section: ".text", offset: 0x42)!]
        let sorted = Array(Set(pcs)).sorted()
        let lines = KCOVWire.encode(sorted)
        #expect(lines.count == 3)
        #expect(lines.allSatisfy { $0.hasPrefix(KCOVWire.pcsPrefix) && KCOVWire.isWireLine($0) })
        let (back, malformed) = KCOVWire.pcs(in: ["step 1: munmap"] + lines)
        #expect(malformed == 0)
        #expect(back == sorted)
    }

    @Test(arguments: ["kcov-pcs: +1", "kcov-pcs: zz", "kcov-pcs: 10 20", "kcov-pcs: ffffffffffffffff +1",
                      "kcov-pcs: 1ffffffffffffffff", "kcov-pcs: 10 +-1"])
    func malformedWireLinesAreCountedNotTrusted(line: String) {
        #expect(KCOVWire.decode(line: line) == nil)
        #expect(KCOVWire.pcs(in: [line]).malformed == 1)
    }

    @Test func modulePCsNeverLookLikeKernelPCs() {
        let pc = KCOVWire.modulePC(section: ".text", offset: 0xffff_ffff)!
        #expect(KCOVWire.isModulePC(pc) && !KCOVWire.isKernelPC(pc))
        #expect(KCOVWire.modulePC(section: ".text", offset: 1 << 32) == nil)
        #expect(KCOVWire.modulePC(section: ".text", offset: 8) != KCOVWire.modulePC(section: ".text.unlikely", offset: 8))
        #expect(!KCOVWire.isModulePC(kernelBase))
    }

    @Test func signalFilesRoundTripAndBadLinesNameTheirLine() throws {
        var signal = CoverageSignal()
        #expect(signal.add([3, 1, 2, 2]) == 3)
        #expect(signal.add([2, 4]) == 1)
        #expect(try CoverageSignal.parse(signal.text, file: "s") == signal)
        #expect(throws: FuzzError.self) { try CoverageSignal.parse("1f\nnope\n", file: "dir/kcov-signal.txt") }
        do { _ = try CoverageSignal.parse("1f\nnope\n", file: "dir/kcov-signal.txt") } catch {
            #expect("\(error)".hasPrefix("dir/kcov-signal.txt:2: "))
        }
    }

    @Test func planIsFreshWithoutACorpusAndDeterministic() {
        for n in UInt64(0)..<50 { #expect(ProgramPlan.plan(program: n, corpusSignal: []) == .generate) }
        let corpus = [5, 200, 1]
        for n in UInt64(0)..<50 {
            #expect(ProgramPlan.plan(program: n, corpusSignal: corpus) == ProgramPlan.plan(program: n, corpusSignal: corpus))
            #expect(ProgramPlan.plan(program: n, corpusSignal: corpus, freshPercent: 100) == .generate)
            #expect(ProgramPlan.plan(program: n, corpusSignal: corpus, freshPercent: 0) != .generate)
        }
    }

    @Test func planFavoursEntriesThatAddedMoreButStarvesNone() {
        var picks = [0, 0, 0]
        var fresh = 0
        for n in UInt64(0)..<4000 {
            switch ProgramPlan.plan(program: n, corpusSignal: [1, 100, 1]) {
            case .generate: fresh += 1
            case let .mutate(entry, other, _):
                picks[entry] += 1
                #expect(other != entry)
            }
        }
        #expect((800...1200).contains(fresh))  // 25 %
        #expect(picks[1] > 5 * picks[0] && picks[1] > 5 * picks[2])
        #expect(picks[0] > 50 && picks[2] > 50)
    }

    @Test func mutantsKeepTheModelsPreconditionsAndAvoidHazards() {
        let environment = Environment(devices: [0, 1, 2, 3], nodes: [0, 1], thp: .madvise)
        var generator = FixtureGenerator(seed: 7, profile: .linux6_12, environment: environment)
        let corpus = (0..<8).map { _ in generator.generate(steps: 30) }
        let mutator = FixtureMutator(maxSteps: 60)
        var operations = Set<FixtureMutator.Operation>()
        var changed = 0
        for k in 0..<200 {
            var rng = Xoshiro256(seed: UInt64(k))
            let base = corpus[k % corpus.count]
            let (mutant, ops) = mutator.mutate(base, other: corpus[(k + 3) % corpus.count], rng: &rng)
            operations.formUnion(ops)
            #expect(mutant.firstViolation() == nil, "mutant \(k): \(mutant.firstViolation().map { "\($0)" } ?? "")")
            #expect(mutant.steps.count <= 60)
            #expect(!mutant.steps.contains { $0.notes.contains { $0.hasPrefix("HAZARD:") || $0.hasPrefix("WARN:") } })
            #expect(mutant == mutant.derived())
            // Its text is a fixture the parser takes back unchanged.
            #expect((try? Fixture.parse(mutant.text))?.steps == mutant.steps)
            if mutant.steps.map(\.action) != base.steps.map(\.action) { changed += 1 }
            var again = Xoshiro256(seed: UInt64(k))
            #expect(mutator.mutate(base, other: corpus[(k + 3) % corpus.count], rng: &again).fixture == mutant)
        }
        #expect(operations == Set(FixtureMutator.Operation.allCases))
        #expect(changed > 180)
    }

    @Test func repairDropsWhatNoLongerHoldsAndClosesAForkBlock() {
        let steps = [Step(.munmap(PageRange(0, 0, 1))),  // no region 0 yet
                     Step(.mmap(0, pages: 4, prot: .readWrite, kind: .anonPrivate, file: nil, offset: 0)),
                     Step(.exitChild),  // no block open
                     Step(.fork), Step(.cpuWrite(0, page: 1, token: 0x300))]
        let repaired = FixtureMutator.repair(steps, profile: .linux6_12, environment: Environment())
        #expect(repaired.map(\.action) == [steps[1].action, .fork, steps[4].action, .exitChild])
        // A fork the model refuses (inside a block) goes with its whole block.
        let nested = [Step(.mmap(0, pages: 1, prot: .readWrite, kind: .anonPrivate, file: nil, offset: 0)), Step(.fork),
                      Step(.fork), Step(.cpuRead(0, page: 0)), Step(.exitChild), Step(.cpuWrite(0, page: 0, token: 0x400)),
                      Step(.exitChild)]
        let fixed = FixtureMutator.repair(nested, profile: .linux6_12, environment: Environment())
        #expect(fixed.map(\.action) == [nested[0].action, .fork, nested[5].action, .exitChild])
    }

    @Test func aGuidedCampaignKeepsProgramsThatAddCoverageAndMutatesThem() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let runner = CoveringRunner(coverage: stepCoverage) { n in
            n == 3 ? KTAPTestCase(name: "", status: .fail, diagnostics: [ReplayDiagnostics.divergenceSignature + "munmap / errno"]) : nil
        }
        var options = FuzzCampaign.Options(duration: 0)
        options.reproduce = false
        let campaign = FuzzCampaign(directory: dir, state: guidedState(), runner: runner, options: options) { _ in }
        try campaign.makeDirectories()
        try campaign.runBatch(baseSeconds: 0)
        var guidance = try #require(campaign.state.guidance)
        #expect(guidance.generated == 10 && guidance.mutated == 0)
        #expect(!guidance.corpus.isEmpty && guidance.corpus.count == guidance.generatedKept)
        #expect(guidance.corpus.first?.program == 1)
        // The divergent program's coverage counts, but it does not join the corpus.
        #expect(!guidance.corpus.contains { $0.program == 3 })
        #expect(campaign.signal.count >= campaign.corpusSignal.count)
        // Its event keeps the divergence, not the coverage lines.
        let event = try #require(campaign.state.events.first)
        #expect(!event.evidence.contains(where: KCOVWire.isWireLine))
        for entry in guidance.corpus { #expect(FileManager.default.fileExists(atPath: dir + "/" + entry.file)) }

        try campaign.runBatch(baseSeconds: 0)
        try campaign.runBatch(baseSeconds: 0)
        guidance = try #require(campaign.state.guidance)
        #expect(guidance.mutated > 0)
        #expect(guidance.history.count == 3)
        #expect(guidance.history.last?.signal == campaign.signal.count)
        let mutant = try #require(runner.programs[(11...30).first { runner.programs[$0]?.seed == nil }!])
        #expect(mutant.about.first?.contains("of corpus program") == true)
        #expect(mutant.firstViolation() == nil)
        let before = campaign.state

        // Resumed: the same corpus and signal from disk, the same next programs.
        let resumed = FuzzCampaign(directory: dir, state: try #require(try CampaignState.load(directory: dir)), runner: runner,
                                   options: options) { _ in }
        try resumed.loadGuidance()
        #expect(resumed.state == before)
        #expect(resumed.signal == campaign.signal && resumed.corpusSignal == campaign.corpusSignal)
        #expect(resumed.corpus == campaign.corpus)
        #expect(resumed.plannedProgram(31).fixture == campaign.plannedProgram(31).fixture)
    }

    @Test func aGuidedCampaignAndAnUnguidedOneDoNotResumeEachOther() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let settings = CampaignState.GeneratorSettings(profile: "", steps: 12, devices: [0], nodes: [0], thp: "madvise", batchSize: 5)
        let state = try CampaignState.resumeOrStart(directory: dir, kernel: "k", release: "6.12.118", settings: settings,
                                                    firstSeed: 1, guided: true) { _ in }
        #expect(state.guidance != nil)
        try state.save(directory: dir)
        #expect(throws: FuzzError.self) {
            try CampaignState.resumeOrStart(directory: dir, kernel: "k", release: "6.12.118", settings: settings, firstSeed: 1) { _ in }
        }
        #expect(try CampaignState.resumeOrStart(directory: dir, kernel: "k", release: "6.12.118", settings: settings,
                                                firstSeed: 1, guided: true) { _ in }.guidance != nil)
    }
}

@Suite struct KCOVSymbolTests {
    static let map = """
        ffffffff81000000 T _stext
        ffffffff81100000 t hmm_vma_walk_pmd
        ffffffff81100400 T hmm_range_fault
        ffffffff81200000 T do_swap_page
        ffffffff81200800 t memory_helper
        ffffffff81300000 T kmalloc
        ffffffff81400000 D some_data
        """

    static func symbols() throws -> KCOVSymbols {
        try KCOVSymbols(systemMap: map, file: "System.map", objects: [
            ("mm/hmm", ["hmm_vma_walk_pmd", "hmm_range_fault"]), ("mm/memory", ["do_swap_page", "memory_helper"]),
            ("lib/test_hmm", ["dmirror_fops_open"]),
        ])
    }

    @Test func pcsMapToTheFileOfTheirFunction() throws {
        let s = try Self.symbols()
        #expect(s.file(of: 0xffff_ffff_8110_0010) == "mm/hmm.c")
        #expect(s.file(of: 0xffff_ffff_8110_0400) == "mm/hmm.c")
        #expect(s.file(of: 0xffff_ffff_8120_0900) == "mm/memory.c")
        #expect(s.file(of: 0xffff_ffff_8130_0010) == nil)  // kmalloc: not instrumented
        #expect(s.file(of: 0xffff_ffff_8000_0000) == nil)  // before every symbol
        #expect(s.file(of: KCOVWire.modulePC(section: ".text", offset: 4)!) == "lib/test_hmm.c")
        let (perFile, unmapped) = s.breakdown([0xffff_ffff_8110_0010, 0xffff_ffff_8120_0010, 0xffff_ffff_8130_0010])
        #expect(perFile.map(\.file) == ["mm/hmm.c", "mm/memory.c", "lib/test_hmm.c"])
        #expect(perFile.map(\.pcs) == [1, 1, 0])
        #expect(unmapped == 1)
    }

    @Test func aBadSystemMapLineIsNamed() {
        do {
            _ = try KCOVSymbols(systemMap: "ffffffff81000000 T _stext\nnot a line\n", file: "k/System.map", objects: [])
            Issue.record("accepted a bad line")
        } catch { #expect("\(error)".hasPrefix("k/System.map:2: ")) }
    }

    @Test func aMissingKCOVDirectorySaysWhatKernelItNeeds() {
        do {
            _ = try KCOVSymbols(artifactDirectory: "/nonexistent-kernel")
            Issue.record("accepted a kernel without kcov/")
        } catch { #expect("\(error)".contains("scripts/kernel-build --kcov")) }
    }

    @Test func theReportShowsCoverageOfAGuidedCampaign() {
        var state = CampaignState(kernel: "debian-6.12", release: "6.12.118",
                                  generator: .init(profile: "linux-6.12", steps: 20, devices: [0], nodes: [0], thp: "madvise",
                                                   batchSize: 5), firstSeed: 1)
        var guidance = GuidanceState()
        guidance.history = [.init(seconds: 60, execs: 40, signal: 900, corpus: 12),
                            .init(seconds: 120, execs: 80, signal: 1000, corpus: 15)]
        guidance.signalByFile = ["mm/hmm.c": 100, "lib/test_hmm.c": 300]
        state.guidance = guidance
        let report = FuzzReport.markdown(state, directory: "d")
        #expect(report.contains("## Coverage guidance (KCOV)"))
        #expect(report.contains("| 0:02:00 | 80 | 1000 | 15 |"))
        #expect(report.contains("| mm/hmm.c | 100 |"))
        state.guidance = nil
        #expect(!FuzzReport.markdown(state, directory: "d").contains("Coverage guidance"))
    }
}
