import HMMSystem

#if canImport(Glibc)
import Glibc
#endif

/// Page protection bits for mmap/mprotect.
public struct Protection: OptionSet, Sendable, Hashable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public static let read = Protection(rawValue: PROT_READ)
    public static let write = Protection(rawValue: PROT_WRITE)
    public static let none: Protection = []
    public static let readWrite: Protection = [.read, .write]
}

/// How a region is backed.
public enum MappingKind: Sendable, Hashable {
    case anonymousPrivate
    case anonymousShared
    /// hugetlbfs-backed anonymous memory (MAP_HUGETLB) of the default huge page size.
    case hugetlb
}

/// madvise(2) advice values hmmkit uses.
public enum Advice: Int32, Sendable {
    case dontNeed = 4      // MADV_DONTNEED
    case free = 8          // MADV_FREE
    case hugePage = 14     // MADV_HUGEPAGE
    case noHugePage = 15   // MADV_NOHUGEPAGE
    case collapse = 25     // MADV_COLLAPSE
}

/// An mmap'd region, unmapped when its owner goes away.
///
/// Addresses are exposed as integers for the ioctl command struct; byte access goes
/// through the few `withUnsafe...` methods below so pointer code stays here.
public struct MappedRegion: ~Copyable {
    public let base: UnsafeMutableRawPointer
    public let length: Int
    /// What `deinit` unmaps: the region, plus the guard pages around it when it has them.
    private let reserved: (base: UnsafeMutableRawPointer, length: Int)

    public var address: UInt64 { UInt64(UInt(bitPattern: base)) }
    public var pageCount: Int { length / Sys.pageSize }

    init(base: UnsafeMutableRawPointer, length: Int) {
        self.base = base
        self.length = length
        reserved = (base, length)
    }

    private init(base: UnsafeMutableRawPointer, length: Int, reserved: (UnsafeMutableRawPointer, Int)) {
        self.base = base
        self.length = length
        self.reserved = reserved
    }

    /// Maps `length` bytes (rounded to pages) of anonymous memory. Non-hugetlb regions sit
    /// between two PROT_NONE guard pages: test_hmm's invalidation drops the mirror entry
    /// one page past every invalidated range, so a neighbour mapped right below (the next
    /// mmap goes there) and unmapped again would otherwise cost page 0 its entry.
    public static func anonymous(length: Int, protection: Protection = .readWrite,
                                 kind: MappingKind = .anonymousPrivate) throws(SystemError) -> MappedRegion {
        var flags = MAP_ANONYMOUS
        switch kind {
        case .anonymousPrivate: flags |= MAP_PRIVATE
        case .anonymousShared: flags |= MAP_SHARED
        case .hugetlb:
            let base = try Sys.mmap(nil, length, protection.rawValue, flags | MAP_PRIVATE | MAP_HUGETLB, -1, 0)
            return MappedRegion(base: base, length: length)
        }
        let guardBytes = Sys.pageSize
        let total = length + 2 * guardBytes
        let reservation = try Sys.mmap(nil, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        do {
            let base = try Sys.mmap(reservation + guardBytes, length, protection.rawValue, flags | MAP_FIXED, -1, 0)
            return MappedRegion(base: base, length: length, reserved: (reservation, total))
        } catch {
            try? Sys.munmap(reservation, total)
            throw error
        }
    }

    /// Maps a file (shared or private).
    public static func file(_ fd: borrowing FileDescriptor, length: Int, protection: Protection,
                            shared: Bool, offset: Int = 0) throws(SystemError) -> MappedRegion {
        let base = try Sys.mmap(nil, length, protection.rawValue, shared ? MAP_SHARED : MAP_PRIVATE, fd.rawValue, offset)
        return MappedRegion(base: base, length: length)
    }

    /// Maps `fd` at `offset` with the given flags (e.g. a dmirror device for `mixedmap`).
    public static func device(_ fd: borrowing FileDescriptor, length: Int, protection: Protection) throws(SystemError) -> MappedRegion {
        let base = try Sys.mmap(nil, length, protection.rawValue, MAP_PRIVATE, fd.rawValue, 0)
        return MappedRegion(base: base, length: length)
    }

    /// Address of page `index`.
    public func address(ofPage index: Int) -> UInt64 { address + UInt64(index * Sys.pageSize) }

    private func pointer(page: Int, count: Int) -> (UnsafeMutableRawPointer, Int) {
        precondition(page >= 0 && count >= 0 && (page + count) * Sys.pageSize <= length, "page range outside the region")
        return (base + page * Sys.pageSize, count * Sys.pageSize)
    }

    public func protect(pages: Range<Int>? = nil, _ protection: Protection) throws(SystemError) {
        let r = pages ?? 0..<pageCount
        let (p, n) = pointer(page: r.lowerBound, count: r.count)
        try Sys.mprotect(p, n, protection.rawValue)
    }

    public func advise(pages: Range<Int>? = nil, _ advice: Advice) throws(SystemError) {
        let r = pages ?? 0..<pageCount
        let (p, n) = pointer(page: r.lowerBound, count: r.count)
        try Sys.madvise(p, n, advice.rawValue)
    }

    /// Unmaps part of the region; the owner still unmaps the whole range at the end
    /// (munmap of an already-unmapped range is harmless).
    public func unmap(pages: Range<Int>) throws(SystemError) {
        let (p, n) = pointer(page: pages.lowerBound, count: pages.count)
        try Sys.munmap(p, n)
    }

    /// Moves pages to `destination` (an address inside a reservation this process owns),
    /// with MREMAP_MAYMOVE|MREMAP_FIXED, optionally MREMAP_DONTUNMAP.
    public func remap(pages: Range<Int>, to destination: UInt64, dontUnmap: Bool = false) throws(SystemError) {
        let (p, n) = pointer(page: pages.lowerBound, count: pages.count)
        let flags: Int32 = 1 | 2 | (dontUnmap ? 4 : 0)
        _ = try Sys.mremap(p, n, n, flags, UnsafeMutableRawPointer(bitPattern: UInt(destination)))
    }

    /// CPU access to raw bytes of pages (the CPU faults pages back as needed).
    public func withBytes<R>(pages: Range<Int>, _ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        let (p, n) = pointer(page: pages.lowerBound, count: pages.count)
        return try body(UnsafeMutableRawBufferPointer(start: p, count: n))
    }

    /// Unmaps now, reporting errors; `deinit` does the same silently.
    public consuming func unmap() throws(SystemError) {
        let (b, l) = reserved
        discard self
        try Sys.munmap(b, l)
    }

    deinit { try? Sys.munmap(reserved.base, reserved.length) }
}

/// A page-aligned heap buffer the simulated device copies to and from (`cmd.ptr`).
public struct DeviceBuffer: ~Copyable {
    public let base: UnsafeMutableRawPointer
    public let count: Int
    private let mapped: Bool

