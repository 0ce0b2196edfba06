/// The outcome of one test, as kselftest distinguishes them: the one status type of every
/// layer (the runner's outcomes, KTAP lines, hmmkit's results JSON, KCIDB and JUnit).
///
/// KTAP only has `ok` / `not ok`; the finer grain lives in the directive after ` # `.
/// `timeout` and `error` are separate because runners (and hmmkit's own isolation)
/// report them separately even though kselftest's counters fold a timeout into `fail`.
/// The raw values are the names hmmkit's results JSON stores.
public enum TestStatus: String, Sendable, Hashable, CaseIterable {
    case pass, fail, skip, xfail, xpass, timeout, error

    /// The order counts and lists of statuses are written in (a results summary, the
    /// comparison's counts, a repeated test's counts, the JSON reader's "expected one of"):
    /// hmmkit's own outcomes first, then the expected ones only other tools report.
    public static let reportingOrder: [TestStatus] = [.pass, .fail, .skip, .timeout, .error, .xfail, .xpass]

    /// Whether the result line starts with `ok` (skips and expected outcomes do).
    public var isOK: Bool {
        switch self {
        case .pass, .skip, .xfail, .xpass: true
        case .fail, .timeout, .error: false
        }
    }

    /// Whether this result makes the run fail (the harness's `FAIL` decoration and exit 1).
    public var isFailure: Bool { !isOK }

    /// The test's own checks ran to a good end (an expected failure counts as good).
    public var isPassing: Bool { self == .pass || self == .xpass || self == .xfail }

    /// The directive keyword written after ` # `, or `nil` for plain pass/fail.
    public var directive: String? {
        switch self {
        case .pass, .fail: nil
        case .skip: "SKIP"
        case .xfail: "XFAIL"
        case .xpass: "XPASS"
        case .timeout: "TIMEOUT"
        case .error: "ERROR"
        }
    }

    /// The exit status a kselftest test (or harness child) uses for this result.
    public var exitCode: KSFTExitCode {
        switch self {
        case .pass: .pass
        case .fail, .timeout, .error: .fail
        case .xfail: .xfail
        case .xpass: .xpass
        case .skip: .skip
        }
    }

    /// The result a harness child's exit status stands for; unknown codes are failures,
    /// as in `__wait_for_test`.
    public init(exitCode: Int32) {
        switch KSFTExitCode(rawValue: exitCode) {
        case .pass: self = .pass
        case .xfail: self = .xfail
        case .xpass: self = .xpass
        case .skip: self = .skip
        case .fail, nil: self = .fail
        }
    }

    /// The result of a parent test from its subtests (KTAP "bubbling up"): any failure
    /// fails the parent, skips never do, and a parent whose children all skipped is skipped.
    public static func aggregate(_ results: some Sequence<TestStatus>) -> TestStatus {
        var sawAny = false
        var allSkipped = true
        for result in results {
            sawAny = true
            if result.isFailure { return .fail }
            if result != .skip { allSkipped = false }
        }
        return sawAny && allSkipped ? .skip : .pass
    }
}

/// kselftest's exit codes (`KSFT_PASS` … `KSFT_SKIP` in `kselftest.h`).
///
/// Runners read these: `runner.sh` reports exit 4 as `# SKIP`, anything else non-zero as failure.
public enum KSFTExitCode: Int32, Sendable, Hashable, CaseIterable {
    case pass = 0
    case fail = 1
    case xfail = 2
    case xpass = 3
    case skip = 4

    /// The exit code for a whole run: 1 if anything failed, 4 if nothing ran or everything
    /// was skipped, else 0.
    ///
    /// Unlike `kselftest_harness.h` (which exits 0 for an all-skipped run) this follows the
    /// `KSFT_SKIP` convention so a runner can tell "not applicable here" from "passed".
    public init(summarizing results: some Sequence<TestStatus>) {
        var allSkipped = true
        for result in results {
            if result.isFailure { self = .fail; return }
            if result != .skip { allSkipped = false }
        }
        self = allSkipped ? .skip : .pass
    }
}

/// Counters in the shape of kselftest's `# Totals:` line.
///
/// A timeout counts as `fail` (the harness has no timeout counter); `error` is
/// `ksft_test_result_error`'s counter.
public struct KTAPTotals: Sendable, Hashable, CustomStringConvertible {
    public var pass = 0
    public var fail = 0
    public var xfail = 0
    public var xpass = 0
    public var skip = 0
    public var error = 0

    public init(pass: Int = 0, fail: Int = 0, xfail: Int = 0, xpass: Int = 0, skip: Int = 0, error: Int = 0) {
        self.pass = pass
        self.fail = fail
        self.xfail = xfail
        self.xpass = xpass
        self.skip = skip
        self.error = error
    }

    public init(counting results: some Sequence<TestStatus>) {
        for result in results { add(result) }
    }

    public mutating func add(_ result: TestStatus) {
        switch result {
        case .pass: pass += 1
        case .fail, .timeout: fail += 1
        case .xfail: xfail += 1
        case .xpass: xpass += 1
        case .skip: skip += 1
        case .error: error += 1
        }
    }

    /// Number of results counted.
    public var total: Int { pass + fail + xfail + xpass + skip + error }

    /// Results the harness counts as passed in `# PASSED: p / n` (everything but failures).
    public var passedByHarness: Int { pass + xfail + xpass + skip }

    /// The `# Totals:` text without the leading `# `.
    public var description: String {
        "Totals: pass:\(pass) fail:\(fail) xfail:\(xfail) xpass:\(xpass) skip:\(skip) error:\(error)"
    }
}
