import HMMReport

/// Which patch of a series brought in a regression, from the results after each patch.
public enum Attribution {
    /// The patch that introduced the failure of a test.
    public struct Culprit: Sendable, Hashable {
        public var test: String
        /// 1-based: the first patch after which the test fails (or is missing) in every later run.
        public var patch: Int
        /// Earlier patches after which the test already failed, then passed again (flaky or
        /// broken and repaired within the series); usually empty.
        public var earlier: [Int]

        public init(test: String, patch: Int, earlier: [Int] = []) {
            self.test = test
            self.patch = patch
            self.earlier = earlier
        }
    }

    /// For each of `tests` (the regressions of the base against the last patch), the first
    /// patch from which it stays bad: failing (fail, timeout, error) or missing. `afterPatch[i]`
    /// holds the results after patch i+1. A test that is fine after the last patch has no
    /// culprit and is left out.
    public static func culprits(of tests: [String], afterPatch: [ResultSet]) -> [Culprit] {
        let byName = afterPatch.map { set in Dictionary(set.tests.map { ($0.name, $0.status) }, uniquingKeysWith: { a, _ in a }) }
        return tests.compactMap { name in
            let bad = byName.map { statuses in statuses[name].map(\.isFailure) ?? true }
            guard bad.last == true else { return nil }
            var first = bad.count - 1
            while first > 0 && bad[first - 1] { first -= 1 }
            let earlier = bad[..<first].indices.filter { i in bad[i] && (i == 0 || !bad[i - 1]) }
            return Culprit(test: name, patch: first + 1, earlier: earlier.map { $0 + 1 })
        }
    }

    /// The tests a comparison counts as a regression: new failures, then passing tests gone missing.
    public static func regressedTests(_ comparison: Comparison) -> [String] {
        comparison.newFailures.map(\.name) + comparison.lostPasses.map(\.name)
    }
}
