import HMMSystem

/// Per-page allowed values: every page has one primary value and maybe a few more.
public struct PageValues<T: Hashable & Sendable>: Sendable, Equatable {
    /// The value the model considers most likely (what it assumes when not told otherwise).
    public internal(set) var primary: [T]
    /// Other allowed values, by page index (sparse).
    public internal(set) var extra: [Int: [T]]

    public init(_ primary: [T]) {
        self.primary = primary
        self.extra = [:]
    }

    public var count: Int { primary.count }
    public var isExact: Bool { extra.isEmpty }

    public mutating func allow(_ value: T, at index: Int) {
        if primary[index] == value { return }
        if extra[index]?.contains(value) == true { return }
        extra[index, default: []].append(value)
    }

    public func allowed(at index: Int) -> [T] {
        [primary[index]] + (extra[index] ?? [])
    }

    public func contains(_ value: T, at index: Int) -> Bool {
        primary[index] == value || extra[index]?.contains(value) == true
    }
}

/// One result a correct kernel may produce. Fields that are nil are not checked (not
/// produced by the operation, or not copied back because the call failed).
public struct Outcome: Sendable, Equatable {
    /// 0 for success, else the positive errno.
    public var errno: Int32
    /// `cpages` of the command struct (ioctl success only).
    public var cpages: UInt64?
    /// `faults` of the command struct: an inclusive range (exact when lower == upper).
    public var faults: ClosedRange<UInt64>?
    /// Tokens of the pages read back: READ / MIGRATE_TO_DEV / EXCLUSIVE buffer, CPU read.
    public var tokens: PageValues<UInt64>?
    /// SNAPSHOT bytes.
    public var snapshot: PageValues<UInt8>?
    /// `move_pages` status per page: node number or -errno.
    public var nodes: PageValues<Int32>?

    public init(errno: Int32 = 0, cpages: UInt64? = nil, faults: ClosedRange<UInt64>? = nil,
                tokens: PageValues<UInt64>? = nil, snapshot: PageValues<UInt8>? = nil, nodes: PageValues<Int32>? = nil) {
        self.errno = errno
        self.cpages = cpages
        self.faults = faults
        self.tokens = tokens
        self.snapshot = snapshot
        self.nodes = nodes
    }

    public static let ok = Outcome()
    public static func failure(_ errno: Int32) -> Outcome { Outcome(errno: errno) }
}

/// What a real kernel returned for one step.
public struct Observation: Sendable, Equatable {
    public var errno: Int32
    public var cpages: UInt64?
    public var faults: UInt64?
    /// Decoded page tokens (`PageContent.decode`); nil entries are pages whose bytes are no token.
    public var tokens: [UInt64?]?
    public var snapshot: [UInt8]?
    public var nodes: [Int32]?

    public init(errno: Int32 = 0, cpages: UInt64? = nil, faults: UInt64? = nil, tokens: [UInt64?]? = nil,
                snapshot: [UInt8]? = nil, nodes: [Int32]? = nil) {
        self.errno = errno
        self.cpages = cpages
        self.faults = faults
        self.tokens = tokens
        self.snapshot = snapshot
        self.nodes = nodes
    }
}

/// A difference between an observation and the envelope.
public struct Mismatch: Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var expected: String
    public var actual: String
    public init(field: String, expected: String, actual: String) {
        self.field = field
        self.expected = expected
        self.actual = actual
    }
    public var description: String { "\(field): expected \(expected), got \(actual)" }
}

/// The set of results a correct kernel may produce for one step.
public struct Envelope: Sendable, Equatable, CustomStringConvertible {
    /// Alternatives; the first is the model's primary expectation. Errnos are distinct.
    public var outcomes: [Outcome]
    /// Why anything is not exact (one line each).
    public var notes: [String]
    /// Non-nil when the model predicts the kernel misbehaves (oops, use-after-free read):
    /// the step should not be run on a kernel one cares about. The outcomes then describe
    /// what a fixed kernel would plausibly do.
    public var hazard: String?
    /// Non-nil when a WARN splat in the kernel log is expected with the result.
    public var kernelWarning: String?

