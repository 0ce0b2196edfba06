/// The 40-byte `struct hmm_dmirror_cmd` shared with `lib/test_hmm.c`, and the ioctl encoding.
///
/// Defined once here; the kernel interface passes a pointer to this struct to ioctl(2).
/// Field order and widths must match the C struct exactly (five `__u64`, no padding).
public struct DmirrorCommand: Equatable, Sendable {
    /// Start virtual address the simulated device operates on (page aligned).
    public var addr: UInt64
    /// User buffer the device copies to/from (`npages` bytes for SNAPSHOT).
    public var ptr: UInt64
    /// Page count; for FLAGS it carries the flag word.
    public var npages: UInt64
    /// Out: pages processed.
    public var cpages: UInt64
    /// Out: device fault rounds (READ/WRITE).
    public var faults: UInt64

    public init(addr: UInt64 = 0, ptr: UInt64 = 0, npages: UInt64 = 0, cpages: UInt64 = 0, faults: UInt64 = 0) {
        self.addr = addr
        self.ptr = ptr
        self.npages = npages
        self.cpages = cpages
        self.faults = faults
    }

    /// Byte size the kernel copies in and out; part of every ioctl number.
    public static let wireSize = 40
}

/// `_IOC` encoding of the asm-generic layout (x86-64, arm64, riscv): dir<<30 | size<<16 | type<<8 | nr.
public enum IoctlEncoding {
    public static let none: UInt32 = 0
    public static let write: UInt32 = 1
    public static let read: UInt32 = 2

    public static func ioc(direction: UInt32, type: UInt8, number: UInt8, size: Int) -> UInt {
        precondition(size < (1 << 14), "ioctl argument size does not fit the 14-bit field")
        let value = (direction << 30) | (UInt32(size) << 16) | (UInt32(type) << 8) | UInt32(number)
        return UInt(value)
    }

    /// `_IOWR(type, nr, T)` with `size` = `MemoryLayout<T>.size`.
    public static func readWrite(type: UInt8, number: UInt8, size: Int) -> UInt {
        ioc(direction: read | write, type: type, number: number, size: size)
    }
}
