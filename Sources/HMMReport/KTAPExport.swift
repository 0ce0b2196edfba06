import FoundationEssentials
import KTAP

extension ResultSet {
    /// The set as KTAP, the way hmmkit prints a run (kselftest style, `# duration:` lines):
    /// hmmkit's results with the version line and header lines (so they load back as
    /// hmmkit's, with their facts and warnings), another tool's with a `# kernel:` line. Loaded
    /// again it gives the same set, durations to the millisecond and the start to the second
    /// (another tool's start time is not kept).
    public var ktapText: String {
        var lines: [String] = []
        var writer = KTAPWriter(style: .kselftest, includeDurations: true) { lines.append($0) }
        let isHMMKit = tool == .hmmkit
        let notes = isHMMKit ? [Self.ktapVersionLine(hmmkitVersion)] : []
        if tests.isEmpty, let skipReason {
            writer.start(plan: nil)
            lines.append("1..0 # SKIP " + KTAPWriter.sanitizedReason(skipReason))
            for note in notes { writer.diagnostic(note) }
        } else {
            writer.start(plan: tests.count, testCases: KTAPWriter.testCaseCount(tests.map(\.name)), notes: notes)
        }
        if isHMMKit {
            for line in ktapHeaderLines { writer.diagnostic(line) }
        } else {
            if let kernelRelease { writer.diagnostic("kernel: " + Self.oneWord(kernelRelease)) }
            for warning in warnings { writer.diagnostic("hmmkit: warning: " + Self.oneLine(warning)) }
        }
        for test in tests {
            writer.write(KTAPTestCase(name: test.name, status: test.status, reason: test.reason,
                                      diagnostics: test.diagnostics,
                                      duration: test.duration.map { .milliseconds(Int64(($0 * 1000).rounded())) }))
        }
        writer.finish()
        return lines.joined(separator: "\n") + "\n"
    }
}
