import HMMUAPI

/// Per-page bits of a region: what the VMA and the CPU page table say about the page.
struct PageFlags: OptionSet, Hashable {
    let rawValue: UInt8

    /// The page lies in a VMA.
    static let mapped = PageFlags(rawValue: 0x01)
    /// VM_READ.
    static let read = PageFlags(rawValue: 0x02)
    /// VM_WRITE.
    static let write = PageFlags(rawValue: 0x04)
    /// The PTE (or device-private entry) is writable.
    static let pteWrite = PageFlags(rawValue: 0x08)
    /// The PTE is a device-exclusive entry.
    static let deviceExclusive = PageFlags(rawValue: 0x10)
    /// MADV_HUGEPAGE applies.
    static let advised = PageFlags(rawValue: 0x20)
    /// The page may be part of a transparent huge page (mapping size and huge-zero ambiguity).
    static let thp = PageFlags(rawValue: 0x40)
    /// The page may be a device-exclusive entry (after an EXCLUSIVE that returned EBUSY).
    static let maybeDeviceExclusive = PageFlags(rawValue: 0x80)

    /// The VMA's part: pages whose bits agree here may share a VMA.
    static let vma: PageFlags = [.mapped, .read, .write, .advised]
    /// The protection mprotect sets.
    static let protection: PageFlags = [.read, .write]
    /// A device-exclusive entry, known or possible: a CPU fault restores it.
    static let anyDeviceExclusive: PageFlags = [.deviceExclusive, .maybeDeviceExclusive]
    /// What a zap leaves of the page-table state: none of these.
    static let pageTable: PageFlags = [.pteWrite, .deviceExclusive, .maybeDeviceExclusive, .thp]

    /// Whether any flag of `other` is set.
    @inline(__always) func overlaps(_ other: PageFlags) -> Bool { rawValue & other.rawValue != 0 }

    /// Sets or clears `flags`.
    @inline(__always) mutating func set(_ flags: PageFlags, _ on: Bool) {
        if on { formUnion(flags) } else { subtract(flags) }
    }
}

/// Where a frame lives: kind in the high nibble, node or minor in the low one.
struct FrameLocation: Hashable {
    let rawValue: UInt8

    /// The low nibble of a system page whose node the model does not know.
    static let unknownNode: UInt8 = 0x0F
    /// A free frame (or frame 0, no page).
    static let nowhere = FrameLocation(rawValue: 0)
    static let systemUnknownNode = system(node: unknownNode)

    @inline(__always) static func system(node: UInt8) -> FrameLocation { FrameLocation(rawValue: 0x10 | node) }
    @inline(__always) static func devicePrivate(minor: Int) -> FrameLocation { FrameLocation(rawValue: 0x20 | UInt8(minor)) }
    @inline(__always) static func deviceCoherent(minor: Int) -> FrameLocation { FrameLocation(rawValue: 0x40 | UInt8(minor)) }

    /// Node (system RAM) or minor (device memory).
    @inline(__always) var index: Int { Int(rawValue & 0x0F) }
    @inline(__always) var isSystem: Bool { rawValue & 0xF0 == 0x10 }
    @inline(__always) var isDevicePrivate: Bool { rawValue & 0xF0 == 0x20 }
    @inline(__always) var isDeviceCoherent: Bool { rawValue & 0xF0 == 0x40 }
    @inline(__always) var isDevice: Bool { rawValue & 0x60 != 0 }
    /// The node is not known (the low nibble is ``unknownNode``).
    @inline(__always) var isUnknownNode: Bool { rawValue & 0x0F == Self.unknownNode }
}

/// Bits of a frame.
struct FrameBits: OptionSet, Hashable {
    let rawValue: UInt8

    static let anon = FrameBits(rawValue: 0x01)
    /// Page-cache or shmem page of a memory object.
    static let object = FrameBits(rawValue: 0x02)
    /// MADV_FREE'd and clean: may be reclaimed (then reads zero).
    static let lazyFree = FrameBits(rawValue: 0x04)
    /// PageAnonExclusive: mapped by one process only (not shared by fork).
    static let anonExclusive = FrameBits(rawValue: 0x08)
    /// The present PTE mapping this anonymous page is dirty. Only exclusive anonymous pages
    /// (one PTE) use it: 6.1 mprotect makes such a page writable only when its PTE is dirty.
    static let dirty = FrameBits(rawValue: 0x10)
}

