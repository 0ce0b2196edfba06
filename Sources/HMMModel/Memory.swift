import HMMSystem
import HMMUAPI

/// CPU-side memory management: frames, faults, invalidation, eviction.
extension Model {
    static let pmdPages = 512

    // MARK: Regions and pages by reference

    /// The region `ref` names, read or changed in place (no copy of its arrays).
    subscript(_ ref: RegionRef) -> Region {
        _read { yield s.procs[ref.process].regions[ref.region]! }
        _modify { yield &s.procs[ref.process].regions[ref.region]! }
    }

    /// The region `page` lies in, read or changed in place.
    subscript(regionOf page: PageRef) -> Region {
        _read { yield s.procs[page.process].regions[page.region]! }
        _modify { yield &s.procs[page.process].regions[page.region]! }
    }

    /// The mirror page table device file `fd` of the region's process keeps for `region`,
    /// read or changed in place. The table must exist (``Model/store(_:_:_:_:frame:tag:)`` makes it).
    subscript(mirrorOf fd: FdID, _ region: RegionRef) -> PTMap {
        _read { yield s.procs[region.process].mirrors[fd]!.pt[region.region]! }
        _modify { yield &s.procs[region.process].mirrors[fd]!.pt[region.region]! }
    }

    /// The frame `page` maps: ``Frames/none`` for an empty PTE, ``Frames/zero`` for the zero page.
    subscript(frameOf page: PageRef) -> UInt32 {
        get { s.procs[page.process].regions[page.region]!.frame[page.page] }
        set { s.procs[page.process].regions[page.region]!.frame[page.page] = newValue }
    }

    /// What the VMA and the page table say about `page`.
    subscript(flagsOf page: PageRef) -> PageFlags {
        get { s.procs[page.process].regions[page.region]!.flags[page.page] }
        set { s.procs[page.process].regions[page.region]!.flags[page.page] = newValue }
    }

    // MARK: Frames

    mutating func retain(_ f: UInt32) {
        if f > Frames.zero { s.frames.refs[Int(f)] += 1 }
    }

    mutating func release(_ f: UInt32) {
        guard f > Frames.zero else { return }
        let i = Int(f)
        s.frames.refs[i] -= 1
        if s.frames.refs[i] == 0 {
            let l = s.frames.loc[i]
            if l.isDeviceCoherent { s.coherentUsed[l.index] -= 1 }
            s.frames.bits[i] = []
            s.frames.loc[i] = .nowhere
            s.frames.owner[i] = 0
            s.frames.gen[i] &+= 1
            s.frames.free.append(f)
        }
    }

    /// Mappings of a frame (refs minus the object's own reference).
    func mapCount(_ f: UInt32) -> UInt32 {
        let i = Int(f)
        return s.frames.refs[i] - (s.frames.bits[i].contains(.object) ? 1 : 0)
    }

    /// Where a new system page for `page` goes: VMA policy, else the local node.
    func allocLoc(_ page: PageRef) -> FrameLocation {
        let policy = self[regionOf: page].policy
        if !policy.isEmpty, policy[page.page] != 0 { return .system(node: policy[page.page] - 1) }
        return defaultLoc
    }

    /// Where a device page comes back to system RAM through `dmirror_devmem_fault_alloc_and_copy`
    /// (CPU fault, another device's fault, MIGRATE_TO_SYS): `alloc_page_vma`, so the VMA policy.
    mutating func returnLoc(_ page: PageRef) -> FrameLocation {
        let l = allocLoc(page)
        if l != defaultLoc {
            x.note("back from the device through alloc_page_vma (dmirror_devmem_fault_alloc_and_copy): the VMA's MPOL_BIND applies, node "
                + "\(l.index)")
        }
        return l
    }

    var defaultLoc: FrameLocation {
        if let n = environment.localNode { return .system(node: UInt8(n)) }
        if environment.nodes.count == 1 { return .system(node: UInt8(environment.nodes[0])) }
        return .systemUnknownNode
    }

    mutating func relocate(_ f: UInt32, to l: FrameLocation) {
        let i = Int(f)
        let old = s.frames.loc[i]
        if old.isDeviceCoherent { s.coherentUsed[old.index] -= 1 }
        if l.isDeviceCoherent { s.coherentUsed[l.index] += 1 }
        // Every caller is a migration: remove_migration_pte maps the page dirty only if the
        // migration entry kept the dirty bit (``Behaviour/migrationKeepsDirty``: not in
        // hmmkit's kernels); a device-private entry has none at all, so a page coming back from
        // one is always mapped clean.
        if !profile.isOn(.migrationKeepsDirty) || old.isDevicePrivate || l.isDevicePrivate {
            s.frames.bits[i].remove(.dirty)
        }
        s.frames.loc[i] = l
        s.frames.gen[i] &+= 1
        s.frames.owner[i] = 0
    }

    // MARK: Mirror page tables

