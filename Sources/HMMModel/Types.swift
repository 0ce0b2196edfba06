import HMMSystem
import HMMUAPI

/// A region of the abstract address space: one `mmap` call. Named by a small integer
/// (`r0`, `r1`, ...) so a fixture replays at whatever address the runner gets.
public typealias RegionID = Int
/// An open dmirror device file in the process that opened it (`f0`, `f1`, ...).
public typealias FdID = Int
/// A temporary file (`F0`, `F1`, ...) backing file mappings.
public typealias FileID = Int

/// How a region is mapped.
public enum MappingKind: String, CaseIterable, Sendable, Hashable {
    /// `MAP_PRIVATE|MAP_ANONYMOUS`.
    case anonPrivate = "anon-private"
    /// `MAP_SHARED|MAP_ANONYMOUS` (shmem; never migrated to a device).
    case anonShared = "anon-shared"
    /// `MAP_PRIVATE` of a file: file pages until a write copies them (COW, then anonymous).
    case filePrivate = "file-private"
    /// `MAP_SHARED` of a file: page-cache pages.
    case fileShared = "file-shared"
    /// `MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB` with 2 MiB huge pages; page counts are multiples of 512.
    case hugetlb

    public var isShared: Bool { self == .anonShared || self == .fileShared }
    public var isFileBacked: Bool { self == .filePrivate || self == .fileShared }
}

/// `mmap`/`mprotect` protection.
public enum Protection: String, CaseIterable, Sendable, Hashable {
    case none = "none"
    case read = "r"
    case readWrite = "rw"

    public var canRead: Bool { self != .none }
    public var canWrite: Bool { self == .readWrite }
}

/// `madvise` advice the model knows.
public enum Advice: String, CaseIterable, Sendable, Hashable {
    case dontneed, free, hugepage, nohugepage
}

/// Transparent huge page mode of the machine (`/sys/kernel/mm/transparent_hugepage/enabled`).
public enum THPMode: String, CaseIterable, Sendable, Hashable {
    case never, madvise, always
}

/// The file system `file-create` makes its files on, as far as shared file mappings differ.
public enum FileBacking: String, CaseIterable, Sendable, Hashable {
    /// A file system with `page_mkwrite` (ext4, xfs, btrfs, ramfs): the VMA wants write
    /// notification, so a read fault maps a shared page read-only and the first write faults.
    case pageMkwrite = "page-mkwrite"
    /// tmpfs (shmem): no write notification, so a writable shared mapping maps its pages
    /// writable from the first fault, as a shared anonymous mapping does.
    case tmpfs
}

/// A run of pages of one region. `first + count` may not exceed the region's span.
public struct PageRange: Hashable, Sendable, CustomStringConvertible {
    public var region: RegionID
    public var first: Int
    public var count: Int
    public init(_ region: RegionID, _ first: Int, _ count: Int) {
        self.region = region
        self.first = first
        self.count = count
    }
    public var end: Int { first + count }
    public var description: String { "r\(region) \(first) \(count)" }
}

/// One dmirror ioctl as a test issues it.
public struct IoctlCall: Hashable, Sendable {
    public var fd: FdID
    public var command: DmirrorOperation
    /// `addr` = region base + `first` pages (+ `misalign` bytes), `npages` = `count`
    /// (for FLAGS, `count` is the flag word instead).
    public var range: PageRange
    /// WRITE only: one token per page, the bytes the device writes.
    public var data: [UInt64]
    /// Bytes added to `addr` (non-zero makes it unaligned: EINVAL).
    public var misalign: Int
    public init(fd: FdID, _ command: DmirrorOperation, _ range: PageRange, data: [UInt64] = [], misalign: Int = 0) {
        self.fd = fd
        self.command = command
        self.range = range
        self.data = data
        self.misalign = misalign
    }
}

/// One step of a test: the fixture vocabulary. Every action runs in the current process:
/// the parent, or between ``fork`` and ``exitChild`` the child.
public enum Action: Hashable, Sendable {
    /// `mmap` a new region of `pages` pages. File kinds map `file` from page `offset`.
    case mmap(RegionID, pages: Int, prot: Protection, kind: MappingKind, file: FileID?, offset: Int)
    case munmap(PageRange)
    case mprotect(PageRange, Protection)
    /// `mremap(MREMAP_MAYMOVE|MREMAP_FIXED)` of part of a region to a new region `to`.
    case mremap(PageRange, to: RegionID)
    case madvise(PageRange, Advice)
    /// The CPU reads a page; observes its token.
    case cpuRead(RegionID, page: Int)
    /// The CPU writes a whole page with `token`'s bytes.
    case cpuWrite(RegionID, page: Int, token: UInt64)
    /// `fork()`: the following actions up to ``exitChild`` run in the child, which must
    /// open its own device files. The child's observations go back to the driver in order.
    case fork
    /// The child exits (`_exit(0)`): its files close and its memory goes away.
    case exitChild
    /// Create a temporary file (`O_TMPFILE`) of `pages` pages (holes).
    case fileCreate(FileID, pages: Int)
    /// `pwrite` one page of the file with `token`.
    case fileWrite(FileID, page: Int, token: UInt64)
    /// `ftruncate` to `pages` pages.
    case fileTruncate(FileID, pages: Int)
    /// `fallocate(PUNCH_HOLE|KEEP_SIZE)`.
    case filePunchHole(FileID, first: Int, count: Int)
    /// `open("/dev/hmm_dmirror<minor>")` as fd `FdID`.
    case open(FdID, minor: Int)
    case close(FdID)
    case ioctl(IoctlCall)
    /// `mbind(MPOL_BIND, node)` (no MPOL_MF_MOVE): future allocations there go to `node`.
    case mbind(PageRange, node: Int)
    /// `move_pages(pid 0, pages, node, MPOL_MF_MOVE)`; observes per-page status.
    case movePages(PageRange, node: Int)
    /// `move_pages(pid 0, pages, NULL)`: per-page node or -errno.
    case queryNodes(PageRange)
}

/// The model's spelling of a result in fixtures, observations and emitted C: HMMSystem's
/// one `Errno` table, with "ok" for 0 and "E<n>" for a value it has no name for.
extension Errno {
    /// "EINVAL", or "ok" for 0, or "E<n>" for unknown values.
    public static func name(_ value: Int32) -> String {
        if value == 0 { return "ok" }
        return Errno(rawValue: value).symbolicName ?? "E\(value)"
    }

    /// Inverse of ``name(_:)``.
    public static func value(named name: String) -> Int32? {
        if name == "ok" { return 0 }
        if let known = Errno(name: name) { return known.rawValue }
        if name.hasPrefix("E"), let n = Int32(name.dropFirst()) { return n }
        return nil
    }
}