/// A mirror page-table entry's tag (`DPT_XA_TAG_*` in test_hmm), or why there is none.
enum MirrorTag: UInt8 {
    case absent = 0
    case read = 1
    case write = 2
    case atomic = 3
    /// No entry: erased by `dmirror_do_update` as the page after an invalidated range
    /// (``Behaviour/invalidateOnePastEnd``), kept apart for the notes.
    case erasedPastEnd = 0x40

    /// No entry, whatever the reason.
    @inline(__always) var isAbsent: Bool { self == .absent || self == .erasedPastEnd }
}

/// One region of one process; ``Model``'s `subscript(_:)` reads and changes it in place.
struct RegionRef: Hashable {
    var process: Int
    var region: RegionID

    init(_ process: Int, _ region: RegionID) {
        self.process = process
        self.region = region
    }

    /// Page `p` of this region.
    @inline(__always) func at(_ p: Int) -> PageRef { PageRef(process, region, p) }
}

/// One page of one region of one process, as the kernel's fault path has a VMA and an
/// address. ``Model``'s `subscript(regionOf:)`, `subscript(frameOf:)` and
/// `subscript(flagsOf:)` read and change the state through it.
struct PageRef: Hashable {
    var process: Int
    var region: RegionID
    var page: Int

    init(_ process: Int, _ region: RegionID, _ page: Int) {
        self.process = process
        self.region = region
        self.page = page
    }

    /// Page `p` of the same region.
    @inline(__always) func at(_ p: Int) -> PageRef { PageRef(process, region, p) }
}

/// Physical pages. Frame 0 is "no page", frame 1 the shared zero page.
struct Frames {
    var token: [UInt64] = [0, 0]
    var loc: [FrameLocation] = [.nowhere, .systemUnknownNode]
    var refs: [UInt32] = [0, 1]
    var gen: [UInt32] = [0, 0]
    /// Device-private pages: (process << 8 | fd) + 1 of the mirror that migrated it.
    var owner: [UInt32] = [0, 0]
    var bits: [FrameBits] = [[], []]
    /// The large folio (THP) a page belongs to, 0 for a small page. A folio outlives any one
    /// of its pages, and its pages may end up in several regions (mremap), so it has an id of
    /// its own rather than its head frame's.
    var folio: [UInt32] = [0, 0]
    var nextFolio: UInt32 = 1
    /// Folios that lost the mapping of a page while others stay mapped: on the deferred
    /// split queue as partially mapped (``Model/notePartialUnmap``).
    var partiallyMappedFolios: Set<UInt32> = []
    var free: [UInt32] = []

    static let none: UInt32 = 0
    static let zero: UInt32 = 1

    mutating func alloc(token t: UInt64, loc l: FrameLocation, bits b: FrameBits) -> UInt32 {
        if let f = free.popLast() {
            let i = Int(f)
            token[i] = t; loc[i] = l; refs[i] = 1; gen[i] &+= 1; owner[i] = 0; bits[i] = b; folio[i] = 0
            return f
        }
        token.append(t); loc.append(l); refs.append(1); gen.append(0); owner.append(0); bits.append(b); folio.append(0)
        return UInt32(token.count - 1)
    }

    /// A new large folio id for the pages of one THP.
    mutating func newFolio() -> UInt32 {
        defer { nextFolio &+= 1 }
        return nextFolio
    }

    /// Whether frame `f` is a page of a partially mapped large folio.
    func isInPartiallyMappedFolio(_ f: UInt32) -> Bool {
        let id = folio[Int(f)]
        return id != 0 && partiallyMappedFolios.contains(id)
    }

    var count: Int { token.count }
}

/// A shmem object (anon-shared region) or a temporary file.
struct MemObject {
    var frames: [UInt32]
    var size: Int
}