    /// Drops the mirror entries of (r, p) in every fd of process `pi` except those of `exemptMinor`
    /// (MMU_NOTIFY_MIGRATE events owned by a device are ignored by that device's mirrors).
    ///
    /// With ``Behaviour/invalidateOnePastEnd`` the entry of the page after the range goes
    /// too: `dmirror_do_update` erases `[start >> PAGE_SHIFT, end >> PAGE_SHIFT]` with
    /// `xa_for_each_range`, whose last index is inclusive. Every notifier range the model
    /// invalidates page by page is contiguous in the kernel (a VMA piece, a migrate chunk, one
    /// page), so erasing `p + 1` with each page `p` erases the same set.
    mutating func invalidate(_ pi: Int, _ r: Int, _ p: Int, exemptMinor: Int = -1) {
        invalidate(pi, r, p..<(p + 1), exemptMinor: exemptMinor)
    }

    mutating func invalidate(_ page: PageRef, exemptMinor: Int = -1) {
        invalidate(page.process, page.region, page.page..<(page.page + 1), exemptMinor: exemptMinor)
    }

    mutating func invalidate(_ pi: Int, _ r: Int, _ range: Range<Int>, exemptMinor: Int = -1) {
        let n = s.procs[pi].mirrors.count
        for fd in 0..<n {
            guard let m = s.procs[pi].mirrors[fd], m.minor != exemptMinor, r < m.pt.count, m.pt[r] != nil else { continue }
            for p in range { self[mirrorOf: fd, RegionRef(pi, r)].tag[p] = .absent }
            if pastEnd { erasePastEnd(pi, fd, r, range.upperBound) }
        }
    }

    /// `dmirror_do_update`'s extra erase of page `p` (the page after an invalidated range).
    mutating func erasePastEnd(_ pi: Int, _ fd: Int, _ r: Int, _ p: Int) {
        let region = RegionRef(pi, r)
        guard p < self[mirrorOf: fd, region].tag.count, !self[mirrorOf: fd, region].tag[p].isAbsent else { return }
        self[mirrorOf: fd, region].tag[p] = .erasedPastEnd
    }

    /// Notes that the mirror entry of (r, p) is missing only because of ``erasePastEnd``.
    mutating func notePastEnd(_ pi: Int, _ fd: Int, _ r: Int, _ p: Int, _ effect: String) {
        guard droppedPastEnd(pi, fd, r, p) else { return }
        x.note("\(effect): f\(fd) lost its mirror entry of r\(r) page \(p) as the page after an earlier invalidated range; "
            + "\(profile.reason(.invalidateOnePastEnd))")
    }

    /// Whether the mirror entry of (r, p) in `fd` was dropped by ``erasePastEnd``.
    func droppedPastEnd(_ pi: Int, _ fd: Int, _ r: Int, _ p: Int) -> Bool {
        guard let m = s.procs[pi].mirrors[fd], r < m.pt.count, let pt = m.pt[r] else { return false }
        return pt.tag[p] == .erasedPastEnd
    }

    /// Other processes mapping frame `f` at the same (r, p) (parent/child after fork) see a
    /// CLEAR invalidation when the page is unmapped for migration.
    mutating func invalidateOthers(_ f: UInt32, _ r: Int, _ p: Int) {
        guard s.procs.count > 1, f > Frames.zero else { return }
        for q in s.procs.indices where q != s.current {
            if r < s.procs[q].regions.count, let reg = s.procs[q].regions[r], p < reg.span, reg.frame[p] == f {
                invalidate(q, r, p)
            }
        }
    }

    /// `dmirror_do_fault` / `dmirror_atomic_map`: the mirror of `fd` maps page `p` to frame
    /// `f` (remembering the frame's generation, to tell a stale entry later).
    mutating func store(_ pi: Int, _ fd: Int, _ r: Int, _ p: Int, frame f: UInt32, tag: MirrorTag) {
        let region = RegionRef(pi, r)
        let tables = s.procs[pi].mirrors[fd]!.pt.count
        if tables <= r { s.procs[pi].mirrors[fd]!.pt += [PTMap?](repeating: nil, count: r + 1 - tables) }
        if s.procs[pi].mirrors[fd]!.pt[r] == nil {
            s.procs[pi].mirrors[fd]!.pt[r] = PTMap(span: self[region].span)
        }
        self[mirrorOf: fd, region].frame[p] = f
        self[mirrorOf: fd, region].gen[p] = s.frames.gen[Int(f)]
        self[mirrorOf: fd, region].tag[p] = tag
    }

    /// Mirror entry: tag (0 if none) and whether it no longer matches the CPU page.
    func entry(_ pi: Int, _ fd: Int, _ r: Int, _ p: Int) -> (tag: MirrorTag, frame: UInt32, stale: Bool) {
        let region = RegionRef(pi, r)
        guard let m = s.procs[pi].mirrors[fd], r < m.pt.count, let pt = m.pt[r] else { return (.absent, 0, false) }
        let t = pt.tag[p]
        if t.isAbsent { return (.absent, 0, false) }
        let f = pt.frame[p]
        let cur = self[region].frame[p]
        return (t, f, f != cur || pt.gen[p] != s.frames.gen[Int(f)])
    }

