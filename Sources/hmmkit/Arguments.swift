import ArgumentParser
import HMMCommands
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
extension THPMode: ExpressibleByArgument {}

extension FuzzDuration: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
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

extension CommitRange: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
    public var defaultValueDescription: String { text }
}

/// The host commands' option transforms, beside those of ``Parse`` the suite's commands share.
extension Parse {
    static func devices(_ text: String) throws -> DeviceMinors { try DeviceMinors(parsing: text) }
    static func nodes(_ text: String) throws -> NodeNumbers { try NodeNumbers(parsing: text) }
    static func seeds(_ text: String) throws -> SeedList { try SeedList(parsing: text) }
    static func commitRange(_ text: String) throws -> CommitRange {
        guard let range = CommitRange(text) else {
            throw ValidationError("--range takes A..B (two revisions; not A...B), got '\(text)'")
        }
        return range
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
