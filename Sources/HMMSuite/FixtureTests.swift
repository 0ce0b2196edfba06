import HMMFixtures
import HMMKernel
import HMMModel
import HMMSystem
import HMMUAPI

#if canImport(Glibc)
import Glibc
#endif

/// Fixtures as tests: `replay.<directory>.<file name>`, one KTAP result each.
///
/// A malformed fixture becomes a failing test that names file, line and problem, so the
/// other fixtures still run. A fixture's machine assumptions (devices, NUMA nodes, huge
/// pages) are needs (SKIP when unmet); its THP mode is set for the test when the knob is
/// writable and restored after.
public struct FixtureTests: Sendable {
    public var replayer: FixtureReplayer
    /// The profile of the kernel under test (from `uname -r` unless forced).
    public var kernelProfile: KernelProfile?
    /// Shrink a divergent fixture on this kernel and emit the reproducer.
    public var shrink = true
    /// Seconds the shrinker may spend per failing fixture.
    public var shrinkSeconds: Double = 90
    /// Where shrunk fixtures and C tests go (nil: only printed as diagnostics).
    public var outputDirectory: String?

    public init(replayer: FixtureReplayer, kernelProfile: KernelProfile?) {
        self.replayer = replayer
        self.kernelProfile = kernelProfile
    }

    /// Expands directories (their `*.fixture` files, sorted) and keeps files as given.
    public static func expand(_ paths: [String]) throws(SystemError) -> [String] {
        var out: [String] = []
        for path in paths {
            if isDirectory(path) {
                out += try listDirectory(path).filter { $0.hasSuffix(".fixture") }.sorted().map { path + "/" + $0 }
            } else {
                out.append(path)
            }
        }
        return out
    }

    public static func testID(path: String) -> TestID {
        let parts = path.split(separator: "/").map(String.init)
        let file = parts.last ?? path
        let name = file.hasSuffix(".fixture") ? String(file.dropLast(8)) : file
        let directory = parts.count > 1 ? parts[parts.count - 2] : "fixtures"
        return TestID(fixture: "replay", variant: directory.replacingDots, name: name.replacingDots)
    }

    /// One planned test per path; reading, parsing and the check for impossible steps happen
    /// here, so bad input fails with its file and line whatever the machine lacks. Whether the
    /// expectations hold under the kernel's profile (the model derives the whole fixture again)
    /// waits for the test's own turn, in its forked child: under TCG that took seconds for the
    /// main job's 94 fixtures before its first result, and the outcome is the same either way.
    public func plan(paths: [String]) -> [PlannedTest] {
        paths.map { path in
            let id = Self.testID(path: path)
            let text: String
            do { text = try readTextFile(path, limit: FixtureLimits.fileBytes) } catch {
                return broken(id, "\(path): cannot read: \(error)")
            }
            let fixture: Fixture
            do { fixture = try Fixture.parse(text, file: path) } catch {
                return broken(id, "\(error)")
            }
            if let (index, reason) = fixture.firstViolation() {
                let line = StepLines(text: text).line(ofStep: index).map(String.init) ?? "?"
                let action = fixture.steps[index].action.fixtureText
                return broken(id, "\(path):\(line): step \(index + 1) (\(action)) is impossible: \(reason)")
            }
            let this = self
            let planned = TestCase(id, needs: Self.needs(of: fixture), timeout: timeout) { context in
                let checked = try this.checked(fixture, path: path, text: text)
                try this.run(checked, path: path, lines: StepLines(text: text), context: context)
            }
            return PlannedTest(test: planned, variant: Variant(name: id.variant, minors: fixture.environment.devices))
        }
    }

    /// The fixture as it is checked on this kernel: a skip when its expectations differ under
    /// the kernel's profile, else the fixture under that profile.
    func checked(_ fixture: Fixture, path: String, text: String) throws -> Fixture {
        var checked = fixture
        if let kernelProfile, fixture.profile != kernelProfile {
            // Not bad input: the fixture's assumptions do not hold on this kernel.
            if let problem = Self.incompatibility(fixture, kernel: kernelProfile) {
                throw TestSkip("\(path):\(Self.headerLine("profile", in: text)): \(problem)")
            }
            // Same expectations under the kernel's own profile: check against that one.
            checked.profile = kernelProfile
        }
        return checked
    }

    func broken(_ id: TestID, _ message: String) -> PlannedTest {
        PlannedTest(test: TestCase(id) { _ in throw TestFailure(message, file: "", line: 0) },
                    variant: Variant(name: id.variant, minors: [0]))
    }

