import HMMReport

extension SeriesOutcome {
    /// The result for a person (stdout): each kernel with its counts and verdict, the patch
    /// that introduced each new failure (with `--each`), the base-against-patched
    /// comparison, and a closing verdict line. Ends with a newline.
    public var summary: String {
        let count = patchCount
        var out: [String] = []
        out.append("hmmkit series: \(count) patch\(count == 1 ? "" : "es") on base \(steps[0].commit.prefix(12)) of \(repository)")
        out.append("")
        let width = SeriesStep.label(count, of: count).count
        let indent = String(repeating: " ", count: 2 + width + 2 + 12 + 2)
        for step in steps {
            let label = SeriesStep.label(step.number, of: count)
            let head = "  " + label.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + step.commit.prefix(12) + "  "
            let set = results[step.number]
            if step.number == 0 {
                out.append(head + (set.map { "\($0.label): \($0.summary)" } ?? "not run"))
                continue
            }
            out.append(head + (step.subject ?? ""))
            if let set, let comparison = comparisons[step.number] {
                out.append(indent + set.summary + "; " + Self.verdict(comparison) + " against the base")
            } else {
                out.append(indent + "(not run on its own; --each runs every patch)")
            }
        }

        if each {
            out.append("")
            if culprits.isEmpty {
                out.append("No patch introduced a failure.")
            } else {
                out.append("New failures by the patch that introduced them:")
                let byPatch = Dictionary(grouping: culprits, by: \.patch)
                for patch in byPatch.keys.sorted() {
                    out.append("  " + steps[patch].title(of: count) + ":")
                    for culprit in byPatch[patch]! {
                        var line = "    " + culprit.test
                        if let status = results[patch]?.test(named: culprit.test)?.status {
                            line += " (\(status.rawValue))"
                        } else {
                            line += " (missing)"
                        }
                        if !culprit.earlier.isEmpty {
                            line += "; also failed after patch \(culprit.earlier.map(String.init).joined(separator: ", ")) and passed again"
                        }
                        out.append(line)
                    }
                }
            }
        }

        out.append("")
        out.append("Base against the patched kernel (\(steps[count].title(of: count))):")
        out.append(String(final.text.dropLast()))
        out.append("")
        out.append(verdictLine)
        return out.joined(separator: "\n") + "\n"
    }

    /// The closing line: `REGRESSION: …; first bad patch: patch 2/3 "…"` or `No regression.`
    public var verdictLine: String {
        guard isRegression else { return "Series result: no regression." }
        var line = "Series result: " + Self.verdict(final)
        let first = culprits.map(\.patch).min()
        if let first { line += "; first bad patch: " + steps[first].title(of: patchCount) }
        return line
    }

    /// `no regression` / `REGRESSION: 2 new failures, 1 passing test missing`.
    static func verdict(_ comparison: Comparison) -> String {
        guard comparison.isRegression else { return "no regression" }
        var why: [String] = []
        let failures = comparison.newFailures.count
        let missing = comparison.lostPasses.count
        if failures > 0 { why.append("\(failures) new failure\(failures == 1 ? "" : "s")") }
        if missing > 0 { why.append("\(missing) passing test\(missing == 1 ? "" : "s") missing") }
        return "REGRESSION: " + why.joined(separator: ", ")
    }
}