    /// Zeroed memory. Page-sized and larger buffers are anonymous mappings, zero until first
    /// touched like hmm-tests' malloc'ed mirrors: zero-filling them eagerly cost a page fault
    /// and a memset per page that the C selftest never pays (4 MiB per buffer).
    public init(bytes: Int) {
        count = max(bytes, 1)
        if count >= Sys.pageSize,
           let p = try? Sys.mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) {
            base = p
            mapped = true
        } else {
            base = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: Sys.pageSize)
            base.initializeMemory(as: UInt8.self, repeating: 0, count: count)
            mapped = false
        }
    }

    public var address: UInt64 { UInt64(UInt(bitPattern: base)) }
    public var bytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base, count: count) }

    deinit {
        if mapped { try? Sys.munmap(base, count) } else { base.deallocate() }
    }
}

/// Machine facts the tests size themselves by.
public enum Machine {
    public static var pageSize: Int { Sys.pageSize }
    public static var isRoot: Bool { Sys.geteuid() == 0 }
    public static var kernelRelease: String { Sys.uname().release }
    /// CPUs online now (at least 1).
    public static var onlineProcessors: Int { Sys.onlineProcessors }
    /// Whether `path` lives on tmpfs (statfs f_type TMPFS_MAGIC), where shared file
    /// mappings are shmem and want no write notification.
    public static func isOnTmpfs(_ path: String) throws(SystemError) -> Bool {
        try Sys.fileSystemType(path) == 0x0102_1994
    }
    /// `uname -m`: the machine's architecture as the kernel names it (`x86_64`, `aarch64`).
    public static var architecture: String { Sys.uname().machine }
    /// The compiler the running kernel was built with, from /proc/version; nil when it does not say.
    public static var kernelCompiler: String? {
        (try? readTextFile("/proc/version")).flatMap(ProcVersion.compiler(in:))
    }
    /// Runs the calling thread (and the processes and threads it creates later) only on
    /// `cpus`: pages it faults in without a memory policy then come from their node.
    public static func pinCurrentThread(to cpus: [Int]) throws(SystemError) { try Sys.pinThread(to: cpus) }
    /// Syncs and powers the machine off (a test VM's last step; needs CAP_SYS_BOOT).
    public static func powerOff() throws(SystemError) { try Sys.powerOff() }
}