    mutating func erase(owner: UInt32, _ r: Int, _ p: Int) {
        guard owner != 0 else { return }
        let pi = Int((owner - 1) >> 8)
        let fd = Int((owner - 1) & 0xFF)
        guard pi < s.procs.count, fd < s.procs[pi].mirrors.count, let m = s.procs[pi].mirrors[fd],
              r < m.pt.count, m.pt[r] != nil, p < m.pt[r]!.tag.count else { return }
        self[mirrorOf: fd, RegionRef(pi, r)].tag[p] = .absent
    }

    // MARK: CPU faults

    /// A device-private page is touched by the CPU: `migrate_to_ram` moves it back.
    mutating func faultBackPrivate(_ page: PageRef) {
        let f = self[frameOf: page]
        let l = s.frames.loc[Int(f)]
        invalidate(page, exemptMinor: l.index)
        erase(owner: s.frames.owner[Int(f)], page.region, page.page)
        invalidateOthers(f, page.region, page.page)
        relocate(f, to: returnLoc(page))
    }

    /// `remove_device_exclusive_entry`: the CPU touches a device-exclusive entry, which
    /// becomes the page's PTE again (an MMU notifier invalidates the device's mirrors).
    mutating func restoreExclusive(_ page: PageRef) {
        self[flagsOf: page].remove(.anyDeviceExclusive)
        invalidate(page)
    }

    /// The aligned 512-page block of `page` if a fault there may allocate a THP.
    func thpBlock(_ page: PageRef) -> Range<Int>? {
        guard environment.thp == .always || (environment.thp == .madvise && s.thpAdvised) else { return nil }
        let reg = self[regionOf: page]
        guard reg.kind == .anonPrivate else { return nil }
        let lo = Self.pmdBlock(of: page.page).lowerBound
        let hi = lo + Self.pmdPages
        guard hi <= reg.span else { return nil }
        if environment.thp == .madvise && !reg.flags[page.page].contains(.advised) { return nil }
        // A PTE table there (pmd not none): handle_pte_fault maps one small page.
        if reg.pteTables.contains(lo / Self.pmdPages) { return nil }
        // One VMA must span the block (an mbind or accounting split ends it too).
        for q in lo..<hi where !reg.sameVMA(page.page, q) || reg.frame[q] != Frames.none { return nil }
        return lo..<hi
    }

    /// The 512 pages of the PMD that holds page `p`.
    static func pmdBlock(of p: Int) -> Range<Int> {
        let lo = (p / pmdPages) * pmdPages
        return lo..<(lo + pmdPages)
    }

    /// A new anonymous page for `page`, exclusive to its process (the region gets an anon_vma).
    mutating func newAnon(_ page: PageRef, token: UInt64) -> UInt32 {
        self[regionOf: page].prepareAnonVMA(at: page.page)
        return s.frames.alloc(token: token, loc: allocLoc(page), bits: [.anon, .anonExclusive])
    }

    /// The page of object `obj` at `o`, allocated on first use. A fault through `fault`
    /// allocates a shmem page (shared anonymous memory, a tmpfs file) under the policy mbind
    /// set through that mapping (shmem_set_policy: the file's shared policy, private mappings
    /// too); a disk file's page cache follows the task's policy.
    mutating func objectPage(_ obj: Int, _ o: Int, faultedThrough fault: PageRef? = nil) -> UInt32 {
        if s.objects[obj].frames[o] == Frames.none {
            var loc = defaultLoc
            if let fault, isShmemBacked(obj) { loc = allocLoc(fault) }
            s.objects[obj].frames[o] = s.frames.alloc(token: 0, loc: loc, bits: .object)
        }
        return s.objects[obj].frames[o]
    }

    /// The page of the region's memory object that `page` maps (allocated on first use).
    mutating func objectPage(mappedAt page: PageRef) -> UInt32 {
        let region = self[regionOf: page]
        return objectPage(region.object, region.objectOffset + page.page, faultedThrough: page)
    }

    /// Shared anonymous memory is shmem; a file is when it lives on tmpfs.
    func isShmemBacked(_ obj: Int) -> Bool {
        environment.files == .tmpfs || !s.files.values.contains(obj)
    }

    /// Whether `page` lies beyond the end of the region's memory object (a fault there is SIGBUS).
    func isBeyondEOF(_ page: PageRef) -> Bool {
        let region = self[regionOf: page]
        return region.objectOffset + page.page >= s.objects[region.object].size
    }

    /// `handle_mm_fault` on `page`. The caller checked VM_READ (and VM_WRITE for writes).
    /// Returns 0 or EFAULT (SIGBUS beyond end of file). A write leaves the PTE dirty.
    @discardableResult
    mutating func cpuFault(_ page: PageRef, write: Bool) -> Int32 {
        let err = handleFault(page, write: write)
        if write && err == 0 {
            let f = self[frameOf: page]
            if f > Frames.zero { s.frames.bits[Int(f)].insert(.dirty) }
        }
        return err
    }

