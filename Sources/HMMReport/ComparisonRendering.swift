import KTAP

extension Comparison {
    /// How many diagnostic lines of a new failure the text shows.
    static let diagnosticsShown = 6

    /// The comparison for a person: verdict first, then each kind of change with the tests in
    /// it, then timing changes and a count of the unchanged. Ends with a newline.
    public var text: String {
        var out: [String] = []
        out.append("base:    \(Self.describe(base))")
        out.append("patched: \(Self.describe(patched))")
        for (label, set) in [("base", base), ("patched", patched)] {
            for warning in set.warnings { out.append("warning: \(label) loaded although incomplete: \(warning)") }
        }
        out.append("")
        if isRegression {
            var why: [String] = []
            if !newFailures.isEmpty { why.append(Self.count(newFailures.count, "new failure")) }
            if !lostPasses.isEmpty { why.append(Self.count(lostPasses.count, "passing test") + " missing") }
            out.append("REGRESSION: " + why.joined(separator: ", "))
        } else {
            out.append("No regression.")
        }

        section(&out, "New failures", newFailures) { entry in
            var lines = [Self.transition(entry)]
            let shown = entry.patched?.diagnostics.prefix(Self.diagnosticsShown) ?? []
            lines += shown.map { "      " + $0 }
            let more = (entry.patched?.diagnostics.count ?? 0) - shown.count
            if more > 0 { lines.append("      … \(Self.count(more, "more line"))") }
            return lines
        }
        section(&out, "Missing (passed in base)", lostPasses) { [Self.transition($0)] }
        section(&out, "Fixed", fixed) { [Self.transition($0)] }
        section(&out, "Skip changes", skipChanges) { [Self.transition($0)] }
        section(&out, "Other status changes", otherChanges) { [Self.transition($0)] }
        section(&out, "Appeared (only in patched)", appeared) { [Self.transition($0)] }
        let otherMissing = disappeared.filter { entry in !lostPasses.contains(entry) }
        section(&out, "Missing (did not pass in base)", otherMissing) { [Self.transition($0)] }
        section(&out, "Timing changes (\(timingRule))", timingChanges) { change in
            let direction = change.isSlower ? "slower" : "faster"
            let factor = change.factor.isFinite ? JSONValue.numberText((change.factor * 10).rounded() / 10) + "×" : "from 0"
            return ["  \(change.name): \(Seconds.text(change.base)) → \(Seconds.text(change.patched)) (\(factor) \(direction))"]
        }
        out.append("")
        out.append("Unchanged: \(Self.count(unchangedCount, "test"))")
        return out.joined(separator: "\n") + "\n"
    }

    private func section<T>(_ out: inout [String], _ title: String, _ items: [T], _ lines: (T) -> [String]) {
        guard !items.isEmpty else { return }
        out.append("")
        out.append("\(title) (\(items.count)):")
        for item in items { out += lines(item) }
    }

    static func describe(_ set: ResultSet) -> String {
        var parts = [set.label]
        if let profile = set.profile { parts.append("profile \(profile)") }
        if let started = set.startedAt { parts.append("started \(Timestamp.format(started))") }
        let source = set.source.map { "\($0): " } ?? ""
        return source + parts.joined(separator: ", ") + "; " + set.summary
    }

    static func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

    /// `  name: pass → fail (reason)`, with the reason of each side that has one.
    static func transition(_ entry: Entry) -> String {
        func side(_ test: ResultSet.Test?) -> String {
            guard let test else { return "absent" }
            return test.status.rawValue + (test.reason.map { " (\($0))" } ?? "")
        }
        return "  \(entry.name): \(side(entry.base)) → \(side(entry.patched))"
    }

    /// The comparison as data (`"format": "hmmkit-comparison"`, version 1).
    public var json: JSONValue {
        func test(_ t: ResultSet.Test?) -> JSONValue? {
            t.map { t in
                .members([
                    ("status", .string(t.status.rawValue)),
                    ("reason", t.reason.map(JSONValue.string)),
                    ("duration", t.duration.map(JSONValue.number)),
                    ("diagnostics", t.diagnostics.isEmpty ? nil : .array(t.diagnostics.map(JSONValue.string))),
                ])
            }
        }
        func entries(_ list: [Entry]) -> JSONValue {
            .array(list.map { .members([("name", .string($0.name)), ("base", test($0.base)), ("patched", test($0.patched))]) })
        }
        func run(_ set: ResultSet) -> JSONValue {
            .members([
                ("file", set.source.map(JSONValue.string)),
                ("tool", .string(set.tool.rawValue)),
                ("kernel_release", set.kernelRelease.map(JSONValue.string)),
                ("profile", set.profile.map(JSONValue.string)),
                ("started_at", set.startedAt.map { .string(Timestamp.format($0)) }),
                ("tests", .number(Double(set.tests.count))),
                ("counts", .object(TestStatus.reportingOrder.compactMap { status in
                    set.counts[status].map { (status.rawValue, .number(Double($0))) }
                })),
                ("warnings", set.warnings.isEmpty ? nil : .array(set.warnings.map(JSONValue.string))),
            ])
        }
        return .members([
            ("format", .string("hmmkit-comparison")),
            ("version", .number(1)),
            ("regression", .bool(isRegression)),
            ("base", run(base)),
            ("patched", run(patched)),
            ("timing_rule", .members([
                ("minimum_seconds", .number(timingRule.minimumSeconds)),
                ("minimum_ratio", .number(timingRule.minimumRatio)),
            ])),
            ("new_failures", entries(newFailures)),
            ("missing_passes", entries(lostPasses)),
            ("fixed", entries(fixed)),
            ("skip_changes", entries(skipChanges)),
            ("other_changes", entries(otherChanges)),
            ("appeared", entries(appeared)),
            ("disappeared", entries(disappeared)),
            ("timing_changes", .array(timingChanges.map { change in
                .members([
                    ("name", .string(change.name)),
                    ("base", .number(change.base)),
                    ("patched", .number(change.patched)),
                    ("slower", .bool(change.isSlower)),
                ])
            })),
            ("unchanged", .number(Double(unchangedCount))),
        ])
    }
}
