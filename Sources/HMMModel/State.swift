import HMMUAPI

/// Per-page bits of a region (what the CPU page table and VMA say about the page).
enum PF {
    static let mapped: UInt8 = 0x01
    static let read: UInt8 = 0x02
    static let write: UInt8 = 0x04
    /// The PTE (or device-private entry) is writable.
    static let pteWrite: UInt8 = 0x08
    /// The PTE is a device-exclusive entry.
    static let excl: UInt8 = 0x10
    /// MADV_HUGEPAGE applies.
    static let advised: UInt8 = 0x20
    /// The page may be part of a transparent huge page (mapping size and huge-zero ambiguity).
    static let thp: UInt8 = 0x40
    /// The page may be a device-exclusive entry (after an EXCLUSIVE that returned EBUSY).
    static let exclMaybe: UInt8 = 0x80

    static let vmaBits: UInt8 = mapped | read | write | advised
}

/// Location codes of a frame: kind in the high nibble, node or minor in the low one.
enum Loc {
    static let system: UInt8 = 0x10
    static let devPrivate: UInt8 = 0x20
    static let devCoherent: UInt8 = 0x40
    static let unknownNode: UInt8 = 0x0F

    @inline(__always) static func kind(_ l: UInt8) -> UInt8 { l & 0xF0 }
    @inline(__always) static func index(_ l: UInt8) -> Int { Int(l & 0x0F) }
    @inline(__always) static func isDevice(_ l: UInt8) -> Bool { l & 0x60 != 0 }
}

/// Frame bits.
enum FB {
    static let anon: UInt8 = 0x01
    /// Page-cache or shmem page of a memory object.
    static let object: UInt8 = 0x02
    /// MADV_FREE'd and clean: may be reclaimed (then reads zero).
    static let lazyFree: UInt8 = 0x04
    /// PageAnonExclusive: mapped by one process only (not shared by fork).
    static let exclusiveAnon: UInt8 = 0x08
    /// The present PTE mapping this anonymous page is dirty. Only exclusive anonymous pages
    /// (one PTE) use it: 6.1 mprotect makes such a page writable only when its PTE is dirty.
    static let dirty: UInt8 = 0x10
}

/// Mirror page-table tags (`DPT_XA_TAG_*` in test_hmm).
enum Tag {
    static let none: UInt8 = 0
    static let read: UInt8 = 1
    static let write: UInt8 = 2
    static let atomic: UInt8 = 3
    /// No entry: erased by `dmirror_do_update` as the page after an invalidated range
    /// (``KernelProfile/invalidateOnePastEnd``), kept apart for the notes.
    static let pastEnd: UInt8 = 0x40
}

/// Physical pages. Frame 0 is "no page", frame 1 the shared zero page.
struct Frames {
    var token: [UInt64] = [0, 0]
    var loc: [UInt8] = [0, Loc.system | Loc.unknownNode]
    var refs: [UInt32] = [0, 1]
    var gen: [UInt32] = [0, 0]
    /// Device-private pages: (process << 8 | fd) + 1 of the mirror that migrated it.
    var owner: [UInt32] = [0, 0]
    var bits: [UInt8] = [0, 0]
    var free: [UInt32] = []

    static let none: UInt32 = 0
    static let zero: UInt32 = 1

    mutating func alloc(token t: UInt64, loc l: UInt8, bits b: UInt8) -> UInt32 {
        if let f = free.popLast() {
            let i = Int(f)
            token[i] = t; loc[i] = l; refs[i] = 1; gen[i] &+= 1; owner[i] = 0; bits[i] = b
            return f
        }
        token.append(t); loc.append(l); refs.append(1); gen.append(0); owner.append(0); bits.append(b)
        return UInt32(token.count - 1)
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
    var anonVMA = false
    var frame: [UInt32]
    var flags: [UInt8]
    /// Empty, or per page: 0 default policy, node + 1 for MPOL_BIND.
    var policy: [UInt8] = []
    /// THP blocks (page index / 512) that may be PTE-mapped large folios.
    var splitBlocks: Set<Int> = []
    /// Pages with an empty PTE (frame none) in the model that a read fault's fault-around may
    /// have mapped to their page-cache page (``Model/faultAround(_:_:_:)``).
    var aroundMaybe: Set<Int> = []
    /// Empty (no page), or per page: the VMA carries VM_ACCOUNT. A private mapping gets it
    /// when mapped writable, or when mprotect first makes it writable; mprotect never takes
    /// it away, so such a VMA no longer merges with an unaccounted neighbour.
    var accounted: [Bool] = []

    /// Whether pages `p` and `q` may lie in one VMA: the same protection, MADV_HUGEPAGE,
    /// mbind policy and accounting (vma_merge needs them all equal).
    func sameVMA(_ p: Int, _ q: Int) -> Bool {
        flags[p] & PF.vmaBits == flags[q] & PF.vmaBits
            && (policy.isEmpty || policy[p] == policy[q])
            && (accounted.isEmpty || accounted[p] == accounted[q])
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
    var tag: [UInt8]
    init(span: Int) {
        frame = [UInt32](repeating: 0, count: span)
        gen = [UInt32](repeating: 0, count: span)
        tag = [UInt8](repeating: 0, count: span)
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