    public init(_ outcomes: [Outcome], notes: [String] = [], hazard: String? = nil, kernelWarning: String? = nil) {
        precondition(!outcomes.isEmpty)
        self.outcomes = outcomes
        self.notes = notes
        self.hazard = hazard
        self.kernelWarning = kernelWarning
    }

    public static let ok = Envelope([.ok])

    public var primary: Outcome { outcomes[0] }

    /// True when exactly one result is allowed.
    public var isExact: Bool {
        outcomes.count == 1 && outcomes[0].tokens?.isExact != false && outcomes[0].snapshot?.isExact != false
            && outcomes[0].nodes?.isExact != false && (outcomes[0].faults.map { $0.lowerBound == $0.upperBound } ?? true)
    }

    public func outcome(errno: Int32) -> Outcome? { outcomes.first { $0.errno == errno } }

    /// The observation a kernel matching the primary expectation would give.
    public var primaryObservation: Observation {
        let o = primary
        return Observation(errno: o.errno, cpages: o.cpages, faults: o.faults?.lowerBound,
                           tokens: o.tokens.map { $0.primary.map { Optional($0) } },
                           snapshot: o.snapshot?.primary, nodes: o.nodes?.primary)
    }

    /// Compares an observation with the envelope; empty when it is inside.
    public func check(_ observation: Observation) -> [Mismatch] {
        guard let o = outcome(errno: observation.errno) else {
            return [Mismatch(field: "result", expected: outcomes.map { Errno.name($0.errno) }.joined(separator: " or "),
                             actual: Errno.name(observation.errno))]
        }
        var out: [Mismatch] = []
        if let c = o.cpages {
            if let a = observation.cpages {
                if a != c { out.append(Mismatch(field: "cpages", expected: "\(c)", actual: "\(a)")) }
            } else { out.append(Mismatch(field: "cpages", expected: "\(c)", actual: "nothing")) }
        }
        if let f = o.faults {
            let text = f.lowerBound == f.upperBound ? "\(f.lowerBound)" : "\(f.lowerBound)..\(f.upperBound)"
            if let a = observation.faults {
                if !f.contains(a) { out.append(Mismatch(field: "faults", expected: text, actual: "\(a)")) }
            } else { out.append(Mismatch(field: "faults", expected: text, actual: "nothing")) }
        }
        if let t = o.tokens {
            out += Self.comparePages("data", t, observation.tokens,
                                     show: { v in v.map { "0x" + String($0, radix: 16) } ?? "undecodable bytes" }, wrap: { $0 })
        }
        if let s = o.snapshot {
            out += Self.comparePages("snapshot", s, observation.snapshot.map { $0.map { Optional($0) } },
                                     show: { v in v.map { "0x" + String($0, radix: 16, uppercase: true) } ?? "?" }, wrap: { $0 })
        }
        if let n = o.nodes {
            out += Self.comparePages("node", n, observation.nodes.map { $0.map { Optional($0) } },
                                     show: { v in v.map(Self.nodeText) ?? "?" }, wrap: { $0 })
        }
        return out
    }

    static func nodeText(_ v: Int32) -> String { v >= 0 ? "\(v)" : "-" + Errno.name(-v) }

    static func comparePages<T>(_ field: String, _ expected: PageValues<T>, _ actual: [T?]?,
                                show: (T?) -> String, wrap: (T) -> T?) -> [Mismatch] {
        guard let actual else { return [Mismatch(field: field, expected: "\(expected.count) pages", actual: "nothing")] }
        if actual.count != expected.count {
            return [Mismatch(field: field, expected: "\(expected.count) pages", actual: "\(actual.count) pages")]
        }
        var out: [Mismatch] = []
        var bad = 0
        for i in 0..<actual.count {
            let ok = actual[i].map { expected.contains($0, at: i) } ?? false
            if !ok {
                bad += 1
                if out.count < 8 {
                    let exp = expected.allowed(at: i).map { show(wrap($0)) }.joined(separator: " or ")
                    out.append(Mismatch(field: "\(field)[\(i)]", expected: exp, actual: show(actual[i])))
                }
            }
        }
        if bad > out.count {
            out.append(Mismatch(field: field, expected: "all pages inside the envelope", actual: "\(bad) pages outside (first "
                + "\(out.count) shown)"))
        }
        return out
    }

