import KTAP

extension Shard {
    /// The tests of `planned` in this shard, in their order.
    public func select(_ planned: [PlannedTest]) -> [PlannedTest] {
        planned.filter { contains($0.test.id.description) }
    }
}