    /// What the PTE holds in place of a page first goes back to being the page (a
    /// device-exclusive entry, a device-private entry), then the mapping's kind decides.
    private mutating func handleFault(_ page: PageRef, write: Bool) -> Int32 {
        if !self[regionOf: page].aroundMaybe.isEmpty { self[regionOf: page].aroundMaybe.remove(page.page) }
        if self[flagsOf: page].overlaps(.anyDeviceExclusive) { restoreExclusive(page) }
        let f = self[frameOf: page]
        if f > Frames.zero && s.frames.loc[Int(f)].isDevicePrivate { faultBackPrivate(page) }
        switch self[regionOf: page].kind {
        case .hugetlb:
            hugetlbFault(page, write: write)
            return 0
        case .anonPrivate, .filePrivate:
            return privateFault(page, write: write)
        case .anonShared, .fileShared:
            return sharedFault(page, write: write)
        }
    }

    /// `hugetlb_fault`: the whole 2 MiB page is populated at once; a write to a read-only one
    /// copies it if it is shared with a child (`hugetlb_wp`), else makes it writable.
    private mutating func hugetlbFault(_ page: PageRef, write: Bool) {
        let block = Self.pmdBlock(of: page.page)
        if self[frameOf: page] == Frames.none {
            for q in block where self[frameOf: page.at(q)] == Frames.none {
                self[frameOf: page.at(q)] = newAnon(page.at(q), token: 0)
                self[flagsOf: page.at(q)].set(.pteWrite, write)
            }
        } else if write && !self[flagsOf: page].contains(.pteWrite) {
            let shared = block.contains { q in
                let g = self[frameOf: page.at(q)]
                return g > Frames.zero && s.frames.refs[Int(g)] > 1
            }
            for q in block {
                let g = self[frameOf: page.at(q)]
                guard g != Frames.none else { continue }
                if shared {
                    self[frameOf: page.at(q)] = newAnon(page.at(q), token: s.frames.token[Int(g)])
                    release(g)
                    invalidate(page.at(q))
                }
                self[flagsOf: page.at(q)].insert(.pteWrite)
            }
        }
    }

    /// A private mapping: an empty PTE gets its first page (`do_anonymous_page`,
    /// `do_read_fault`, `do_cow_fault`); a write to a read-only PTE copies or reuses the page
    /// (`do_wp_page`).
    private mutating func privateFault(_ page: PageRef, write: Bool) -> Int32 {
        let kind = self[regionOf: page].kind
        if kind == .filePrivate && isBeyondEOF(page) { return Errno.EFAULT.rawValue }
        if self[frameOf: page] == Frames.none {
            if kind == .anonPrivate {
                anonymousFault(page, write: write)
            } else {
                privateFileFault(page, write: write)
            }
            return 0
        }
        if write && !self[flagsOf: page].contains(.pteWrite) { writeProtectFault(page) }
        dropLazyFreeOnWrite(page, write: write)
        return 0
    }

    /// `do_anonymous_page` (or `do_huge_pmd_anonymous_page`): a read maps the shared zero
    /// page, a write a new zeroed page.
    private mutating func anonymousFault(_ page: PageRef, write: Bool) {
        if let block = thpBlock(page) {
            anonymousTHPFault(page, block: block, write: write)
            return
        }
        // do_anonymous_page maps the page by a PTE (pte_alloc allocates the table).
        self[regionOf: page].pteTables.insert(page.page / Self.pmdPages)
        if write {
            self[frameOf: page] = newAnon(page, token: 0)
            self[flagsOf: page].insert(.pteWrite)
        } else {
            self[frameOf: page] = Frames.zero
            self[flagsOf: page].remove(.pteWrite)
        }
    }

    /// A THP may be allocated for the whole block (or not: fallback to one page), so the
    /// state becomes uncertain and follows the kernel's answers.
    private mutating func anonymousTHPFault(_ page: PageRef, block: Range<Int>, write: Bool) {
        s.uncertain = true
        // do_huge_pmd_anonymous_page prepares the anon_vma (vmf_anon_prepare; 6.1:
        // anon_vma_prepare) before it maps the huge zero page for a read, so fork copies
        // this VMA's page tables even when no page was ever written.
        self[regionOf: page].prepareAnonVMA(at: page.page)
        x.note("THP possible in r\(page.region) pages \(block.lowerBound)..<\(block.upperBound): PMD mapping and neighbouring pages' "
            + "population are not known")
        let folio = write ? s.frames.newFolio() : 0
        for q in block {
            if write {
                // A THP write fault maps the whole PMD writable and dirty.
                let n = newAnon(page.at(q), token: 0)
                s.frames.bits[Int(n)].insert(.dirty)
                s.frames.folio[Int(n)] = folio
                self[frameOf: page.at(q)] = n
                self[flagsOf: page.at(q)].formUnion([.pteWrite, .thp])
            } else {
                self[frameOf: page.at(q)] = Frames.zero
                self[flagsOf: page.at(q)].remove(.pteWrite)
                self[flagsOf: page.at(q)].insert(.thp)
            }
        }
    }

