import HMMModel
import HMMUAPI

/// New programs from a corpus program for coverage-guided fuzzing: insert, delete or change
/// steps, or splice another program's tail on, always within the model's preconditions.
///
/// A mutation edits the step list freely; ``repair(_:profile:environment:)`` then walks it
/// with the model and drops what no longer holds (a step whose precondition fails, a whole
/// `fork` block whose fork does, a step the model predicts to crash the kernel or trip a
/// known WARN), closes an open fork block, and re-derives every expectation. So a mutant
/// is valid by construction, as a generated fixture is: ``Fixture/firstViolation()`` is nil.
///
/// Deterministic: the same input, other program and RNG state give the same mutant.
public struct FixtureMutator: Sendable {
    public enum Operation: String, Sendable, CaseIterable, Codable {
        /// New steps, drawn as the generator draws them, at a random place.
        case insert
        /// A step, or a fork block, removed.
        case delete
        /// One step's numbers, command, device or advice changed.
        case change
        /// The first part of this program, the rest of another.
        case splice
    }

    /// Longest mutant in steps (longer ones lose steps from random places).
    public var maxSteps: Int
    /// Largest region a new `mmap` makes, as the generator's.
    public var maxRegionPages = 64

    public init(maxSteps: Int) { self.maxSteps = max(1, min(maxSteps, FixtureLimits.steps)) }

    /// A mutant of `fixture` (1 to 3 operations in a row) and the operations applied;
    /// `other` is the program a splice takes its tail from.
    public func mutate(_ fixture: Fixture, other: Fixture?, rng: inout Xoshiro256) -> (fixture: Fixture, operations: [Operation]) {
        var steps = fixture.steps
        var operations: [Operation] = []
        let count = 1 + rng.weighted([60, 30, 10])
        for _ in 0..<count {
            let operation = Operation.allCases[rng.weighted([40, 25, 25, other == nil ? 0 : 10])]
            switch operation {
            case .insert: steps = insert(into: steps, fixture: fixture, rng: &rng)
            case .delete: steps = delete(from: steps, rng: &rng)
            case .change: steps = change(steps, fixture: fixture, rng: &rng)
            case .splice: steps = splice(steps, other!.steps, rng: &rng)
            }
            steps = Self.repair(steps, profile: fixture.profile, environment: fixture.environment)
            operations.append(operation)
        }
        while steps.count > maxSteps {
            steps = Self.repair(delete(from: steps, rng: &rng), profile: fixture.profile, environment: fixture.environment)
        }
        var out = Fixture(profile: fixture.profile, environment: fixture.environment, steps: steps)
        out.data = fixture.data
        return (out.derived(), operations)
    }

    /// The steps the model accepts, in order, with the rest dropped (see the type's notes).
    public static func repair(_ steps: [Step], profile: KernelProfile, environment: Environment) -> [Step] {
        var model = Model(profile: profile, environment: environment)
        var out: [Step] = []
        var i = 0
        while i < steps.count {
            let action = steps[i].action
            if case .exitChild = action, !model.inChild { i += 1; continue }
            if model.violation(of: action) != nil {
                if case .fork = action { i = Self.blockEnd(steps, from: i) }
                i += 1
                continue
            }
            var trial = model
            let envelope = trial.step(action)
            if envelope.hazard != nil || envelope.kernelWarning != nil {
                if case .fork = action { i = Self.blockEnd(steps, from: i) }
                i += 1
                continue
            }
            model = trial
            out.append(Step(action))
            i += 1
        }
        if model.inChild { out.append(Step(.exitChild)) }
        return out
    }

    /// The index of the `}` closing the fork block at `start` (the last step if none does).
    static func blockEnd(_ steps: [Step], from start: Int) -> Int {
        var j = start + 1
        while j < steps.count {
            if case .exitChild = steps[j].action { return j }
            j += 1
        }
        return steps.count - 1
    }

    /// The model after `steps` (as far as they hold).
    static func model(after steps: ArraySlice<Step>, profile: KernelProfile, environment: Environment) -> Model {
        var model = Model(profile: profile, environment: environment)
        for step in steps where model.violation(of: step.action) == nil { model.step(step.action) }
        return model
    }

    /// Tokens above every token the program uses, so new writes stay distinguishable.
    static func highestToken(_ steps: [Step]) -> UInt64 {
        var high: UInt64 = 0x100
        for step in steps {
            switch step.action {
            case let .cpuWrite(_, _, t), let .fileWrite(_, _, t): high = max(high, t)
            case let .ioctl(c): high = max(high, c.data.max() ?? 0)
            default: break
            }
        }
        return high
    }

    func insert(into steps: [Step], fixture: Fixture, rng: inout Xoshiro256) -> [Step] {
        let at = rng.below(steps.count + 1)
        var builder = Builder(rng: Xoshiro256(seed: rng.next()),
                              model: Self.model(after: steps[..<at], profile: fixture.profile, environment: fixture.environment),
                              maxPages: maxRegionPages, allowHazards: false)
        builder.nextToken = Self.highestToken(steps) &+ 0x100
        var tries = 0
        while builder.steps.isEmpty && tries < 20 {
            builder.randomStep()
            tries += 1
        }
        return Array(steps[..<at]) + builder.steps + Array(steps[at...])
    }

