import KTAP

/// What `list`, `run` and `replay` select: the suite's tests and fixture replays through the
/// kselftest filters (the first matching rule decides), then one shard of what is left.
public struct TestPlan: Sendable {
    public var filter: TestFilter
    /// Offer hmmkit's own VM fault-handling checks (fixture `vmcheck`) too.
    public var includeVMChecks: Bool
    public var shard: Shard?

    public init(filter: TestFilter = TestFilter(), includeVMChecks: Bool = false, shard: Shard? = nil) {
        self.filter = filter
        self.includeVMChecks = includeVMChecks
        self.shard = shard
    }

    /// The suite's tests the filters accept, in run order, before sharding. The vmcheck
    /// tests join when asked for or when a filter names them (`-f vmcheck`, `-r vmcheck.…`).
    public func suite() -> [PlannedTest] {
        let namesVMCheck = filter.rules.contains { rule in
            rule.include && (rule.field == .full && rule.value.hasPrefix("vmcheck.") || rule.field == .fixture && rule.value == "vmcheck")
        }
        return Registry.all(includeVMChecks: includeVMChecks || namesVMCheck).filter { filter.accepts($0.test.id) }
    }

    /// The tests of `planned` in the shard (all of them without one), in their order.
    public func sharded(_ planned: [PlannedTest]) -> [PlannedTest] {
        shard.map { $0.select(planned) } ?? planned
    }

    /// The suite (unless `suite` is false), then the `replays` the filters accept, in the shard.
    public func tests(suite includeSuite: Bool = true, replays: [PlannedTest] = []) -> [PlannedTest] {
        sharded((includeSuite ? suite() : []) + replays.filter { filter.accepts($0.test.id) })
    }

    /// The tests of `planned` after the one named `name` (fixture.variant.test), for a run
    /// resumed after a crash; nil when no test of `planned` has that name.
    public static func resuming(after name: String, in planned: [PlannedTest]) -> [PlannedTest]? {
        guard let index = planned.firstIndex(where: { $0.test.id.description == name }) else { return nil }
        return Array(planned[(index + 1)...])
    }
}

extension FixtureTests {
    /// Planned replay tests for files and directories of `*.fixture` files; a path that
    /// cannot be listed stays as given and becomes a failing test.
    public func plan(expanding paths: [String]) -> [PlannedTest] {
        var files: [String] = []
        for path in paths {
            files += (try? FixtureTests.expand([path])) ?? [path]
        }
        return plan(paths: files)
    }
}