    /// An empty PTE of a private file mapping: a read maps the page-cache page
    /// (`do_read_fault`, with fault-around), a write a private copy of it (`do_cow_fault`).
    private mutating func privateFileFault(_ page: PageRef, write: Bool) {
        let cached = objectPage(mappedAt: page)
        if write {
            self[frameOf: page] = newAnon(page, token: s.frames.token[Int(cached)])
            self[flagsOf: page].insert(.pteWrite)
        } else {
            faultAround(page)
            retain(cached)
            self[frameOf: page] = cached
            self[flagsOf: page].remove(.pteWrite)
        }
    }

    /// `do_wp_page`: a write to a read-only PTE of a private mapping copies the zero page, a
    /// page-cache page or a page shared with another process (`wp_page_copy`, which
    /// invalidates the old mapping), and reuses an anonymous page mapped once (`wp_page_reuse`).
    /// A page of a PMD-mapped anonymous THP (the model's primary THP branch) first goes to
    /// `do_huge_pmd_wp_page`, see ``hugePMDWriteProtectFault(_:block:)``. A subpage of a
    /// PTE-mapped THP that is not PageAnonExclusive is always copied: 6.12's
    /// `wp_can_reuse_anon_folio` refuses a large folio, and on 6.1 each PTE of the split folio
    /// holds a reference, so `folio_ref_count` > 3 sends `do_wp_page` to the copy.
    private mutating func writeProtectFault(_ page: PageRef) {
        if let block = pmdMappedTHP(page), hugePMDWriteProtectFault(page, block: block) { return }
        let f = self[frameOf: page]
        let isObject = f > Frames.zero && s.frames.bits[Int(f)].contains(.object)
        if f == Frames.zero || isObject || s.frames.refs[Int(f)] > 1 || writeCopiesLargeFolioPage(page) {
            // wp_page_copy always allocates an order-0 folio: the copy of a PTE-mapped THP's
            // page, or of the small zero page a split huge zero page left, is a small page.
            notePartialUnmap(page.process, page.region, page.page, frame: f)
            self[frameOf: page] = newAnon(page, token: s.frames.token[Int(f)])
            release(f)
            invalidate(page)
            self[flagsOf: page].remove(.thp)
        } else {
            s.frames.bits[Int(f)].insert(.anonExclusive)
        }
        self[flagsOf: page].insert(.pteWrite)
    }

    /// The 512 pages of `page`'s PMD if the model's primary THP branch has them PMD-mapped:
    /// one anonymous THP in system RAM (allocated by a write fault) or the huge zero page (a
    /// read fault), not split since; nil under the small-page alternative (`forceSmall`).
    func pmdMappedTHP(_ page: PageRef) -> Range<Int>? {
        guard !x.forceSmall else { return nil }
        let reg = self[regionOf: page]
        guard reg.kind == .anonPrivate, reg.flags[page.page].contains(.thp) else { return nil }
        let block = Self.pmdBlock(of: page.page)
        guard block.upperBound <= reg.span, !reg.splitBlocks.contains(page.page / Self.pmdPages) else { return nil }
        let hugeZero = reg.frame[page.page] == Frames.zero
        for q in block {
            let fl = reg.flags[q]
            guard fl.contains(.thp), fl.contains(.mapped), !fl.overlaps(.anyDeviceExclusive), reg.sameVMA(page.page, q) else { return nil }
            let f = reg.frame[q]
            if hugeZero {
                guard f == Frames.zero else { return nil }
            } else {
                guard f > Frames.zero, s.frames.loc[Int(f)].isSystem, s.frames.bits[Int(f)].contains(.anon) else { return nil }
            }
        }
        return block
    }

    /// `do_huge_pmd_wp_page`: a write to a read-only PMD-mapped THP reuses the whole folio when
    /// it is mapped only here (PageAnonExclusive or `folio_ref_count` 1, e.g. once a fork's
    /// child has exited): `pmdp_set_access_flags` makes all 512 pages writable and dirty at
    /// once, with no MMU notifier. A folio still shared (a live child) is split instead:
    /// `__split_huge_pmd` (a notifier over the whole block) and VM_FAULT_FALLBACK, so
    /// `do_wp_page` copies the one page; so is the huge zero page (`is_huge_zero_pmd`), its
    /// PTEs all mapping the small zero page. Returns true when the fault is done.
    private mutating func hugePMDWriteProtectFault(_ page: PageRef, block: Range<Int>) -> Bool {
        let r = page.region
        if self[frameOf: page] == Frames.zero {
            self[regionOf: page].splitBlocks.insert(page.page / Self.pmdPages)
            splitPMDNotifier(page.process, r, block, note: "do_huge_pmd_wp_page splits the huge zero page at r\(r) pages "
                + "\(block.lowerBound)..<\(block.upperBound) (__split_huge_pmd): their mirror entries go, then do_wp_page copies the page")
            return false
        }
        let exclusive = block.allSatisfy { q in s.frames.refs[Int(self[frameOf: page.at(q)])] == 1 }
        if exclusive {
            for q in block {
                let f = Int(self[frameOf: page.at(q)])
                s.frames.bits[f].insert([.anonExclusive, .dirty])
                s.frames.bits[f].remove(.lazyFree)
                self[flagsOf: page.at(q)].insert(.pteWrite)
            }
            x.note("do_huge_pmd_wp_page reuses the THP at r\(r) pages \(block.lowerBound)..<\(block.upperBound) mapped only here: "
                + "all 512 pages become writable (PMD)")
            return true
        }
        self[regionOf: page].splitBlocks.insert(page.page / Self.pmdPages)
        splitPMDNotifier(page.process, r, block, note: "do_huge_pmd_wp_page splits the shared THP at r\(r) pages "
            + "\(block.lowerBound)..<\(block.upperBound) (__split_huge_pmd): their mirror entries go, then do_wp_page copies the page")
        return false
    }

