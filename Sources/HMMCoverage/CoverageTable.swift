/// The line-coverage table `hmmkit coverage` prints: one row per source file, one column per
/// workload, then the union of the workloads, and a total row.
public struct CoverageTable: Sendable {
    public struct Column: Sendable {
        public var title: String
        /// Coverage per source file; a file absent here has no data (the workload's VM died,
        /// or the object never reported counters) and shows as `—`.
        public var files: [String: LineCoverage]
        public init(title: String, files: [String: LineCoverage]) {
            self.title = title
            self.files = files
        }
    }

    public var sources: [String]
    public var columns: [Column]

    public init(sources: [String], columns: [Column]) {
        self.sources = sources
        self.columns = columns
    }

    /// The union column: per file, the lines any workload ran (nil with no workload's data).
    public var union: Column {
        var files: [String: LineCoverage] = [:]
        for column in columns {
            for (source, coverage) in column.files { files[source] = files[source].map { $0.union(coverage) } ?? coverage }
        }
        return Column(title: "union", files: files)
    }

    /// `executed/instrumented (P.P%)`, or `—`.
    public static func cell(_ coverage: LineCoverage?) -> String {
        guard let c = coverage else { return "—" }
        let tenths = c.instrumented.isEmpty ? 0 : (c.executed.count * 1000 + c.instrumented.count / 2) / c.instrumented.count
        return "\(c.executed.count)/\(c.instrumented.count) (\(tenths / 10).\(tenths % 10)%)"
    }

    /// The sum over files of one column; nil when any file lacks data (a partial total would mislead).
    static func total(_ column: Column, sources: [String]) -> (executed: Int, instrumented: Int)? {
        var executed = 0
        var instrumented = 0
        for source in sources {
            guard let c = column.files[source] else { return nil }
            executed += c.executed.count
            instrumented += c.instrumented.count
        }
        return (executed, instrumented)
    }

    /// The table as GitHub markdown; with more than one workload, a union column.
    public func markdown() -> String {
        let shown = columns.count > 1 ? columns + [union] : columns
        var lines = ["| file | " + shown.map(\.title).joined(separator: " | ") + " |",
                     "|---|" + String(repeating: "---:|", count: shown.count)]
        for source in sources {
            lines.append("| \(source) | " + shown.map { Self.cell($0.files[source]) }.joined(separator: " | ") + " |")
        }
        let totals = shown.map { column -> String in
            guard let t = Self.total(column, sources: sources) else { return "—" }
            let tenths = t.instrumented == 0 ? 0 : (t.executed * 1000 + t.instrumented / 2) / t.instrumented
            return "\(t.executed)/\(t.instrumented) (\(tenths / 10).\(tenths % 10)%)"
        }
        lines.append("| **total** | " + totals.joined(separator: " | ") + " |")
        return lines.joined(separator: "\n") + "\n"
    }
}
