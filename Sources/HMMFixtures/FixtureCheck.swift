import HMMModel

/// Maintenance of hand-written fixtures: fill in the model's expectations, or check that the
/// stored ones are the current model's. Both keep the author's header, comments and blank
/// lines; only step lines and their `#:` notes are the model's.
public enum FixtureMaintenance {
    /// The text with every step's expectation and notes re-derived by the model. Steps are
    /// written in canonical form (fork blocks indented by two spaces).
    public static func withExpectations(_ text: String, file: String) throws(FixtureError) -> String {
        let (fixture, stepLines) = try Fixture.parseWithLines(text, file: file)
        let derived = fixture.derived()
        var stepAt: [Int: Int] = [:]
        for (i, n) in stepLines.enumerated() { stepAt[n] = i }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var out: [String] = []
        var depth = 0
        var inSteps = false
        for (i, raw) in lines.enumerated() {
            let n = i + 1
            if let k = stepAt[n] {
                inSteps = true
                let st = derived.steps[k]
                if case .exitChild = st.action { depth = max(0, depth - 1) }
                let indent = String(repeating: "  ", count: depth)
                var line = indent + Syntax.action(st.action)
                if let e = st.expectation { line += "  => " + e }
                out.append(line)
                for note in st.notes { out.append(indent + "#: " + note) }
                if case .fork = st.action { depth += 1 }
                continue
            }
            // Notes belong to the step above: they are replaced, not kept.
            if inSteps && raw.trimmingSpaces.hasPrefix("#:") { continue }
            out.append(raw)
        }
        return out.joined(separator: "\n")
    }

    /// Everything that keeps `text` from being a current, runnable fixture: a parse error, a
    /// failed precondition, a step whose stored expectation or notes are not the model's, and
    /// (unless `allowHazards`) a step the model predicts to crash the kernel.
    public static func problems(in text: String, file: String, allowHazards: Bool = true) -> [FixtureError] {
        let fixture: Fixture
        let stepLines: [Int]
        do {
            (fixture, stepLines) = try Fixture.parseWithLines(text, file: file)
        } catch {
            return [error]
        }
        var out: [FixtureError] = []
        let lastLine = text.split(separator: "\n", omittingEmptySubsequences: false).count
        var checkedSteps = fixture.steps.count
        if let v = fixture.firstViolation() {
            let line = v.index < stepLines.count ? stepLines[v.index] : lastLine
            out.append(FixtureError(file: file, line: line, message: "precondition: \(v.reason)"))
            checkedSteps = v.index
        }
        let derived = fixture.derived()
        for i in 0..<checkedSteps {
            let stored = fixture.steps[i]
            let model = derived.steps[i]
            let line = stepLines[i]
            if stored.expectation != model.expectation {
                let have = stored.expectation.map { "'\($0)'" } ?? "none"
                let want = model.expectation.map { "'\($0)'" } ?? "none"
                out.append(FixtureError(file: file, line: line, message: "expectation \(have) differs from the model's \(want)"))
            }
            if stored.notes != model.notes {
                out.append(FixtureError(file: file, line: line,
                                          message: "notes differ from the model's: [\(model.notes.joined(separator: " / "))]"))
            }
            if !allowHazards, let h = model.notes.first(where: { $0.hasPrefix("HAZARD:") }) {
                out.append(FixtureError(file: file, line: line, message: "hazard step: \(h)"))
            }
        }
        return out
    }
}