    /// Canonical one-line text, used in fixtures: alternatives joined by " | ".
    public var description: String {
        outcomes.map(Self.render).joined(separator: " | ")
    }

    static func render(_ o: Outcome) -> String {
        var parts = [Errno.name(o.errno)]
        if let c = o.cpages { parts.append("cpages=\(c)") }
        if let f = o.faults {
            parts.append(f.lowerBound == f.upperBound ? "faults=\(f.lowerBound)" : "faults=\(f.lowerBound)..\(f.upperBound)")
        }
        if let t = o.tokens { parts.append("data=" + ValueList.render(t, hex: true, width: 0)) }
        if let s = o.snapshot { parts.append("snap=" + ValueList.render(s.mapToUInt64, hex: true, width: 2)) }
        if let n = o.nodes { parts.append("nodes=" + ValueList.renderNodes(n)) }
        return parts.joined(separator: " ")
    }
}

extension PageValues where T == UInt8 {
    var mapToUInt64: PageValues<UInt64> {
        var out = PageValues<UInt64>(primary.map { UInt64($0) })
        for (i, vs) in extra { for v in vs { out.allow(UInt64(v), at: i) } }
        return out
    }
}

/// Compact text for per-page value lists: `[a*3,b..c,{x|y}]`.
public enum ValueList {
    static func hexText(_ v: UInt64, width: Int) -> String {
        let s = String(v, radix: 16, uppercase: width > 0)
        return width > 0 ? String(repeating: "0", count: max(0, width - s.count)) + s : "0x" + s
    }

    static func item(_ vs: [UInt64], hex: Bool, width: Int) -> String {
        let t = vs.map { hex ? hexText($0, width: width) : "\($0)" }
        return t.count == 1 ? t[0] : "{" + t.joined(separator: "|") + "}"
    }

    /// Renders runs of equal items as `x*n` and ascending single-value runs as `a..b` (hex tokens).
    public static func render(_ values: PageValues<UInt64>, hex: Bool, width: Int) -> String {
        var out: [String] = []
        var i = 0
        let n = values.count
        while i < n {
            let cur = values.allowed(at: i)
            var j = i + 1
            while j < n && values.allowed(at: j) == cur { j += 1 }
            if j - i > 1 {
                out.append(item(cur, hex: hex, width: width) + "*\(j - i)")
                i = j
                continue
            }
            // ascending by one (only exact values, tokens)
            if width == 0 && cur.count == 1 {
                var k = i + 1
                while k < n, values.isExactAt(k), values.primary[k] == values.primary[k - 1] &+ 1 { k += 1 }
                if k - i > 2 {
                    out.append(item(cur, hex: hex, width: width) + ".." + item([values.primary[k - 1]], hex: hex, width: width))
                    i = k
                    continue
                }
            }
            out.append(item(cur, hex: hex, width: width))
            i += 1
        }
        return "[" + out.joined(separator: ",") + "]"
    }

    static func renderNodes(_ values: PageValues<Int32>) -> String {
        var out: [String] = []
        var i = 0
        while i < values.count {
            let cur = values.allowed(at: i)
            var j = i + 1
            while j < values.count && values.allowed(at: j) == cur { j += 1 }
            let t = cur.map(Envelope.nodeText)
            let s = t.count == 1 ? t[0] : "{" + t.joined(separator: "|") + "}"
            out.append(j - i > 1 ? s + "*\(j - i)" : s)
            i = j
        }
        return "[" + out.joined(separator: ",") + "]"
    }
}

extension PageValues {
    func isExactAt(_ i: Int) -> Bool { extra[i] == nil }
}
