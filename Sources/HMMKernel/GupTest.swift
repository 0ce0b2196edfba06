import HMMSystem
import HMMUAPI

/// The kernel's get_user_pages test driver (/sys/kernel/debug/gup_test, CONFIG_GUP_TEST).
/// hmm-tests uses it to pin device pages, which must migrate them back to system RAM
/// for FOLL_LONGTERM.
public struct GupTestDevice: ~Copyable {
    public enum Command: UInt8, Sendable {
        case fastBenchmark = 1
        case pinFastBenchmark = 2
        case pinLongtermBenchmark = 3
        case basicTest = 4
    }

    public static let path = "/sys/kernel/debug/gup_test"
    public static let follWrite: UInt32 = 0x01
    /// FOLL_LONGTERM's value in 6.2+ (0x10000 in 6.1's selftest copy).
    public static func follLongterm(release: KernelVersion?) -> UInt32 {
        if let release, release < KernelVersion(6, 2) { return 0x10000 }
        return 0x100
    }

    /// `struct gup_test`: four __u64, three __u32, which_pages[8]; sizeof 80 with tail padding.
    struct Arguments {
        var getDeltaMicroseconds: UInt64 = 0
        var putDeltaMicroseconds: UInt64 = 0
        var addr: UInt64 = 0
        var size: UInt64 = 0
        var pagesPerCall: UInt32 = 0
        var gupFlags: UInt32 = 0
        var testFlags: UInt32 = 0
        var whichPages: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0, 0, 0, 0, 0)
    }

    let fd: FileDescriptor

    public init() throws(SystemError) { fd = try FileDescriptor.open(Self.path) }

    public func run(_ command: Command, address: UInt64, pages: UInt32, size: UInt64, extraFlags: UInt32) throws(SystemError) {
        var args = Arguments(addr: address, size: size, pagesPerCall: pages, gupFlags: Self.follWrite | extraFlags)
        let request = IoctlEncoding.readWrite(type: UInt8(ascii: "g"), number: command.rawValue,
                                              size: MemoryLayout<Arguments>.stride)
        try Sys.ioctl(fd.rawValue, request, &args, name: "gup_test \(command)")
    }
}
