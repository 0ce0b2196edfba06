/// When a test's duration counts as changed rather than noise.
///
/// Both runs must have a duration for the test and both must have run it (not skipped).
/// The change is reported when the two durations differ by at least `minimumSeconds`
/// **and** the longer is at least `minimumRatio` times the shorter (a shorter time of 0
/// counts as an infinite ratio). Defaults: 0.5 s and 2×, so 0.1 s → 0.3 s is noise (a VM's
/// scheduling jitter), 0.2 s → 0.8 s and 3 s → 7 s are changes, 10 s → 15 s is not.
public struct TimingRule: Sendable, Hashable, CustomStringConvertible {
    public var minimumSeconds: Double
    public var minimumRatio: Double

    public init(minimumSeconds: Double = 0.5, minimumRatio: Double = 2) {
        self.minimumSeconds = minimumSeconds
        self.minimumRatio = minimumRatio
    }

    public func isChange(base: Double, patched: Double) -> Bool {
        let longer = max(base, patched)
        let shorter = min(base, patched)
        let slack = 1e-9  // durations are printed in milliseconds: 0.3 - 0.2 must count as 0.1
        guard longer - shorter + slack >= minimumSeconds else { return false }
        return shorter <= 0 || longer / shorter + slack >= minimumRatio
    }

    public var description: String {
        "changed by at least \(Seconds.text(minimumSeconds)) and by a factor of at least \(JSONValue.numberText(minimumRatio))"
    }
}

/// How a patched kernel's results differ from a base kernel's, test by test (by name).
public struct Comparison: Sendable, Hashable {
    /// One test in either run or both.
    public struct Entry: Sendable, Hashable {
        public var name: String
        public var base: ResultSet.Test?
        public var patched: ResultSet.Test?
    }

    public struct TimingChange: Sendable, Hashable {
        public var name: String
        public var base: Double
        public var patched: Double
        public var isSlower: Bool { patched > base }
        /// Longer over shorter (infinite when the shorter is 0).
        public var factor: Double { min(base, patched) > 0 ? max(base, patched) / min(base, patched) : .infinity }
    }

    public struct Options: Sendable, Hashable {
        public var timing: TimingRule
        /// Compare hmmkit's results with kselftest's (refused by default: the same name
        /// need not mean the same checks).
        public var allowDifferentTools: Bool

        public init(timing: TimingRule = TimingRule(), allowDifferentTools: Bool = false) {
            self.timing = timing
            self.allowDifferentTools = allowDifferentTools
        }
    }

    public var base: ResultSet
    public var patched: ResultSet
    public var timingRule: TimingRule
    /// Passing in the base (pass, xfail, xpass), failing (fail, timeout, error) now. A test
    /// skipped in the base has no baseline: skip → fail is a skip change.
    public var newFailures: [Entry] = []
    /// Failing in the base, passing now.
    public var fixed: [Entry] = []
    /// Skipped in one run and not the other (whatever the other status), or skipped in both
    /// for different reasons.
    public var skipChanges: [Entry] = []
    /// Any other change of status (fail → timeout, pass → xfail, xfail → pass, …).
    public var otherChanges: [Entry] = []
    /// Only in the patched run.
    public var appeared: [Entry] = []
    /// Only in the base run.
    public var disappeared: [Entry] = []
    public var timingChanges: [TimingChange] = []
    /// Tests in both runs with the same status (and skip reason).
    public var unchangedCount = 0

    /// Tests that passed in the base and are missing from the patched run.
    public var lostPasses: [Entry] {
        disappeared.filter { $0.base.map { $0.status == .pass || $0.status == .xpass } ?? false }
    }

    /// A new failure, or a test that passed before and is gone.
    public var isRegression: Bool { !newFailures.isEmpty || !lostPasses.isEmpty }

    /// Compares two runs. Different kernels are the point and fine; refused with
    /// ``ReportError/Kind/incompatible``: different tools (unless allowed), different results
    /// format versions, or two non-empty runs with no test in common (different suites).
    public init(base: ResultSet, patched: ResultSet, options: Options = Options()) throws(ReportError) {
        self.base = base
        self.patched = patched
        self.timingRule = options.timing

        let names = "base \(base.source.map { "'\($0)'" } ?? "") and patched \(patched.source.map { "'\($0)'" } ?? "")"
        if base.formatVersion != patched.formatVersion {
            throw ReportError(.incompatible, """
                \(names) are results format versions \(base.formatVersion) and \(patched.formatVersion); \
                convert both with the same hmmkit ('hmmkit report convert FILE --json OUT')
                """)
        }
        if base.tool != patched.tool && !options.allowDifferentTools {
            throw ReportError(.incompatible, """
                \(names) come from different tools (\(base.tool.rawValue) and \(patched.tool.rawValue)): \
                a test of the same name need not check the same thing. Compare runs of one tool on two \
                kernels, or pass --allow-different-tools to compare them anyway
                """)
        }
        let patchedByName = Dictionary(patched.tests.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let baseNames = Set(base.tests.map(\.name))
        if !base.tests.isEmpty && !patched.tests.isEmpty && !base.tests.contains(where: { patchedByName[$0.name] != nil }) {
            throw ReportError(.incompatible, """
                \(names) have no test in common (e.g. '\(base.tests[0].name)' and '\(patched.tests[0].name)'): \
                they are runs of different suites
                """)
        }

        for old in base.tests {
            guard let new = patchedByName[old.name] else {
                disappeared.append(Entry(name: old.name, base: old, patched: nil))
                continue
            }
            let entry = Entry(name: old.name, base: old, patched: new)
            switch (old.status, new.status) {
            case let (b, p) where b == p:
                if b == .skip && old.reason != new.reason { skipChanges.append(entry) } else { unchangedCount += 1 }
            case let (b, p) where b.isPassing && p.isFailure: newFailures.append(entry)
            case let (b, p) where b.isFailure && (p == .pass || p == .xpass): fixed.append(entry)
            case let (b, p) where b == .skip || p == .skip: skipChanges.append(entry)
            default: otherChanges.append(entry)
            }
            if let was = old.duration, let now = new.duration, old.status != .skip, new.status != .skip,
               options.timing.isChange(base: was, patched: now) {
                timingChanges.append(TimingChange(name: old.name, base: was, patched: now))
            }
        }
        appeared = patched.tests.filter { !baseNames.contains($0.name) }.map { Entry(name: $0.name, base: nil, patched: $0) }
    }
}

/// Seconds as people read them: `0.012 s`, `3.500 s`.
enum Seconds {
    static func text(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "? s" }
        let millis = Int64((seconds * 1000).rounded())
        let fraction = String(abs(millis) % 1000)
        return "\(millis / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction) s"
    }
}