    /// A shared mapping (shmem or a file) maps the object's page itself (`do_read_fault`,
    /// `do_shared_fault`): writable from the first fault unless the file system wants write
    /// notification.
    private mutating func sharedFault(_ page: PageRef, write: Bool) -> Int32 {
        if isBeyondEOF(page) { return Errno.EFAULT.rawValue }
        if self[frameOf: page] == Frames.none {
            if !write { faultAround(page) }
            let cached = objectPage(mappedAt: page)
            retain(cached)
            self[frameOf: page] = cached
            let writable = write || (!writesNotified(self[regionOf: page].kind) && self[flagsOf: page].contains(.write))
            self[flagsOf: page].set(.pteWrite, writable)
        } else if write {
            self[flagsOf: page].insert(.pteWrite)
        }
        dropLazyFreeOnWrite(page, write: write)
        return 0
    }

    /// A write makes a MADV_FREE'd page dirty again: it is no longer reclaimable.
    private mutating func dropLazyFreeOnWrite(_ page: PageRef, write: Bool) {
        let f = self[frameOf: page]
        if write && f > Frames.zero { s.frames.bits[Int(f)].remove(.lazyFree) }
    }

    // MARK: Fault-around

    /// Pages fault-around may map: 64 KiB (fault_around_bytes) / 4 KiB.
    static let faultAroundPages = 16

    /// A read fault on a file or shmem page (do_read_fault -> should_fault_around ->
    /// do_fault_around -> ->map_pages = filemap_map_pages, 6.1 and 6.12 alike) first maps the
    /// page-cache pages around it: the `fault_around_bytes`-aligned block of *virtual* addresses
    /// holding the fault, clipped to the VMA (the block never crosses a PMD), every page with
    /// an empty PTE whose folio is cached, uptodate, unlocked and below EOF. The model does not
    /// know where the runner's mmap put the region, so the block could be any 16 pages holding
    /// `p`: every such neighbour (within 15 pages, same VMA) *may* be mapped now. They stay
    /// unmapped in the primary state and join ``Region/aroundMaybe``; move_pages resolves them
    /// from the kernel's answer, SNAPSHOT allows both.
    mutating func faultAround(_ page: PageRef) {
        let p = page.page
        let reg = self[regionOf: page]
        guard reg.object >= 0, reg.kind != .hugetlb else { return }
        func sameVMA(_ q: Int) -> Bool { reg.sameVMA(p, q) }
        let n = Self.faultAroundPages
        var lo = p
        while lo > max(0, p - (n - 1)) && sameVMA(lo - 1) { lo -= 1 }
        var hi = p + 1
        while hi < min(reg.span, p + n) && sameVMA(hi) { hi += 1 }
        var any = false
        for q in lo..<hi where q != p && reg.frame[q] == Frames.none && !reg.aroundMaybe.contains(q) {
            let o = reg.objectOffset + q
            guard o < s.objects[reg.object].size, s.objects[reg.object].frames[o] != Frames.none else { continue }
            self[regionOf: page].aroundMaybe.insert(q)
            any = true
        }
        if any {
            x.note("fault-around (do_fault_around -> filemap_map_pages) may map cached neighbours of a file/shmem read fault: the 16-page "
                + "window depends on the region's virtual address")
        }
    }

    /// The page-cache page a fault-around may have mapped at (r, q), if any.
    func aroundFrame(_ pi: Int, _ r: Int, _ q: Int) -> UInt32? {
        let region = RegionRef(pi, r)
        guard self[region].aroundMaybe.contains(q), self[region].frame[q] == Frames.none else { return nil }
        let object = self[region].object
        guard object >= 0 else { return nil }
        let o = self[region].objectOffset + q
        guard o < s.objects[object].size else { return nil }
        let of = s.objects[object].frames[o]
        return of == Frames.none ? nil : of
    }

    /// The PTE write bit filemap_map_pages gives a page (vm_page_prot of a read fault).
    func aroundWritable(_ reg: Region, _ q: Int) -> Bool {
        reg.kind.isShared && !writesNotified(reg.kind) && reg.flags[q].contains(.write)
    }

    /// Whether a shared mapping of this kind wants write notification (vma_wants_writenotify):
    /// a file on a file system with page_mkwrite does; shmem (shared anonymous memory, tmpfs
    /// files) does not, so its PTEs are writable from the first fault.
    func writesNotified(_ kind: MappingKind) -> Bool {
        kind == .fileShared && environment.files == .pageMkwrite
    }