    func delete(from steps: [Step], rng: inout Xoshiro256) -> [Step] {
        let units = Shrinker.units(steps)
        guard !units.isEmpty else { return steps }
        let unit = rng.pick(units)
        return Array(steps[..<unit.lowerBound]) + Array(steps[unit.upperBound...])
    }

    func change(_ steps: [Step], fixture: Fixture, rng: inout Xoshiro256) -> [Step] {
        let candidates = steps.indices.filter { i in
            switch steps[i].action {
            case .fork, .exitChild: false
            default: true
            }
        }
        guard !candidates.isEmpty else { return insert(into: steps, fixture: fixture, rng: &rng) }
        let i = rng.pick(candidates)
        let variants = Self.variants(of: steps[i].action, environment: fixture.environment)
        guard !variants.isEmpty else {
            // Nothing to tweak: replace the step with new ones at its place.
            var rest = steps
            rest.remove(at: i)
            var builder = Builder(rng: Xoshiro256(seed: rng.next()),
                                  model: Self.model(after: rest[..<i], profile: fixture.profile, environment: fixture.environment),
                                  maxPages: maxRegionPages, allowHazards: false)
            builder.nextToken = Self.highestToken(steps) &+ 0x100
            builder.randomStep()
            return Array(rest[..<i]) + builder.steps + Array(rest[i...])
        }
        var out = steps
        out[i] = Step(rng.pick(variants))
        return out
    }

    func splice(_ steps: [Step], _ other: [Step], rng: inout Xoshiro256) -> [Step] {
        let cut = rng.below(steps.count + 1)
        let from = rng.below(other.count + 1)
        return Array(steps[..<cut]) + Array(other[from...])
    }

    /// Other forms of one action: the shrinker's smaller numbers, larger ones, and another
    /// command, device, protection, advice or node where the action has one.
    static func variants(of action: Action, environment: Environment) -> [Action] {
        var out = Shrinker.variants(action)
        func grown(_ r: PageRange) -> [PageRange] {
            [PageRange(r.region, r.first, r.count + 1), PageRange(r.region, r.first, r.count * 2),
             PageRange(r.region, r.first + 1, r.count)]
        }
        switch action {
        case let .ioctl(call):
            let commands: [DmirrorOperation] = [.read, .write, .migrateToDevice, .migrateToSystem, .snapshot,
                                                .exclusive, .checkExclusive, .release]
            for command in commands where command != call.command {
                var c = call
                c.command = command
                c.data = command == .write ? (0..<call.range.count).map { 0x7000 &+ UInt64($0) } : []
                out.append(.ioctl(c))
            }
            for fd in 0..<4 where fd != call.fd {
                var c = call
                c.fd = fd
                out.append(.ioctl(c))
            }
            for r in grown(call.range) {
                var c = call
                c.range = r
                if c.command == .write { c.data = (0..<r.count).map { 0x7100 &+ UInt64($0) } }
                out.append(.ioctl(c))
            }
        case let .mprotect(r, p):
            for q in [Protection.none, .read, .readWrite] where q != p { out.append(.mprotect(r, q)) }
            out += grown(r).map { .mprotect($0, p) }
        case let .madvise(r, a):
            for b in [Advice.dontneed, .free, .hugepage, .nohugepage] where b != a { out.append(.madvise(r, b)) }
            out += grown(r).map { .madvise($0, a) }
        case let .munmap(r): out += grown(r).map { .munmap($0) }
        case let .mbind(r, n):
            out += environment.nodes.filter { $0 != n }.map { .mbind(r, node: $0) } + grown(r).map { .mbind($0, node: n) }
        case let .movePages(r, n):
            out += environment.nodes.filter { $0 != n }.map { .movePages(r, node: $0) } + grown(r).map { .movePages($0, node: n) }
        case let .cpuRead(r, p): out += [.cpuWrite(r, page: p, token: 0x7200), .cpuRead(r, page: p + 1)]
        case let .cpuWrite(r, p, t): out += [.cpuRead(r, page: p), .cpuWrite(r, page: p + 1, token: t)]
        case let .open(fd, minor):
            out += environment.devices.filter { $0 != minor }.map { .open(fd, minor: $0) }
        case let .mmap(r, pages, prot, kind, file, offset) where file == nil:
            for k in [MappingKind.anonPrivate, .anonShared] where k != kind {
                out.append(.mmap(r, pages: pages, prot: prot, kind: k, file: nil, offset: offset))
            }
            out.append(.mmap(r, pages: min(pages * 2, 512), prot: prot, kind: kind, file: nil, offset: offset))
        default: break
        }
        return out.filter { $0 != action }
    }
}