    /// Why a fixture cannot be checked on a kernel of profile `kernel`: its steps would get
    /// other expectations there (the profiles differ in a switch the steps reach) or use
    /// commands that kernel lacks. Nil when it replays unchanged under `kernel`.
    public static func incompatibility(_ fixture: Fixture, kernel: KernelProfile) -> String? {
        let own = fixture.profile
        if own == kernel { return nil }
        if own.uapi <= kernel.uapi && fixture.sameExpectations(under: kernel) { return nil }
        let differing = kernel.switches.filter { s in own.isOn(s.behaviour) != s.enabled }.map(\.name)
        return "fixture is for profile \(own.name) but the kernel under test is \(kernel.name), and its steps expect other results there"
            + (differing.isEmpty
                ? " (UAPI \(own.uapi.rawValue) > \(kernel.uapi.rawValue))"
                : " (profiles differ in \(differing.joined(separator: ", ")))")
    }

    static func headerLine(_ key: String, in text: String) -> Int {
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where line.hasPrefix(key + " ") { return i + 1 }
        return 1
    }

    /// Needs derived from the fixture's header and steps.
    static func needs(of fixture: Fixture) -> [TestNeed] {
        var needs: [TestNeed] = [.root]
        var ops = Set<DmirrorOperation>()
        var hugePages = 0
        for step in fixture.steps {
            switch step.action {
            case let .ioctl(c): ops.insert(c.command)
            case let .mmap(_, pages, _, kind, _, _) where kind == .hugetlb: hugePages += pages / 512
            default: break
            }
        }
        var minors = Set<Int>()
        for step in fixture.steps { if case let .open(_, m) = step.action { minors.insert(m) } }
        needs += minors.sorted().map { .device(minor: $0) }
        needs += ops.sorted { $0.rawValue < $1.rawValue }.map { .operation($0) }
        if hugePages > 0 { needs.append(.freeHugePages(hugePages)) }
        if fixture.environment.nodes.count > 1 { needs.append(.numaNodes(fixture.environment.nodes.max()! + 1)) }
        return needs
    }

    /// The runner's limit for one fixture: its steps, then the shrinker's time if it runs.
    var timeout: Double { replayer.stepTimeout * 2 + (shrink ? shrinkSeconds + 30 : 0) }

    func run(_ fixture: Fixture, path: String, lines: StepLines, context: TestContext) throws {
        // The fixture's local node, on this machine's nodes, one CPU of it (the worker inherits
        // the pin; see ``LocalNodePlacement/oneCPU`` for why one).
        let (placement, placed) = try LocalNodePlacement.forFixture(fixture, nodes: context.facts.numaNodes)
            .mapError { TestSkip($0.reason) }.get()
        try placement.oneCPU.apply()
        if let node = placement.node, node != fixture.environment.localNode {
            let wanted = fixture.environment.localNode.map(String.init) ?? "?"
            context.log("replayed with local node \(node): node \(wanted) has no CPUs here, and the expectations are the same")
        }
        var fixture = placed
        // The file system is a fact of this machine, not something a replay can change.
        if let files = SystemFacts.fileBacking(of: replayer.tmpDirectory), files != fixture.environment.files {
            context.log("replayed with files \(files.rawValue): \(replayer.tmpDirectory) is \(files == .tmpfs ? "" : "not ")on tmpfs here, "
                        + "and the fixture's expectations assume \(fixture.environment.files.rawValue)")
            fixture.environment.files = files
        }
        let thp = try THPSetting.apply(fixture.environment.thp)
        defer { thp.restore() }
        var replayer = self.replayer
        replayer.generation = context.generation
        let (verdict, coverage) = replayer.replayCovered(fixture)
        if let coverage { context.log(ReplayCoverage.lines(coverage, tmpDirectory: replayer.tmpDirectory).joined(separator: "\n")) }
        switch verdict {
        case let .passed(steps):
            context.log("\(steps) steps inside the model's envelope (profile \(fixture.profile.name))")
        case let .stoppedAtHazard(step, reason):
            throw TestSkip("stopped before step \(step + 1) (\(fixture.steps[step].action.fixtureText)): "
                           + "the model predicts a kernel hazard: \(reason); run with --allow-hazards to try it")
        case let .stoppedEarly(step, reason):
            throw TestSkip("the kernel took an allowed branch; step \(step + 1) no longer applies: \(reason)")
        case let .couldNotRun(why):
            throw TestFailure(why)
        case let .diverged(d):
            context.log("\(path): divergence from the model:")
            context.log(d.report(line: lines.line(ofStep: d.step)).joined(separator: "\n"))
            context.log(ReplayDiagnostics.divergenceSignature + d.signature)
            // Shrink wrong answers only: a crash or hang leaves the kernel unfit for more replays.
            if shrink && d.event == nil {
                shrinkAndEmit(fixture, divergence: d, replayer: replayer, id: context.id, context: context)
            }
            let what = d.event ?? d.mismatches.first.map(\.description) ?? "diverged"
            throw TestFailure("step \(d.step + 1) \(d.action.fixtureText): \(what)",
                              file: path, line: lines.line(ofStep: d.step) ?? 0)
        }
    }

