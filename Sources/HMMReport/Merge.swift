import FoundationEssentials

extension ResultSet {
    /// Several result sets as one: the shards of a plan (`run --shard K/N`), or the suite run
    /// on several machines. The tests of all of them, sorted by name; a test two sets both
    /// have is kept once (the first set's copy) when its status is the same in both.
    ///
    /// Refused, naming the files (``source``): a test whose status differs between two sets
    /// (``ReportError/Kind/conflict``: `b.ktap: test 'x' is fail here but pass in a.ktap`),
    /// results of different tools or of different kernel releases
    /// (``ReportError/Kind/incompatible``), and nothing to merge.
    ///
    /// The merged set: the tool and kernel release the sets share; the earliest start; the
    /// profile, architecture, compiler, config and machine facts where the sets agree (where
    /// they differ, none, and a warning saying what each file said); every hmmkit version
    /// that made them (`0.2.0, 0.2.0+abc`); the sets' warnings, each with its file, and one
    /// for each set that was skipped as a whole.
    public static func merging(_ sets: [ResultSet]) throws(ReportError) -> ResultSet {
        guard let first = sets.first else { throw ReportError(.badOption, "no results to merge") }
        let names = sets.enumerated().map { i, set in set.source ?? "results \(i + 1)" }

        for (i, set) in sets.enumerated() where set.tool != first.tool {
            throw ReportError(.incompatible, "these are \(set.tool.rawValue) results but \(names[0]) holds \(first.tool.rawValue) results; "
                              + "merge one tool's results", file: names[i])
        }
        var release: (value: String, file: String)?
        for (i, set) in sets.enumerated() {
            guard let value = set.kernelRelease else { continue }
            if let release, release.value != value {
                throw ReportError(.incompatible, "results of kernel \(value) here but of \(release.value) in \(release.file); "
                                  + "merge results of one kernel", file: names[i])
            }
            if release == nil { release = (value, names[i]) }
        }

        var byName: [String: (test: Test, file: String)] = [:]
        var conflicts: [ReportError] = []
        for (i, set) in sets.enumerated() {
            for test in set.tests {
                guard let earlier = byName[test.name] else {
                    byName[test.name] = (test, names[i])
                    continue
                }
                if earlier.test.status != test.status {
                    conflicts.append(ReportError(.conflict, "test '\(test.name)' is \(test.status.rawValue) here but "
                                                 + "\(earlier.test.status.rawValue) in \(earlier.file)", file: names[i]))
                }
            }
        }
        if var conflict = conflicts.first {
            if conflicts.count > 1 { conflict.message += " (and \(conflicts.count - 1) more tests that disagree)" }
            throw conflict
        }

        var warnings: [String] = []
        func warn(_ text: String) { if !warnings.contains(text) { warnings.append(text) } }
        for (i, set) in sets.enumerated() {
            for warning in set.warnings { warn(warning.hasPrefix(names[i]) ? warning : "\(names[i]): \(warning)") }
            if let reason = set.skipReason { warn("\(names[i]): the whole run was skipped: \(reason)") }
        }
        /// The value every set that has one agrees on; nil, with a warning, when they differ.
        func agreed(_ field: KeyPath<ResultSet, String?>, _ what: String) -> String? {
            let values = sets.enumerated().compactMap { i, set in set[keyPath: field].map { (names[i], $0) } }
            guard let value = values.first?.1 else { return nil }
            if values.allSatisfy({ $0.1 == value }) { return value }
            warn("the merged results differ in \(what): " + values.map { "\($0.0): \($0.1)" }.joined(separator: "; "))
            return nil
        }
        var versions: [String] = []
        for set in sets where !versions.contains(set.hmmkitVersion) { versions.append(set.hmmkitVersion) }
        let tests = byName.values.map(\.test).sorted { $0.name < $1.name }
        guard tests.count <= ResultLimits.tests else {
            throw ReportError(.incompatible, "the merged results hold \(tests.count) tests, over the limit of \(ResultLimits.tests)")
        }

        return ResultSet(
            tool: first.tool, hmmkitVersion: versions.joined(separator: ", "), kernelRelease: release?.value,
            profile: agreed(\.profile, "profile"), startedAt: sets.compactMap(\.startedAt).min(),
            architecture: agreed(\.architecture, "architecture"), compiler: agreed(\.compiler, "compiler"),
            configName: agreed(\.configName, "config"), machine: agreed(\.machine, "machine"),
            skipReason: tests.isEmpty ? sets.compactMap(\.skipReason).first : nil, tests: tests, warnings: warnings)
    }
}
