import HMMModel

/// A value `gen` or `fuzz` was given that generated programs cannot use; the text says why.
public struct GeneratorArgumentError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Non-negative numbers written `0,1,2`.
private func numbers(_ text: String) throws(GeneratorArgumentError) -> [Int] {
    let values = text.split(separator: ",").map { Int($0) }
    guard !values.isEmpty, values.allSatisfy({ $0 != nil && $0! >= 0 }) else {
        throw GeneratorArgumentError("'\(text)' is not a comma-separated list of numbers")
    }
    return values.map { $0! }
}

/// The device minors generated programs use (`0,1` private, `2,3` coherent), within the
/// fixture parser's limits so what is written reads back.
public struct DeviceMinors: Sendable, Hashable, CustomStringConvertible {
    public var minors: [Int]

    public init(_ minors: [Int]) { self.minors = minors }

    public init(parsing text: String) throws(GeneratorArgumentError) {
        minors = try numbers(text)
        guard minors.allSatisfy({ $0 <= FixtureLimits.largestDevice }) else {
            throw GeneratorArgumentError("minors are 0...\(FixtureLimits.largestDevice)")
        }
    }

    /// `0,1`, as written on a command line.
    public var description: String { minors.map(String.init).joined(separator: ",") }
}

/// The NUMA nodes generated programs place memory on: distinct, within the fixture
/// parser's limits.
public struct NodeNumbers: Sendable, Hashable, CustomStringConvertible {
    public var nodes: [Int]

    public init(_ nodes: [Int]) { self.nodes = nodes }

    public init(parsing text: String) throws(GeneratorArgumentError) {
        let problem = GeneratorArgumentError("distinct node numbers 0...\(FixtureLimits.largestNode), got '\(text)'")
        do { nodes = try numbers(text) } catch { throw problem }
        guard nodes.allSatisfy({ $0 <= FixtureLimits.largestNode }), Set(nodes).count == nodes.count else { throw problem }
    }

    /// `0,1`, as written on a command line.
    public var description: String { nodes.map(String.init).joined(separator: ",") }
}

/// Generator seeds written `1,2,3`, `1-20` or a mix, in order; each is a file `gen` writes.
public struct SeedList: Sendable, Hashable, CustomStringConvertible {
    /// Seeds one run may generate.
    public static let mostSeeds = 1_000_000

    public var seeds: [UInt64]
    /// The text the seeds were read from.
    public var description: String

    public init(_ seeds: [UInt64]) {
        self.seeds = seeds
        description = seeds.map(String.init).joined(separator: ",")
    }

    public init(parsing text: String) throws(GeneratorArgumentError) {
        var out: [UInt64] = []
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-").map { UInt64($0) }
            switch bounds.count {
            case 1 where bounds[0] != nil: out.append(bounds[0]!)
            case 2 where bounds[0] != nil && bounds[1] != nil && bounds[0]! <= bounds[1]!:
                let (low, high) = (bounds[0]!, bounds[1]!)
                guard high - low < UInt64(Self.mostSeeds - out.count) else {
                    throw GeneratorArgumentError("'\(part)' is more than \(Self.mostSeeds) seeds in all")
                }
                out += Array(low...high)
            default: throw GeneratorArgumentError("'\(part)' is not a number or a range A-B")
            }
            if out.count > Self.mostSeeds { throw GeneratorArgumentError("more than \(Self.mostSeeds) seeds") }
        }
        seeds = out
        description = text
    }
}