    /// The kernel says whether fault-around mapped (r, q): follow it.
    mutating func resolveAround(_ pi: Int, _ r: Int, _ q: Int, mapped: Bool) {
        let region = RegionRef(pi, r)
        let of = aroundFrame(pi, r, q)
        self[region].aroundMaybe.remove(q)
        guard mapped, let of else { return }
        retain(of)
        self[region].frame[q] = of
        self[region].flags[q].set(.pteWrite, aroundWritable(self[region], q))
    }

    /// Every other CPU mapping of frame `f` (any process, any region, including other
    /// regions of process `pi`) sees a CLEAR invalidation: `try_to_migrate` walks the page's
    /// rmap and unmaps it from each mapping before a migration, whatever the migration's end.
    mutating func invalidateOtherMappings(of f: UInt32, except pi: Int, _ r: Int, _ p: Int) {
        guard f > Frames.zero, mapCount(f) > 1 else { return }
        for q in s.procs.indices {
            for region in s.procs[q].regions.indices {
                guard let reg = s.procs[q].regions[region] else { continue }
                for page in 0..<reg.span where reg.frame[page] == f && (q, region, page) != (pi, r, p) {
                    invalidate(q, region, page)
                }
            }
        }
    }

    /// How many mappings of object page `f` fault-around may have made (its mapcount may be higher by as many).
    func aroundMappings(_ f: UInt32) -> Int {
        var n = 0
        for pi in s.procs.indices {
            for r in s.procs[pi].regions.indices {
                guard let reg = s.procs[pi].regions[r], !reg.aroundMaybe.isEmpty else { continue }
                n += reg.aroundMaybe.filter { aroundFrame(pi, r, $0) == f }.count
            }
        }
        return n
    }

    /// Removes the CPU mapping of (r, p) (munmap, MADV_DONTNEED, truncate).
    mutating func zap(_ pi: Int, _ r: Int, _ p: Int) {
        let region = RegionRef(pi, r)
        self[region].aroundMaybe.remove(p)
        let f = self[region].frame[p]
        if f != Frames.none {
            notePartialUnmap(pi, r, p, frame: f)
            self[region].frame[p] = Frames.none
            release(f)
        }
        self[region].flags[p].remove(.pageTable)
        invalidate(pi, r, p)
    }

    /// Marks THP blocks touched partially by a VMA change as possibly PTE-mapped large folios.
    /// A VMA split at page `at` of region `r` (mprotect, mbind, munmap, mremap or madvise
    /// changing part of a VMA). vma_adjust_trans_huge runs split_huge_pmd_address there, and
    /// __split_huge_pmd starts its MMU notifier over the whole PMD before it looks for a huge
    /// page: when `at` is not PMD aligned and the VMA spans that PMD, test_hmm drops every mirror
    /// entry of the 2 MiB block (and the one past it) even with no THP there.
    mutating func splitVMA(_ pi: Int, _ r: Int, at page: Int) {
        let region = RegionRef(pi, r)
        let reg = self[region]
        guard page > 0, page < reg.span, page % Self.pmdPages != 0 else { return }
        let lo = page - page % Self.pmdPages
        let hi = lo + Self.pmdPages
        guard hi <= reg.span,
              (lo..<hi).allSatisfy({ reg.flags[$0].contains(.mapped) && reg.sameVMA(page, $0) }) else { return }
        splitPMDNotifier(pi, r, lo..<hi, note: "the VMA split at r\(r) page \(page) runs __split_huge_pmd's MMU notifier over "
            + "pages \(lo)..<\(hi) (vma_adjust_trans_huge): their mirror entries go")
        // __split_vma -> vma_adjust_trans_huge -> split_huge_pmd_address: a THP there stays a
        // large folio, mapped by PTEs now (whatever changed the VMA: mbind, madvise, ...).
        if (lo..<hi).contains(where: { reg.flags[$0].contains(.thp) }) {
            self[region].splitBlocks.insert(lo / Self.pmdPages)
        }
    }

    /// __split_huge_pmd brackets every split, of a huge page or of a VMA, with an MMU notifier
    /// over the whole PMD `block`: test_hmm drops each mirror entry there. `note` is added
    /// when there was one to drop.
    mutating func splitPMDNotifier(_ pi: Int, _ r: Int, _ block: Range<Int>, note: @autoclosure () -> String) {
        let mirrored = s.procs[pi].mirrors.contains { mirror in
            guard let mirror, r < mirror.pt.count, let pt = mirror.pt[r] else { return false }
            return block.contains { pt.tag[$0] != .absent }
        }
        if mirrored { x.note(note()) }
        invalidate(pi, r, block)
    }

    /// Splits for a change of VMA attributes over `range` where `changes(region, p)` says
    /// whether page `p`'s attributes change: at its start and at its end.
    mutating func splitVMAs(_ pi: Int, _ r: Int, _ range: Range<Int>, changes: (Region, Int) -> Bool) {
        let region = RegionRef(pi, r)
        guard !range.isEmpty else { return }
        let reg = self[region]
        let atStart = changes(reg, range.lowerBound)
        let atEnd = changes(reg, range.upperBound - 1)
        if atStart { splitVMA(pi, r, at: range.lowerBound) }
        if atEnd { splitVMA(pi, r, at: range.upperBound) }
    }