    /// Shrinks on this kernel while the same failure repeats, then prints and saves the
    /// reproducer (fixture + kselftest C test).
    func shrinkAndEmit(_ fixture: Fixture, divergence: Divergence, replayer: FixtureReplayer, id: TestID, context: TestContext) {
        let signature = divergence.signature
        var replayer = replayer
        replayer.kcovWords = 0  // the shrinker's replays are not the program's coverage
        let deadline = monotonicSeconds() + shrinkSeconds
        var timedOut = false
        var kernelBroke: String?
        var shrinker = Shrinker { candidate in
            if kernelBroke != nil { return false }
            if monotonicSeconds() > deadline { timedOut = true; return false }
            let d = replayer.replay(candidate).divergence
            // An oops while shrinking leaves a kernel whose answers mean nothing any more.
            if let event = d?.event, event.contains("Oops") || event.contains("BUG:") { kernelBroke = event; return false }
            return d?.signature == signature
        }
        shrinker.budget = 2000
        let small = shrinker.shrink(fixture)
        let name = "\(id.variant)_\(id.name)".replacingDots.map { $0.isLetter || $0.isNumber ? $0 : "_" }.reduce(into: "") { $0.append($1) }
        var shrunk = small
        shrunk.about = ["shrunk from \(id) on \(Machine.kernelRelease): \(signature)"] + small.about.filter { !$0.hasPrefix("shrunk from") }
        if let kernelBroke { context.log("shrinking stopped: a candidate broke the kernel: \(kernelBroke)") }
        let limit = timedOut ? " (time limit reached)" : ""
        context.log("shrunk to \(small.steps.count) of \(fixture.steps.count) steps in \(shrinker.calls) replays\(limit):")
        for line in shrunk.text.split(separator: "\n") { context.log("| " + line) }
        guard let outputDirectory else { return }
        let c = CSelftestEmitter(testName: name).emit(shrunk)
        do {
            try makeDirectory(outputDirectory)
            try createTextFile(outputDirectory + "/\(name).fixture", shrunk.text)
            try createTextFile(outputDirectory + "/\(name).c", c)
            context.log("reproducer: \(outputDirectory)/\(name).fixture and \(outputDirectory)/\(name).c (kselftest TEST_F)")
        } catch {
            context.log("could not save the reproducer under \(outputDirectory): \(error)")
        }
    }
}

/// Maps step indices to line numbers of a fixture's text (for `file:line` reports).
struct StepLines: Sendable {
    var lines: [Int] = []
    static let headers = Fixture.headerKeys.union(["hmmkit-fixture", "about"])

    init(text: String) {
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.drop { $0 == " " }
            if line.isEmpty || line.hasPrefix("#") { continue }
            let word = String(line.prefix { $0 != " " })
            if Self.headers.contains(word) { continue }
            lines.append(i + 1)
        }
    }

    func line(ofStep index: Int) -> Int? { lines.indices.contains(index) ? lines[index] : nil }
}

/// The THP mode a fixture assumes, set for one test and restored after.
struct THPSetting {
    static let path = "/sys/kernel/mm/transparent_hugepage/enabled"
    var previous: THPMode?

    static func current() -> THPMode? {
        guard let text = try? readTextFile(path), let open = text.firstIndex(of: "["), let close = text.firstIndex(of: "]") else {
            return nil
        }
        return THPMode(rawValue: String(text[text.index(after: open)..<close]))
    }

    /// Sets `mode` when it differs; a machine where it cannot be set skips the test.
    static func apply(_ mode: THPMode) throws -> THPSetting {
        guard let now = current() else {
            if mode == .never { return THPSetting() }
            throw TestSkip("fixture needs THP '\(mode.rawValue)' but \(path) is missing")
        }
        if now == mode { return THPSetting() }
        do { try writeTextFile(path, mode.rawValue) } catch {
            throw TestSkip("fixture needs THP '\(mode.rawValue)', the machine has '\(now.rawValue)' and it cannot be changed: \(error)")
        }
        return THPSetting(previous: now)
    }

    func restore() {
        if let previous { try? writeTextFile(Self.path, previous.rawValue) }
    }
}

extension String {
    /// Test names are dotted paths; dots inside a component would split it.
    var replacingDots: String { String(map { $0 == "." ? "_" : $0 }) }
}