struct Region {
    var kind: MappingKind
    var span: Int
    var object: Int
    var objectOffset: Int
    /// Empty, or per page: its VMA had an anon_vma when the page was last looked at (set on
    /// every page of the VMA by ``prepareAnonVMA(at:)``). Split VMAs keep it; a merge gives it
    /// to the whole VMA, which ``hasAnonVMA(_:)`` reads as "any page of the VMA".
    var anonVMAPages: [Bool] = []
    var frame: [UInt32]
    var flags: [PageFlags]
    /// Empty, or per page: 0 default policy, node + 1 for MPOL_BIND.
    var policy: [UInt8] = []
    /// THP blocks (page index / 512) that may be PTE-mapped large folios. A split PMD leaves
    /// a PTE table behind (``pteTables``), also once the folio itself is split.
    var splitBlocks: Set<Int> = [] {
        didSet { pteTables.formUnion(splitBlocks) }
    }
    /// Blocks (page index / 512) whose PMD points to a PTE table: a page was mapped small there
    /// (a fault, `migrate_vma_insert_page`) or a PMD split. MADV_DONTNEED empties the PTEs but
    /// frees no table (zap_pte_range), so the PMD is not none and a fault there is never a THP
    /// fault (`__handle_mm_fault` calls `create_huge_pmd` only for `pmd_none`); munmap frees
    /// the tables of blocks left without a VMA (free_pgtables).
    var pteTables: Set<Int> = []
    /// Pages with an empty PTE (frame none) in the model that a read fault's fault-around may
    /// have mapped to their page-cache page (``Model/faultAround(_:)``).
    var aroundMaybe: Set<Int> = []
    /// Empty (no page), or per page: the VMA carries VM_ACCOUNT. A private mapping gets it
    /// when mapped writable, or when mprotect first makes it writable; mprotect never takes
    /// it away, so such a VMA no longer merges with an unaccounted neighbour.
    var accounted: [Bool] = []

    /// Whether pages `p` and `q` may lie in one VMA: the same protection, MADV_HUGEPAGE,
    /// mbind policy and accounting (vma_merge needs them all equal).
    func sameVMA(_ p: Int, _ q: Int) -> Bool {
        flags[p].intersection(.vma) == flags[q].intersection(.vma)
            && (policy.isEmpty || policy[p] == policy[q])
            && (accounted.isEmpty || accounted[p] == accounted[q])
    }

    /// The pages of the VMA holding `p`: the run of mapped pages around it that may share one.
    func vmaPages(around p: Int) -> Range<Int> {
        var lo = p
        while lo > 0 && sameVMA(p, lo - 1) { lo -= 1 }
        var hi = p + 1
        while hi < span && sameVMA(p, hi) { hi += 1 }
        return lo..<hi
    }

    /// Whether the VMA holding `p` has an anon_vma (fork copies its page tables only then:
    /// `vma_needs_copy`).
    func hasAnonVMA(_ p: Int) -> Bool { hasAnonVMA(in: vmaPages(around: p)) }

    /// Whether the VMA made of `vma`'s pages has an anon_vma.
    func hasAnonVMA(in vma: Range<Int>) -> Bool {
        !anonVMAPages.isEmpty && vma.contains { anonVMAPages[$0] }
    }

    /// `anon_vma_prepare` for the VMA holding `p` (the first anonymous page in it).
    mutating func prepareAnonVMA(at p: Int) {
        if anonVMAPages.isEmpty { anonVMAPages = [Bool](repeating: false, count: span) }
        if anonVMAPages[p] { return }
        for q in vmaPages(around: p) { anonVMAPages[q] = true }
    }

    /// Marks `pages` VM_ACCOUNT where the kernel would: private, not hugetlb.
    mutating func account(_ pages: Range<Int>) {
        guard !kind.isShared, kind != .hugetlb else { return }
        if accounted.isEmpty { accounted = [Bool](repeating: false, count: span) }
        for p in pages { accounted[p] = true }
    }
}

struct PTMap {
    var frame: [UInt32]
    var gen: [UInt32]
    var tag: [MirrorTag]
    init(span: Int) {
        frame = [UInt32](repeating: 0, count: span)
        gen = [UInt32](repeating: 0, count: span)
        tag = [MirrorTag](repeating: .absent, count: span)
    }
}

struct Mirror {
    var minor: Int
    var pt: [PTMap?] = []
}

struct Process {
    var regions: [Region?] = []
    var mirrors: [Mirror?] = []
}

struct State {
    var frames = Frames()
    var objects: [MemObject] = []
    var files: [FileID: Int] = [:]
    var procs: [Process] = [Process()]
    var current = 0
    var coherentUsed = [Int](repeating: 0, count: 4)
    /// Sticky: some page state is ambiguous, so steps keep a backup for `commit`.
    var uncertain = false
    /// Sticky: some range was given MADV_HUGEPAGE (under THP `madvise` no THP, hence no
    /// THP choice, can exist before).
    var thpAdvised = false
}