    mutating func splitTHP(_ pi: Int, _ r: Int, _ range: Range<Int>) {
        let region = RegionRef(pi, r)
        let reg = self[region]
        for edge in [range.lowerBound, range.upperBound - 1] {
            let b = edge / Self.pmdPages
            let lo = b * Self.pmdPages
            let hi = min(lo + Self.pmdPages, reg.span)
            if range.lowerBound <= lo && range.upperBound >= hi { continue }
            if (lo..<hi).contains(where: { reg.flags[$0].contains(.thp) }), !reg.splitBlocks.contains(b) {
                self[region].splitBlocks.insert(b)
                // Every mirror entry of the block goes, not only those in `range`.
                splitPMDNotifier(pi, r, lo..<hi, note: "splitting the PMD of r\(r) pages \(lo)..<\(hi) (__split_huge_pmd) "
                    + "invalidates the whole block: its mirror entries go")
            }
        }
    }

    /// MADV_FREE over part of an anonymous THP splits the folio first, so that only the
    /// advised pages become lazily freed: `madvise_free_huge_pmd` for a PMD-mapped THP when
    /// the range does not cover the PMD, `madvise_free_pte_range` for a PTE-mapped one when
    /// the walk (one VMA at a time) meets fewer of its PTEs than the folio has pages (6.1 and
    /// 6.12; 6.1 also splits a PTE-mapped THP the range covers whole, which the model does
    /// not follow). A folio another process maps is left alone. split_folio unmaps the folio
    /// (`unmap_folio`: MMU notifiers over the whole block) and maps its pages back small.
    mutating func splitTHPsForFree(_ pi: Int, _ r: Int, _ range: Range<Int>) {
        let region = RegionRef(pi, r)
        guard !range.isEmpty else { return }
        for b in (range.lowerBound / Self.pmdPages)...((range.upperBound - 1) / Self.pmdPages) {
            let reg = self[region]
            let block = (b * Self.pmdPages)..<min((b + 1) * Self.pmdPages, reg.span)
            func isFolioPage(_ q: Int) -> Bool {
                let f = reg.frame[q]
                return reg.flags[q].contains(.thp) && f > Frames.zero && s.frames.loc[Int(f)].isSystem
                    && s.frames.bits[Int(f)].contains(.anon)
            }
            let advised = block.clamped(to: range)
            guard advised.contains(where: isFolioPage) else { continue }
            let wholeInOneWalk = advised == block && block.allSatisfy { reg.sameVMA(block.lowerBound, $0) }
            if wholeInOneWalk { continue }
            // Device-exclusive entries in the folio, or a folio another process maps: not modelled / skipped.
            if block.contains(where: { reg.flags[$0].overlaps(.anyDeviceExclusive) }) { continue }
            if block.contains(where: { isFolioPage($0) && s.frames.refs[Int(reg.frame[$0])] > 1 }) { continue }
            x.note("MADV_FREE over part of a THP splits it first (madvise_free_huge_pmd / madvise_free_pte_range -> split_folio): "
                + "r\(r) pages \(block.lowerBound)..<\(block.upperBound) are small pages now, their mirror entries go")
            invalidate(pi, r, block)
            if profile.isOn(.thpSplitMapsZeroSubpages) { mapZeroSubpagesAfterSplit(region, block) }
            for q in block { self[region].flags[q].remove(.thp) }
            self[region].splitBlocks.remove(b)
        }
    }

    static let evictExclusiveCoherentHazard = "dmirror_device_evict_chunk over a device-coherent page that a device-exclusive entry "
        + "holds: the page keeps its reference and its stale anon_vma, so once its process has exited the next eviction of the chunk (a "
        + "close, the module's unload) walks a freed anon_vma in migrate_device_finalize -> remove_migration_ptes -> rmap_walk_anon: oops "
        + "or hang (seen on 6.12.118, Fixtures/hazards/close-evicts-exclusive-coherent)"

    /// Every page of device `minor` goes back to system RAM (fd release, RELEASE ioctl).
    mutating func evict(minor: Int) {
        var moved: [UInt32] = []
        for pi in s.procs.indices {
            for r in s.procs[pi].regions.indices {
                guard let reg = s.procs[pi].regions[r] else { continue }
                for p in 0..<reg.span {
                    let f = reg.frame[p]
                    guard f > Frames.zero else { continue }
                    let l = s.frames.loc[Int(f)]
                    if l.isDevice && l.index == minor {
                        if l.isDeviceCoherent && reg.flags[p].contains(.deviceExclusive) {
                            x.hazard = Self.evictExclusiveCoherentHazard
                        }
                        invalidate(pi, r, p)
                        moved.append(f)
                        if allocLoc(PageRef(pi, r, p)) != defaultLoc {
                            x.note("eviction allocates with alloc_page (dmirror_device_evict_chunk): the task's policy, not the VMA's "
                                + "MPOL_BIND, so the local node")
                        }
                    }
                }
            }
        }
        for f in moved where s.frames.loc[Int(f)].isDevice {
            relocate(f, to: defaultLoc)
        }
    }
}
