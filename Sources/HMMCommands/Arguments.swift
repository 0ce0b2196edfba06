import ArgumentParser
import HMMFixtures
import HMMKernel
import HMMModel
import HMMSuite
import HMMWorkflows
import KTAP
import Synchronization

// The library types the suite's options take. A bad value is ArgumentParser's usage error
// (exit 2) naming the option; an enum's message lists its values, a parsed type's gives the reason.

extension MigrationBenchmark.Backing: ExpressibleByArgument {}

/// `K/N` on the command line. The options read it with ``Shard/init(parsing:)`` as a
/// transform, so a bad value is refused with the reason rather than only "invalid".
extension Shard: ExpressibleByArgument {
    public init?(argument: String) { try? self.init(parsing: argument) }
}

extension KernelProfile: ExpressibleByArgument {
    public init?(argument: String) {
        guard let profile = KernelProfile.named(argument) else { return nil }
        self = profile
    }
    public static var allValueStrings: [String] { all.map(\.name) }
    public var defaultValueDescription: String { name }
}

extension JobCount: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

extension SPMAddresses: ExpressibleByArgument {
    public init?(argument: String) { try? self.init(parsing: argument) }
}

extension ModuleParameterValue: ExpressibleByArgument {
    public init?(argument: String) { try? self.init(parsing: argument) }
}

/// Option transforms that keep the reason a value was refused (and, where the tests and
/// users know it so, the option's name in front of it).
public enum Parse {
    public static func shard(_ text: String) throws -> Shard { try Shard(parsing: text) }
    public static func moduleParameter(_ text: String) throws -> ModuleParameterValue {
        try ModuleParameterValue(parsing: text)
    }
    public static func spm(_ text: String) throws -> SPMAddresses {
        do { return try SPMAddresses(parsing: text) } catch { throw ValidationError("--spm takes \(error)") }
    }
}

/// The value of a filter option (`-t`, `-T`, `-v`, `-V`, `-f`, `-F`, `-r`) and its place
/// among them. The first rule that matches a test decides, so their order counts across
/// options, which ArgumentParser keeps only within each option's array. It reads the command
/// line left to right and transforms each value as it reaches it, so a number drawn from one
/// counter in the transform orders the values of one parse (draws by other parses at the same
/// time only leave gaps). `FilterOrderTests` checks it through the command tree.
struct FilterArgument: Sendable {
    let rule: TestFilter.Rule
    let position: Int

    private static let counter = Atomic<Int>(0)

    static func reader(_ include: Bool, _ field: TestFilter.Field) -> @Sendable (String) -> FilterArgument {
        { value in
            FilterArgument(rule: TestFilter.Rule(include: include, field: field, value: value),
                           position: counter.add(1, ordering: .sequentiallyConsistent).newValue)
        }
    }
}
