import Foundation
import HMMFixtures
import HMMModel
import HMMReport
import KTAP

/// Runs generated programs in fresh kernels until a deadline, turning each program's
/// result into events (crash, WARN, hang, divergence) with deduplicating signatures. A
/// crash or hang ends that boot; the batch goes on from the next program in a new boot
/// (the runner's job). New crash signatures are then reproduced on fresh boots and, when
/// the program alone reproduces it, shrunk there to a fixture and a kselftest C test.
public final class FuzzCampaign {
    public struct Options: Sendable {
        /// Stop starting batches after this many seconds of this run.
        public var duration: Double
        /// Reproduce new crash signatures on fresh boots.
        public var reproduce = true
        /// Fresh boots the shrinker may use per signature (0: do not shrink).
        public var shrinkBoots = 30
        /// Programs before the crashing one a reproduction replays with it, when alone fails.
        public var reproductionHistory = 5
        /// Batches (VMs) run at once; each has its own boot and its own seeds.
        public var jobs = 1
        /// Percent of a guided campaign's programs made fresh (the rest mutate the corpus).
        public var freshPercent = ProgramPlan.freshPercent
        public init(duration: Double) { self.duration = duration }
    }

    public let directory: String
    public private(set) var state: CampaignState
    let runner: any ProgramRunner
    let options: Options
    let progress: (String) -> Void
    private var started = Date()
    private var lastStatus = Date.distantPast
    /// New crash and hang signatures of this round, reproduced after it.
    private var pendingReproductions: [Int] = []
    /// Guided campaigns: every PC seen, the PCs of event-free programs, the corpus programs.
    var signal = CoverageSignal()
    var corpusSignal = CoverageSignal()
    var corpus: [Fixture] = []
    /// Maps the signal to the five files (nil: no per-file figures).
    public var symbols: KCOVSymbols?

    public init(directory: String, state: CampaignState, runner: any ProgramRunner, options: Options,
                progress: @escaping (String) -> Void) {
        self.directory = directory
        self.state = state
        self.runner = runner
        self.options = options
        self.progress = progress
    }

    /// CampaignState.load refuses unknown profiles, and a new campaign takes a known one.
    var profile: KernelProfile { KernelProfile.named(state.generator.profile) ?? .linux6_12 }

    var environment: Environment {
        Environment(devices: state.generator.devices, nodes: state.generator.nodes,
                    thp: THPMode(rawValue: state.generator.thp) ?? .madvise)
    }

    public func program(seed: UInt64) -> Fixture {
        var generator = FixtureGenerator(seed: seed, profile: profile, environment: environment)
        return generator.generate(steps: state.generator.steps)
    }

    /// Program number `n` of this round: in a guided campaign fresh or a mutation of the
    /// corpus as it stands (``ProgramPlan``), else the generator's program for seed `n`.
    func plannedProgram(_ n: UInt64) -> (fixture: Fixture, parent: UInt64?, operations: [FixtureMutator.Operation]?) {
        guard let guidance = state.guidance, !corpus.isEmpty else { return (program(seed: n), nil, nil) }
        switch ProgramPlan.plan(program: n, corpusSignal: guidance.corpus.map(\.newSignal), freshPercent: options.freshPercent) {
        case .generate:
            return (program(seed: n), nil, nil)
        case let .mutate(entry, other, rngSeed):
            var rng = Xoshiro256(seed: rngSeed)
            let mutator = FixtureMutator(maxSteps: state.generator.steps * 2)
            var (fixture, operations) = mutator.mutate(corpus[entry], other: other.map { corpus[$0] }, rng: &rng)
            let parent = guidance.corpus[entry].program
            fixture.about = ["program \(n): \(operations.map(\.rawValue).joined(separator: ", ")) of corpus program \(parent)"
                             + (other.map { " (splicing from \(guidance.corpus[$0].program))" } ?? "")]
            return (fixture, parent, operations)
        }
    }

