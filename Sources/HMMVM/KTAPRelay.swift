import KTAP

/// Re-emits a guest's kselftest-style KTAP as one document on the host, across VM
/// restarts: one header and plan, results renumbered in order, the guest's own summary
/// lines replaced by the host's, and a synthesized result for a test the VM died in.
/// Pure: fed lines, writes lines; tested without a VM.
public final class KTAPRelay {
    private var writer: KTAPWriter
    private var parser = KTAPParser()
    private let emit: (String) -> Void
    private var started = false
    private var sawStartingLine = false
    /// The test announced by `#  RUN` whose result has not arrived.
    public private(set) var runningTest: String?
    public private(set) var lastFinishedTest: String?
    public private(set) var resultCount = 0
    public private(set) var plan: Int?

    public init(emit: @escaping (String) -> Void) {
        self.emit = emit
        writer = KTAPWriter(style: .kselftest, sink: emit)
    }

    /// Summary lines the host writes itself at the end.
    static func isSummary(_ line: String) -> Bool {
        line.hasPrefix("# Totals:") || line.hasPrefix("# PASSED:") || line.hasPrefix("# FAILED:")
            || line.hasPrefix("# Planned tests != run tests")
    }

    /// The harness's OK/FAIL/SKIP decorations; `KTAPWriter.end` writes them again.
    static func isDecoration(_ line: String) -> Bool {
        line.hasPrefix("#            OK  ") || line.hasPrefix("#          FAIL  ") || line.hasPrefix("#      SKIP      ")
    }

    private func ensureStarted(plan: Int?) {
        guard !started else { return }
        started = true
        self.plan = plan
        writer.start(plan: plan)
    }

    public func feed(_ rawLine: String) {
        let line = String(rawLine.filter { $0 != "\r" })
        let event = parser.feed(line: line)
        if line.hasPrefix("  ") || line.hasPrefix("\t") {  // nested KTAP: passes through untouched
            ensureStarted(plan: nil)
            emit(line)
            return
        }
        if line.hasPrefix("TAP version") || line.hasPrefix("KTAP version") { return }
        if line.hasPrefix("1.."), let n = Int(line.dropFirst(3).prefix { $0.isNumber }) {
            ensureStarted(plan: n)
            return
        }
        ensureStarted(plan: nil)
        if line.hasPrefix("# Starting ") {
            if !sawStartingLine { emit(line) }
            sawStartingLine = true
            return
        }
        if Self.isSummary(line) || Self.isDecoration(line) { return }
        switch event {
        case let .started(name, 0)?:
            runningTest = name
            writer.begin(name)
        case let .result(test, 0)?:
            var result = test
            result.diagnostics = []  // already streamed
            writer.end(result)
            resultCount += 1
            lastFinishedTest = test.name
            runningTest = nil
        default:
            emit(line)
        }
    }

    /// The VM died or hung: report the running test (if any) with `status` and the console
    /// excerpt, so the results so far stay a well-formed document. Returns the test's name.
    /// Between tests (after the last one, during the module's unload) it is a result of its
    /// own, `vm.died_after.<last test>`: an oops there fails the run like any other.
    @discardableResult
    public func abort(status: TestStatus, reason: String, excerpt: [String]) -> String? {
        ensureStarted(plan: nil)
        for line in excerpt { writer.diagnostic("console: " + line) }
        guard let name = runningTest else {
            writer.end(KTAPTestCase(name: "vm.died_after." + (lastFinishedTest ?? "start"), status: status,
                                    reason: reason + " (between tests)"))
            resultCount += 1
            parser = KTAPParser()
            return nil
        }
        writer.end(KTAPTestCase(name: name, status: status, reason: reason))
        resultCount += 1
        lastFinishedTest = name
        runningTest = nil
        // A fresh parser for the next boot's output.
        parser = KTAPParser()
        return name
    }

    /// A new guest segment starts after a restart.
    public func restart() { parser = KTAPParser() }

    /// Host summary and exit code.
    public func finish() -> KSFTExitCode {
        ensureStarted(plan: nil)
        return writer.finish()
    }
}
