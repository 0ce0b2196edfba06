import HMMSystem

#if canImport(Glibc)
import Glibc
#endif

/// Address-level memory calls for replaying fixtures, where the replayer, not the
/// kernel, chooses where each region lives (2 MiB-aligned slots, so a fixture's page
/// `512k` starts a PMD block wherever it runs).
///
/// Unlike ``MappedRegion`` nothing here owns a mapping: a fixture's regions are split,
/// moved and unmapped piecewise by the steps themselves, and they live in a worker
/// process whose exit releases them. Pointer code stays in this file.
public enum VirtualMemory {
    public static let pmdBytes = 2 << 20

    /// How a slot is filled.
    public enum Backing: Sendable {
        case privateAnonymous
        case sharedAnonymous
        /// MAP_HUGETLB of the default huge page size (the slot is 2 MiB aligned).
        case hugetlb
        /// A file, shared (page cache) or private (copy on write), from byte `offset`.
        case file(fd: Int32, offset: Int, shared: Bool)
    }

    /// Reserves `bytes` of address space (PROT_NONE, no memory) starting at a 2 MiB
    /// boundary, with reserved guard space on both sides: at least one page below and
    /// 2 MiB above, so regions never touch each other or anything else.
    ///
    /// The guard below matters to test_hmm: its invalidation callback also drops the mirror
    /// entry of the page just past every invalidated range, and the whole address space is
    /// mirrored. Without it, anything the process later maps right below the slot (the
    /// top-down allocator puts the next mapping there: a malloc arena, a large array) and
    /// unmaps again would cost the slot's page 0 its mirror entry, which the model cannot
    /// see, and MIGRATE_TO_DEV's read-back would say ENOENT.
    ///
    /// Slots are asked for low in the address space (``slotHint``), not wherever the top-down
    /// allocator would put them: there they sat highest, so a hole a step punched in a region
    /// (munmap of page 1) was the first gap the next small mmap of the process took (a
    /// one-page ioctl buffer), and a SNAPSHOT then saw that buffer's page where the fixture
    /// has a hole (seen on 6.1.192 in hmm2's snapshot test). Far below the libraries and
    /// buffers, a slot's holes are never the highest gap that fits.
    public static func reserveSlot(bytes: Int) throws(SystemError) -> UInt64 {
        let rounded = (bytes + pmdBytes - 1) / pmdBytes * pmdBytes
        let total = rounded + 2 * pmdBytes
        let hint = UnsafeMutableRawPointer(bitPattern: UInt(slotHint))
        let base = try Sys.mmap(hint, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        let start = UInt64(UInt(bitPattern: base))
        // Onward either way: a hint the kernel could not honour is tried no more.
        slotHint += UInt64(total + pmdBytes)
        return slotStart(inReservationAt: start, pageSize: Sys.pageSize)
    }

    /// Where the next slot is asked for: from 16 TiB up, far below where x86-64's top-down
    /// mmap area starts (near 128 TiB), and above the heap. Only the performer's thread
    /// reserves slots (forked workers inherit their own copy).
    nonisolated(unsafe) static var slotHint: UInt64 = 0x1000_0000_0000

    /// The first 2 MiB boundary at least one page above `base`: within `pmdBytes` of a
    /// page-aligned `base`, which leaves 2 MiB of a `rounded + 2 * pmdBytes` reservation above.
    static func slotStart(inReservationAt base: UInt64, pageSize: Int) -> UInt64 {
        let pmd = UInt64(pmdBytes)
        return (base + UInt64(pageSize) + pmd - 1) / pmd * pmd
    }

    /// Maps `bytes` at `address` (inside a reserved slot), replacing the reservation.
    public static func map(at address: UInt64, bytes: Int, protection: Protection, backing: Backing) throws(SystemError) {
        var flags = MAP_FIXED
        var fd: Int32 = -1
        var offset = 0
        switch backing {
        case .privateAnonymous: flags |= MAP_PRIVATE | MAP_ANONYMOUS
        case .sharedAnonymous: flags |= MAP_SHARED | MAP_ANONYMOUS
        case .hugetlb: flags |= MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB
        case let .file(f, o, shared): flags |= shared ? MAP_SHARED : MAP_PRIVATE; fd = f; offset = o
        }
        _ = try Sys.mmap(pointer(address), bytes, protection.rawValue, flags, fd, offset)
    }

    public static func unmap(at address: UInt64, bytes: Int) throws(SystemError) {
        try Sys.munmap(pointer(address), bytes)
    }

    public static func protect(at address: UInt64, bytes: Int, _ protection: Protection) throws(SystemError) {
        try Sys.mprotect(pointer(address), bytes, protection.rawValue)
    }

    public static func advise(at address: UInt64, bytes: Int, _ advice: Advice) throws(SystemError) {
        try Sys.madvise(pointer(address), bytes, advice.rawValue)
    }

    /// mremap(MREMAP_MAYMOVE|MREMAP_FIXED) of `bytes` at `source` to `destination`.
    public static func move(from source: UInt64, bytes: Int, to destination: UInt64) throws(SystemError) {
        _ = try Sys.mremap(pointer(source), bytes, bytes, 1 | 2, pointer(destination))
    }

    /// CPU store of a whole range: `fill` writes the bytes in place (faulting pages in).
    public static func store(at address: UInt64, bytes: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) {
        fill(UnsafeMutableRawBufferPointer(start: pointer(address), count: bytes))
    }

    /// CPU load of a range: `inspect` reads the bytes in place.
    public static func load<R>(at address: UInt64, bytes: Int, _ inspect: (UnsafeRawBufferPointer) -> R) -> R {
        inspect(UnsafeRawBufferPointer(start: pointer(address), count: bytes))
    }

    private static func pointer(_ address: UInt64) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(bitPattern: UInt(address))!
    }
}
