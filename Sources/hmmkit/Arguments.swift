import ArgumentParser
import HMMFixtures
import HMMFuzz
import HMMModel
import HMMSeries
import HMMSuite
import HMMVM
import KTAP
import Synchronization

// The library types options take. A bad value is ArgumentParser's usage error (exit 2)
// naming the option; an enum's message lists its values, a parsed type's gives the reason.

extension VMConfiguration.THPAtBoot: ExpressibleByArgument {}
extension VMConfiguration.AcceleratorChoice: ExpressibleByArgument {}
extension VMConfiguration.NodeShape: ExpressibleByArgument {}
extension VMSession.GuestRootChoice: ExpressibleByArgument {}
extension MigrationBenchmark.Backing: ExpressibleByArgument {}
extension THPMode: ExpressibleByArgument {}

/// `K/N` on the command line. The options read it with ``Shard/init(parsing:)`` as a
/// transform, so a bad value is refused with the reason rather than only "invalid".
extension Shard: ExpressibleByArgument {
    public init?(argument: String) { try? self.init(parsing: argument) }
}

extension FuzzDuration: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

extension KernelProfile: ExpressibleByArgument {
    public init?(argument: String) {
        guard let profile = KernelProfile.named(argument) else { return nil }
        self = profile
    }
    public static var allValueStrings: [String] { all.map(\.name) }
    public var defaultValueDescription: String { name }
}

extension DeviceMinors: ExpressibleByArgument {
    public init?(argument: String) { try? self.init(parsing: argument) }
}

extension NodeNumbers: ExpressibleByArgument {
    public init?(argument: String) { try? self.init(parsing: argument) }
}

extension SeedList: ExpressibleByArgument {
    public init?(argument: String) { try? self.init(parsing: argument) }
}

extension SPMAddresses: ExpressibleByArgument {
    public init?(argument: String) { try? self.init(parsing: argument) }
}

extension ModuleParameterValue: ExpressibleByArgument {
    public init?(argument: String) { try? self.init(parsing: argument) }
}

extension CommitRange: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
    public var defaultValueDescription: String { text }
}

/// Option transforms that keep the reason a value was refused (and, where the tests and
/// users know it so, the option's name in front of it).
enum Parse {
    static func shard(_ text: String) throws -> Shard { try Shard(parsing: text) }
    static func devices(_ text: String) throws -> DeviceMinors { try DeviceMinors(parsing: text) }
    static func nodes(_ text: String) throws -> NodeNumbers { try NodeNumbers(parsing: text) }
    static func seeds(_ text: String) throws -> SeedList { try SeedList(parsing: text) }
    static func moduleParameter(_ text: String) throws -> ModuleParameterValue {
        try ModuleParameterValue(parsing: text)
    }
    static func spm(_ text: String) throws -> SPMAddresses {
        do { return try SPMAddresses(parsing: text) } catch { throw ValidationError("--spm takes \(error)") }
    }
    static func commitRange(_ text: String) throws -> CommitRange {
        guard let range = CommitRange(text) else {
            throw ValidationError("--range takes A..B (two revisions; not A...B), got '\(text)'")
        }
        return range
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

/// How a command boots its VMs: the accelerator and when a silent guest counts as hung.
/// Shared by `vm run`, `series` and `coverage`.
struct VMBootOptions: ParsableArguments {
    @Option(help: "auto (KVM if it works, else TCG), kvm or tcg.")
    var accel: VMConfiguration.AcceleratorChoice = .auto
    @Option(help: "Seconds without new output before a VM counts as hung.")
    var stallTimeout: Double = 300
    @Option(help: ArgumentHelp("Count guest time in executed instructions, 2^N ns each (QEMU -icount shift=N; TCG only).",
                               discussion: "Benchmarks then give the same figures on a loaded host.",
                               valueName: "N"))
    var icount: Int?

    func validate() throws {
        if !(stallTimeout > 0) { throw ValidationError("--stall-timeout must be positive") }
        if let icount {
            if !(0...10).contains(icount) { throw ValidationError("--icount takes a shift from 0 to 10, got \(icount)") }
            if accel == .kvm { throw ValidationError("--icount needs TCG: it cannot be used with --accel kvm") }
        }
    }

    /// The accelerator to ask for: instruction counting exists only under TCG.
    var accelerator: VMConfiguration.AcceleratorChoice { icount == nil ? accel : .tcg }
}