    /// Test name the runner reports a program under.
    static func fileName(seed: UInt64) -> String {
        let digits = String(seed)
        return "seed" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    static func seed(fromTest name: String) -> UInt64? {
        guard let last = name.split(separator: ".").last, last.hasPrefix("seed") else { return nil }
        return UInt64(last.dropFirst(4))
    }

    public func run() throws -> CampaignState {
        started = Date()
        let baseSeconds = state.seconds
        try makeDirectories()
        if state.guidance != nil { try loadGuidance() }
        while Date().timeIntervalSince(started) < options.duration {
            try runBatch(baseSeconds: baseSeconds)
        }
        status(final: true)
        if let guidance = state.guidance {
            let files = guidance.signalByFile.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            let byFile = files.isEmpty ? "" : " (\(files); \(guidance.unmappedSignal) outside their functions)"
            progress("guidance: signal \(signal.count) PCs" + byFile
                     + ", corpus \(corpus.count) (\(guidance.generatedKept) of \(guidance.generated) generated, "
                     + "\(guidance.mutatedKept) of \(guidance.mutated) mutants), \(guidance.uncovered) programs without coverage")
        }
        return state
    }

    func makeDirectories() throws {
        for sub in ["", "/events", "/logs"] + (state.guidance == nil ? [] : ["/" + GuidanceState.corpusDirectory]) {
            try FileManager.default.createDirectory(atPath: directory + sub, withIntermediateDirectories: true)
        }
    }

    /// One round: `options.jobs` batches of consecutive seeds, each replayed in its own VM
    /// at the same time, then their results in seed order.
    func runBatch(baseSeconds: Double) throws {
        let jobs = max(1, options.jobs)
        let size = UInt64(state.generator.batchSize)
        let first = state.nextSeed
        let (span, spanOverflow) = size.multipliedReportingOverflow(by: UInt64(jobs))
        let (end, overflow) = first.addingReportingOverflow(span)
        guard !overflow, !spanOverflow else { throw FuzzError("\(directory)/\(CampaignState.fileName): seeds exhausted at \(first)") }
        var batches: [(directory: String, log: String, seeds: Range<UInt64>)] = []
        var programs: [UInt64: Fixture] = [:]
        var origins: [UInt64: (parent: UInt64?, operations: [FixtureMutator.Operation]?)] = [:]
        for k in 0..<jobs {
            let seeds = (first + UInt64(k) * size)..<(first + UInt64(k + 1) * size)
            // One job keeps the directory name earlier campaigns and their logs use.
            let batchDirectory = directory + (jobs == 1 ? "/batch" : "/batch-\(k + 1)")
            try resetDirectory(batchDirectory)
            for seed in seeds {
                let (fixture, parent, operations) = plannedProgram(seed)
                programs[seed] = fixture
                origins[seed] = (parent, operations)
                try AtomicFile.write(fixture.text, to: "\(batchDirectory)/\(Self.fileName(seed: seed)).fixture")
            }
            let log = "\(directory)/logs/batch-\(state.batches + k + 1).ktap"
            batches.append((batchDirectory, log, seeds))
        }
        let runs = try replayConcurrently(batches.map { ($0.directory, $0.log) })
        for (run, batch) in zip(runs, batches) {
            try record(run, seeds: batch.seeds, programs: programs, origins: origins, baseSeconds: baseSeconds)
        }
        state.nextSeed = end
        state.batches += jobs
        state.seconds = baseSeconds + Date().timeIntervalSince(started)
        if state.guidance != nil {
            state.guidance!.history.append(.init(seconds: state.seconds, execs: state.execs, signal: signal.count, corpus: corpus.count))
            if let symbols {
                let (perFile, unmapped) = symbols.breakdown(signal.pcs)
                state.guidance!.signalByFile = Dictionary(uniqueKeysWithValues: perFile.map { ($0.file, $0.pcs) })
                state.guidance!.unmappedSignal = unmapped
            }
            try saveSignal()
        }
        try state.save(directory: directory)
        if options.reproduce {
            for i in pendingReproductions {
                try reproduce(event: i, programs: programs)
                state.seconds = baseSeconds + Date().timeIntervalSince(started)
                try state.save(directory: directory)
            }
        }
        pendingReproductions = []
    }

    /// Runs each batch in its own VM, all at once; the first error wins.
    func replayConcurrently(_ batches: [(directory: String, log: String)]) throws -> [ProgramRun] {
        if batches.count == 1 {
            return [try runner.replay(directory: batches[0].directory, purpose: .campaign, log: batches[0].log)]
        }
        let results = ConcurrentResults<ProgramRun>(count: batches.count)
        let runner = UncheckedBox(self.runner)
        DispatchQueue.concurrentPerform(iterations: batches.count) { k in
            results.set(k, Result { try runner.value.replay(directory: batches[k].directory, purpose: .campaign, log: batches[k].log) })
        }
        return try results.all.map { try $0.get() }
    }

    /// Counts one boot's results into the campaign's events.
    func record(_ run: ProgramRun, seeds: Range<UInt64>, programs: [UInt64: Fixture],
                origins: [UInt64: (parent: UInt64?, operations: [FixtureMutator.Operation]?)] = [:], baseSeconds: Double) throws {
        state.boots += run.boots
        var history: [UInt64] = []
        var ran = Set<UInt64>()
        for covered in run.results {
            guard let seed = Self.seed(fromTest: covered.name), seeds.contains(seed), programs[seed] != nil else { continue }
            // Coverage lines are the guidance's, not an event's evidence.
            var result = covered
            result.diagnostics.removeAll(where: KCOVWire.isWireLine)
            if state.guidance != nil && !covered.name.hasPrefix("vm.died_after.") {
                let origin = origins[seed] ?? (nil, nil)
                try guide(covered, program: seed, fixture: programs[seed]!, parent: origin.parent, operations: origin.operations)
            }
            // A crash after a program's result (its worker's exit, the module's unload) is
            // that program's event, not another execution of it.
            if !result.name.hasPrefix("vm.died_after.") {
                ran.insert(seed)
                state.execs += 1
                history.append(seed)
            }
            if let event = FuzzEvent.classify(result) {
                if let i = state.index(of: event.signature, kind: event.kind) {
                    state.events[i].count += 1
                } else {
                    state.events.append(CampaignState.EventRecord(
                        kind: event.kind, signature: event.signature, count: 1, firstSeed: seed,
                        bootHistory: history, evidence: Array(event.evidence.prefix(60))))
                    let i = state.events.count - 1
                    try saveProgram(programs[seed]!, event: i)
                    progress("new \(event.kind.rawValue): \(event.signature) (seed \(seed))")
                    if event.kind == .crash || event.kind == .hang { pendingReproductions.append(i) }
                }
                if event.breaksKernel { history = [] }
            }
            status(final: false, baseSeconds: baseSeconds)
        }
        let missing = seeds.filter { !ran.contains($0) }.count
        if missing > 0 {
            progress("\(missing) program(s) of a batch did not run "
                     + "(the VM gave up after \(run.boots) boots); they are not counted")
        }
    }

    // MARK: guidance

    /// One program's coverage: into the signal; into the corpus when it ran without an
    /// event and reached PCs no corpus program had.
    func guide(_ result: KTAPTestCase, program n: UInt64, fixture: Fixture, parent: UInt64?,
               operations: [FixtureMutator.Operation]?) throws {
        if parent == nil { state.guidance!.generated += 1 } else { state.guidance!.mutated += 1 }
        guard result.diagnostics.contains(where: { $0.hasPrefix(KCOVWire.summaryPrefix) }) else {
            state.guidance!.uncovered += 1
            return
        }
        let (pcs, malformed) = KCOVWire.pcs(in: result.diagnostics)
        state.guidance!.malformedLines += malformed
        signal.add(pcs)
        guard FuzzEvent.classify(result) == nil else { return }
        let added = corpusSignal.add(pcs)
        guard added > 0 else { return }
        let file = GuidanceState.corpusDirectory + "/" + Self.fileName(seed: n) + ".fixture"
        var kept = fixture
        if parent == nil { kept.about = ["program \(n): generated from seed \(n)"] }
        kept.about.append("added \(added) PCs to the corpus signal")
        try AtomicFile.write(kept.text, to: directory + "/" + file)
        corpus.append(kept)
        state.guidance!.corpus.append(CorpusEntry(program: n, file: file, newSignal: added, parent: parent, operations: operations))
        if parent == nil { state.guidance!.generatedKept += 1 } else { state.guidance!.mutatedKept += 1 }
    }

    /// A resumed guided campaign: its signal files and corpus programs.
    func loadGuidance() throws {
        func read(_ name: String) throws -> String? {
            let path = directory + "/" + name
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            do { return try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw FuzzError("\(path): cannot read: \(error.localizedDescription)")
            }
        }
        signal = try read(GuidanceState.signalFile).map { try CoverageSignal.parse($0, file: directory + "/" + GuidanceState.signalFile) }
            ?? CoverageSignal()
        corpusSignal = try read(GuidanceState.corpusSignalFile).map {
            try CoverageSignal.parse($0, file: directory + "/" + GuidanceState.corpusSignalFile)
        } ?? CoverageSignal()
        corpus = []
        for entry in state.guidance!.corpus {
            let path = directory + "/" + entry.file
            guard let text = try read(entry.file) else { throw FuzzError("\(path): corpus program missing") }
            let fixture: Fixture
            do { fixture = try Fixture.parse(text, file: path) } catch { throw FuzzError("\(error)") }
            if let (index, reason) = fixture.firstViolation() {
                throw FuzzError("\(path): step \(index + 1) breaks the model's preconditions: \(reason)")
            }
            corpus.append(fixture)
        }
        if !corpus.isEmpty || signal.count > 0 {
            progress("guidance: \(corpus.count) corpus programs, signal \(signal.count) PCs")
        }
    }

    func saveSignal() throws {
        try AtomicFile.write(signal.text, to: directory + "/" + GuidanceState.signalFile)
        try AtomicFile.write(corpusSignal.text, to: directory + "/" + GuidanceState.corpusSignalFile)
    }

    func eventDirectory(_ i: Int) -> String {
        let e = state.events[i]
        return "events/\(e.kind.rawValue)-\(StableHash.hex(e.signature))"
    }

    func saveProgram(_ fixture: Fixture, event i: Int) throws {
        let relative = eventDirectory(i)
        try FileManager.default.createDirectory(atPath: directory + "/" + relative, withIntermediateDirectories: true)
        try AtomicFile.write(fixture.text, to: directory + "/" + relative + "/program.fixture")
        try AtomicFile.write(state.events[i].evidence.joined(separator: "\n") + "\n",
                             to: directory + "/" + relative + "/evidence.txt")
        state.events[i].files = [relative + "/program.fixture", relative + "/evidence.txt"]
    }

    // MARK: reproduction

    /// Fresh boots: the program alone, then with the programs before it in that boot; when
    /// alone reproduces it, shrink it on fresh boots while the signature holds.
    func reproduce(event i: Int, programs: [UInt64: Fixture]) throws {
        let event = state.events[i]
        progress("reproducing \(event.signature) (seed \(event.firstSeed)) on a fresh boot")
        // This round's programs (a guided campaign's mutants exist nowhere else).
        func program(seed: UInt64) -> Fixture { programs[seed] ?? self.program(seed: seed) }
        let alone = program(seed: event.firstSeed)
        var attempts = 1
        if try shows(event, [alone]) {
            state.events[i].reproduction = .alone
            progress("reproduced alone")
            if options.shrinkBoots > 0 { try shrink(event: i, alone) }
            return
        }
        let previous = event.bootHistory.dropLast().suffix(options.reproductionHistory)
        if !previous.isEmpty {
            attempts += 1
            if try shows(event, previous.map(program(seed:)) + [alone]) {
                state.events[i].reproduction = .withPrevious(count: previous.count)
                progress("reproduced with the \(previous.count) programs before it")
                return
            }
        }
        if event.bootHistory.count - 1 > previous.count {
            attempts += 1
            if try shows(event, event.bootHistory.map(program(seed:))) {
                state.events[i].reproduction = .withPrevious(count: event.bootHistory.count - 1)
                progress("reproduced with all \(event.bootHistory.count - 1) programs before it in its boot")
                return
            }
        }
        state.events[i].reproduction = .notReproduced(attempts: attempts)
        progress("not reproduced in \(attempts) fresh boot(s)")
    }

    /// Whether one fresh boot replaying `fixtures` in order shows the event's signature.
    func shows(_ event: CampaignState.EventRecord, _ fixtures: [Fixture]) throws -> Bool {
        let dir = directory + "/repro"
        try resetDirectory(dir)
        for (n, fixture) in fixtures.enumerated() {
            try AtomicFile.write(fixture.text, to: "\(dir)/p\(String(format: "%03d", n)).fixture")
        }
        let run = try runner.replay(directory: dir, purpose: .reproduction, log: directory + "/logs/repro.ktap")
        state.boots += run.boots
        return run.results.contains { result in
            FuzzEvent.classify(result).map { $0.kind == event.kind && $0.signature == event.signature } ?? false
        }
    }

    func shrink(event i: Int, _ fixture: Fixture) throws {
        let event = state.events[i]
        var boots = 0
        var failure: Error?
        var shrinker = Shrinker { [self] candidate in
            guard failure == nil else { return false }
            boots += 1
            do {
                let hit = try shows(event, [candidate])
                progress("shrink boot \(boots)/\(options.shrinkBoots): \(candidate.steps.count) steps, \(hit ? "same crash" : "no")")
                return hit
            } catch { failure = error; return false }
        }
        shrinker.budget = options.shrinkBoots
        var small = shrinker.shrink(fixture)
        if let failure { throw failure }
        let relative = eventDirectory(i)
        small.about = ["shrunk on fresh boots of \(state.release) from seed \(event.firstSeed): \(event.signature)"]
        let name = "fuzz_" + StableHash.hex(event.signature)
        try AtomicFile.write(small.text, to: directory + "/" + relative + "/reproducer.fixture")
        try AtomicFile.write(CSelftestEmitter(testName: name).emit(small), to: directory + "/" + relative + "/reproducer.c")
        state.events[i].files += [relative + "/reproducer.fixture", relative + "/reproducer.c"]
        state.events[i].reproduction = .shrunk(from: fixture.steps.count, to: small.steps.count, boots: boots)
        progress("shrunk to \(small.steps.count) steps in \(boots) boots: \(relative)/reproducer.c")
    }

    func resetDirectory(_ path: String) throws {
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    // MARK: status

    /// One line on stderr: at most every 10 s, and at the end.
    func status(final: Bool, baseSeconds: Double? = nil) {
        let now = Date()
        guard final || now.timeIntervalSince(lastStatus) >= 10 else { return }
        lastStatus = now
        let elapsed = now.timeIntervalSince(started)
        let crashes = state.events.filter { $0.kind == .crash }
        let byTitle = crashes.map { "\($0.signature.prefix { $0 != "<" }.trimmingCharacters(in: .whitespaces)) ×\($0.count)" }
        let rate = elapsed > 0 ? Double(state.execs) / ((baseSeconds ?? 0) + elapsed) : 0
        let (dd, dt) = state.count(.divergence)
        let (wd, wt) = state.count(.warning)
        let (hd, ht) = state.count(.hang)
        let coverage = state.guidance.map { _ in ", signal \(signal.count) PCs, corpus \(corpus.count)" } ?? ""
        progress(String(format: "fuzz %@: %d execs (%.2f/s)%@, %d boots, crashes %d%@, "
                            + "warnings %d/%d, hangs %d/%d, divergences %d/%d (distinct/total)",
                        Self.clock(elapsed), state.execs, rate, coverage, state.boots, crashes.count,
                        byTitle.isEmpty ? "" : " [" + byTitle.joined(separator: "; ") + "]", wd, wt, hd, ht, dd, dt))
    }

    public static func clock(_ seconds: Double) -> String {
        let s = Int(seconds)
        return String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
    }
}

/// Replays a directory of fixtures in name order on a fresh boot of the campaign's kernel.
public protocol ProgramRunner {
    func replay(directory: String, purpose: ReplayPurpose, log: String) throws -> ProgramRun
}

public enum ReplayPurpose: Sendable {
    /// A campaign batch: divergences are shrunk in the guest, a crash ends the boot and the
    /// batch goes on in a new one.
    case campaign
    /// A crash reproduction: steps the model flags as hazards run too, nothing is shrunk.
    case reproduction
}

public struct ProgramRun: Sendable {
    public var results: [KTAPTestCase]
    public var boots: Int
    public init(results: [KTAPTestCase], boots: Int) {
        self.results = results
        self.boots = boots
    }
}

/// Results filled in by concurrent workers, one slot each.
final class ConcurrentResults<Value>: @unchecked Sendable {
    private var slots: [Result<Value, Error>?]
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: Result<Value, Error>) {
        lock.lock()
        slots[index] = value
        lock.unlock()
    }

    /// Every slot, once all workers are done.
    var all: [Result<Value, Error>] {
        lock.lock()
        defer { lock.unlock() }
        return slots.map { $0 ?? .failure(FuzzError("a batch worker returned no result")) }
    }
}

/// A runner shared by the batch workers: each call works in its own directory and boot.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
