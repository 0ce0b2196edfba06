/// One of N disjoint parts of a test plan (`--shard K/N`), so N machines or VMs can run a
/// plan between them and `hmmkit report merge` can put their results back together.
///
/// A test belongs to shard `StableHash.fnv1a64(name) % N + 1`, by its full name
/// (`hmm.hmm_device_private.migrate`, `replay.corpus.gen-6_12-numa-seed3`): where a test
/// goes depends on nothing but its name and N, not on the other tests, the filters, the
/// order or the machine, so the same shard runs the same tests everywhere, and a test added
/// to the suite moves no other test. The shards of one N cover the plan exactly once.
public struct Shard: Sendable, Hashable, CustomStringConvertible {
    /// The most shards a plan is split into (more would leave nearly all of them empty).
    public static let maximumCount = 10_000

    /// K: which shard, 1...count.
    public let index: Int
    /// N: how many shards.
    public let count: Int

    public init(_ index: Int, of count: Int) throws(ShardError) {
        guard (1...Self.maximumCount).contains(count) else {
            throw ShardError("the number of shards N must be from 1 to \(Self.maximumCount), got \(count)")
        }
        guard (1...count).contains(index) else {
            throw ShardError("the shard K must be from 1 to N (\(count)), got \(index)")
        }
        self.index = index
        self.count = count
    }

    /// Reads `K/N` (decimal digits only, e.g. `2/5`).
    public init(parsing text: String) throws(ShardError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }) else {
            throw ShardError("expected K/N, two whole numbers with 1 <= K <= N <= \(Self.maximumCount) (e.g. 2/5), got '\(text)'")
        }
        // Beyond Int's range is still "too many": the digits are checked, so nil means overflow.
        let k = Int(parts[0]) ?? Int.max
        let n = Int(parts[1]) ?? Int.max
        try self.init(k, of: n)
    }

    public var description: String { "\(index)/\(count)" }

    /// Every shard of a plan split `count` ways.
    public static func all(_ count: Int) throws(ShardError) -> [Shard] {
        try Shard(1, of: count)  // checks count
        return try (1...count).map { (k) throws(ShardError) in try Shard(k, of: count) }
    }

    /// For file names: `shard-2-of-4`.
    public var fileStem: String { "shard-\(index)-of-\(count)" }

    /// The shard (1...count) the test named `name` belongs to when a plan is split `count` ways.
    public static func number(for name: String, count: Int) -> Int {
        precondition(count >= 1, "a plan is split into at least one shard")
        return Int(StableHash.fnv1a64(name) % UInt64(count)) + 1
    }

    public func contains(_ name: String) -> Bool { Self.number(for: name, count: count) == index }
}

/// A `--shard` value that is not `K/N` with 1 <= K <= N <= ``Shard/maximumCount``.
public struct ShardError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
