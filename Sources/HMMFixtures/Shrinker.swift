import HMMModel
import HMMUAPI

/// Reduces a failing fixture while a predicate ("still fails the same way") holds.
///
/// 1. Delta debugging over steps (chunks, then single steps; a `fork` goes with its block),
/// 2. shrinking numbers: region sizes, range starts and counts, tokens,
/// 3. repeated until nothing changes. Every candidate must satisfy the model's
///    preconditions; expectations are re-derived by the model for each candidate, so the
///    predicate sees a self-consistent fixture.
public struct Shrinker {
    public var predicate: (Fixture) -> Bool
    /// Upper bound on predicate calls.
    public var budget = 5000
    public private(set) var calls = 0

    public init(predicate: @escaping (Fixture) -> Bool) {
        self.predicate = predicate
    }

    mutating func test(_ f: Fixture) -> Fixture? {
        guard calls < budget, f.firstViolation() == nil else { return nil }
        calls += 1
        let d = f.derived()
        return predicate(d) ? d : nil
    }

    /// The reduced fixture (the input, re-derived, if nothing smaller still fails).
    public mutating func shrink(_ input: Fixture) -> Fixture {
        var best = input.derived()
        var changed = true
        while changed && calls < budget {
            changed = false
            if let f = removeSteps(best) { best = f; changed = true }
            if let f = shrinkNumbers(best) { best = f; changed = true }
        }
        return best
    }

    /// Index ranges of removable units: a fork block as a whole, or one step.
    static func units(_ steps: [Step]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = 0
        while i < steps.count {
            if case .fork = steps[i].action {
                var j = i + 1
                while j < steps.count { if case .exitChild = steps[j].action { break }; j += 1 }
                out.append(i..<min(j + 1, steps.count))
                // Steps inside the block are units too (removed before the block is).
                for k in (i + 1)..<min(j, steps.count) { out.append(k..<(k + 1)) }
                i = j + 1
            } else {
                out.append(i..<(i + 1))
                i += 1
            }
        }
        return out
    }

    mutating func removeSteps(_ f: Fixture) -> Fixture? {
        var best = f
        var improved = false
        var chunk = max(1, Self.units(best.steps).count / 2)
        while chunk >= 1 {
            var i = 0
            var progress = false
            while true {
                let us = Self.units(best.steps)
                guard i < us.count else { break }
                let group = us[i..<min(i + chunk, us.count)]
                var drop = Set<Int>()
                for u in group { for k in u { drop.insert(k) } }
                var cand = best
                cand.steps = best.steps.enumerated().filter { !drop.contains($0.offset) }.map(\.element)
                if let ok = test(cand) {
                    best = ok
                    improved = true
                    progress = true
                } else {
                    i += chunk
                }
            }
            if !progress { chunk /= 2 }
        }
        return improved ? best : nil
    }

    static func smaller(_ v: Int) -> [Int] {
        var out: [Int] = []
        if v > 0 { out.append(0) }
        if v > 1 { out.append(1); out.append(v / 2) }
        if v > 2 { out.append(v - 1) }
        return out
    }

    /// Candidate variants of one action with smaller numbers.
    static func variants(_ a: Action) -> [Action] {
        var out: [Action] = []
        func ranges(_ r: PageRange) -> [PageRange] {
            var rs: [PageRange] = []
            for c in smaller(r.count) where c >= 1 { rs.append(PageRange(r.region, r.first, c)) }
            for f in smaller(r.first) { rs.append(PageRange(r.region, f, r.count)) }
            return rs
        }
        switch a {
        case let .mmap(r, pages, prot, kind, file, offset):
            for p in smaller(pages) where p >= 1 { out.append(.mmap(r, pages: p, prot: prot, kind: kind, file: file, offset: offset)) }
            if prot != .readWrite { out.append(.mmap(r, pages: pages, prot: .readWrite, kind: kind, file: file, offset: offset)) }
            if kind != .anonPrivate && file == nil {
                out.append(.mmap(r, pages: pages, prot: prot, kind: .anonPrivate, file: nil, offset: 0))
            }
        case let .munmap(r): out += ranges(r).map { .munmap($0) }
        case let .mprotect(r, p): out += ranges(r).map { .mprotect($0, p) }
        case let .madvise(r, adv): out += ranges(r).map { .madvise($0, adv) }
        case let .mbind(r, n): out += ranges(r).map { .mbind($0, node: n) }
        case let .movePages(r, n): out += ranges(r).map { .movePages($0, node: n) }
        case let .queryNodes(r): out += ranges(r).map { .queryNodes($0) }
        case let .mremap(r, to): out += ranges(r).map { .mremap($0, to: to) }
        case let .cpuWrite(r, p, t):
            if t > 1 { out.append(.cpuWrite(r, page: p, token: 1)) }
            for q in smaller(p) { out.append(.cpuWrite(r, page: q, token: t)) }
        case let .cpuRead(r, p):
            for q in smaller(p) { out.append(.cpuRead(r, page: q)) }
        case let .fileCreate(f, pages):
            for p in smaller(pages) { out.append(.fileCreate(f, pages: p)) }
        case let .fileWrite(f, p, t):
            if t > 1 { out.append(.fileWrite(f, page: p, token: 1)) }
            for q in smaller(p) { out.append(.fileWrite(f, page: q, token: t)) }
        case let .ioctl(c):
            for r in ranges(c.range) {
                var d = c
                d.range = r
                if c.command == .write { d.data = Array((c.data + [UInt64](repeating: 1, count: r.count)).prefix(r.count)) }
                out.append(.ioctl(d))
            }
            if c.command == .write && c.data.contains(where: { $0 > 1 }) {
                var d = c
                d.data = [UInt64](repeating: 1, count: c.data.count)
                out.append(.ioctl(d))
            }
            if c.misalign != 0 { var d = c; d.misalign = 0; out.append(.ioctl(d)) }
        case let .open(fd, minor):
            if minor != 0 { out.append(.open(fd, minor: 0)) }
        default: break
        }
        return out
    }

    mutating func shrinkNumbers(_ f: Fixture) -> Fixture? {
        var best = f
        var improved = false
        for i in best.steps.indices {
            var progress = true
            while progress && calls < budget {
                progress = false
                for v in Self.variants(best.steps[i].action) {
                    var cand = best
                    cand.steps[i] = Step(v)
                    if let ok = test(cand) {
                        best = ok
                        improved = true
                        progress = true
                        break
                    }
                }
            }
        }
        return improved ? best : nil
    }
}
