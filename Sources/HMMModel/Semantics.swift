import HMMSystem
import HMMUAPI

/// The actions: each returns its outcomes and updates the state.
extension Model {
    static let okOutcomes: [Outcome] = [.ok]

    mutating func execute(_ a: Action) -> Envelope {
        let outcomes: [Outcome]
        switch a {
        case let .mmap(r, pages, prot, kind, file, offset): outcomes = doMmap(r, pages, prot, kind, file, offset)
        case let .munmap(range): outcomes = doMunmap(range)
        case let .mprotect(range, prot): outcomes = doMprotect(range, prot)
        case let .mremap(range, to): outcomes = doMremap(range, to)
        case let .madvise(range, advice): outcomes = doMadvise(range, advice)
        case let .cpuRead(r, p): outcomes = doCPURead(r, p)
        case let .cpuWrite(r, p, t): outcomes = doCPUWrite(r, p, t)
        case .fork: outcomes = doFork()
        case .exitChild: outcomes = doExit()
        case let .fileCreate(f, pages):
            s.objects.append(MemObject(frames: [UInt32](repeating: 0, count: pages), size: pages))
            s.files[f] = s.objects.count - 1
            outcomes = Self.okOutcomes
        case let .fileWrite(f, page, token): outcomes = doFileWrite(f, page, token)
        case let .fileTruncate(f, pages): outcomes = doTruncate(f, pages)
        case let .filePunchHole(f, first, count): outcomes = doPunch(f, first, count)
        case let .open(fd, minor):
            let pi = s.current
            if s.procs[pi].mirrors.count <= fd {
                s.procs[pi].mirrors += [Mirror?](repeating: nil, count: fd + 1 - s.procs[pi].mirrors.count)
            }
            s.procs[pi].mirrors[fd] = Mirror(minor: minor)
            outcomes = Self.okOutcomes
        case let .close(fd):
            let minor = s.procs[s.current].mirrors[fd]!.minor
            s.procs[s.current].mirrors[fd] = nil
            evict(minor: minor)
            outcomes = Self.okOutcomes
        case let .ioctl(call): outcomes = doIoctl(call)
        case let .mbind(range, node): outcomes = doMbind(range, node)
        case let .movePages(range, node): outcomes = doMovePages(range, node)
        case let .queryNodes(range): outcomes = doQueryNodes(range)
        }
        return Envelope(outcomes, notes: x.notes, hazard: x.hazard, kernelWarning: x.warning)
    }

    // MARK: Address space

    mutating func doMmap(_ r: Int, _ pages: Int, _ prot: Protection, _ kind: MappingKind, _ file: FileID?, _ offset: Int) -> [Outcome] {
        if kind == .hugetlb {
            x.variable = true
            x.note("hugetlb mmap needs free huge pages: ENOMEM when none are reserved")
            if x.resolve?.errno == Errno.ENOMEM.rawValue { return [.failure(Errno.ENOMEM.rawValue), .ok] }
        }
        let pi = s.current
        var object = -1
        if kind == .anonShared {
            s.objects.append(MemObject(frames: [UInt32](repeating: 0, count: pages), size: pages))
            object = s.objects.count - 1
        } else if kind.isFileBacked {
            object = s.files[file!]!
        }
        var bits: PageFlags = .mapped
        if prot.canRead { bits.insert(.read) }
        if prot.canWrite { bits.insert(.write) }
        var reg = Region(kind: kind, span: pages, object: object, objectOffset: kind.isFileBacked ? offset : 0,
                         frame: [UInt32](repeating: 0, count: pages), flags: [PageFlags](repeating: bits, count: pages))
        if prot.canWrite { reg.account(0..<pages) }
        if s.procs[pi].regions.count <= r {
            s.procs[pi].regions += [Region?](repeating: nil, count: r + 1 - s.procs[pi].regions.count)
        }
        s.procs[pi].regions[r] = reg
        return kind == .hugetlb ? [.ok, .failure(Errno.ENOMEM.rawValue)] : [.ok]
    }

    mutating func doMunmap(_ range: PageRange) -> [Outcome] {
        let pi = s.current
        let r = range.region
        let region = RegionRef(pi, r)
        splitVMAs(pi, r, range.first..<range.end) { reg, p in reg.flags[p].contains(.mapped) }
        splitTHP(pi, r, range.first..<range.end)
        var unmapped = false
        for p in range.first..<range.end where self[region].flags[p].contains(.mapped) {
            zap(pi, r, p)
            self[region].flags[p] = []
            unmapped = true
        }
        // The MMU_NOTIFY_UNMAP range is the whole munmap range (vms_clear_ptes), holes
        // included: its end page is the one dmirror_do_update drops too.
        if unmapped { invalidate(pi, r, range.end..<range.end) }
        freePageTables(pi, r, range.first..<range.end)
        return Self.okOutcomes
    }

    /// free_pgtables after an unmap: a PTE table goes with the last VMA over its 2 MiB block
    /// (regions own their blocks, so: when no page of the block stays mapped).
    mutating func freePageTables(_ pi: Int, _ r: Int, _ range: Range<Int>) {
        let region = RegionRef(pi, r)
        guard !range.isEmpty else { return }
        for b in (range.lowerBound / Self.pmdPages)...((range.upperBound - 1) / Self.pmdPages) {
            let block = (b * Self.pmdPages)..<min((b + 1) * Self.pmdPages, self[region].span)
            if !block.contains(where: { self[region].flags[$0].contains(.mapped) }) { self[region].pteTables.remove(b) }
        }
    }

    mutating func doMprotect(_ range: PageRange, _ prot: Protection) -> [Outcome] {
        let pi = s.current
        let r = range.region
        let region = RegionRef(pi, r)
        var newBits: PageFlags = []
        if prot.canRead { newBits.insert(.read) }
        if prot.canWrite { newBits.insert(.write) }
        splitVMAs(pi, r, range.first..<range.end) { reg, p in
            reg.flags[p].contains(.mapped) && reg.flags[p].intersection(.protection) != newBits
        }
        var changedAny = false
        for p in range.first..<range.end {
            let fl = self[region].flags[p]
            if !fl.contains(.mapped) {
                if changedAny { splitTHP(pi, r, range.first..<p) }
                return [.failure(Errno.ENOMEM.rawValue)]
            }
            // mprotect_fixup charges a private mapping the first time it becomes writable.
            if prot.canWrite { self[region].account(p..<(p + 1)) }
            if fl.intersection(.protection) == newBits { continue }
            changedAny = true
            var nf = fl.subtracting(.protection).union(newBits)
            let f = self[region].frame[p]
            if !prot.canWrite {
                nf.remove(.pteWrite)
            } else if !fl.contains(.write) && f > Frames.zero && !fl.contains(.deviceExclusive) {
                // MM_CP_TRY_CHANGE_WRITABLE: exclusive anon pages and shmem pages become writable.
                let kind = self[region].kind
                let bits = s.frames.bits[Int(f)]
                let present = !s.frames.loc[Int(f)].isDevicePrivate
                let clean = !bits.contains(.dirty) && profile.isOn(.mprotectUpgradeNeedsDirty)
                let exclusiveAnon = bits.contains(.anon) && bits.contains(.anonExclusive) && kind != .hugetlb && !clean
                if present && (exclusiveAnon || (kind.isShared && !writesNotified(kind))) {
                    nf.insert(.pteWrite)
                }
            }
            self[region].flags[p] = nf
            invalidate(pi, r, p)
        }
        if changedAny { splitTHP(pi, r, range.first..<range.end) }
        return Self.okOutcomes
    }

    mutating func doMremap(_ range: PageRange, _ to: Int) -> [Outcome] {
        let pi = s.current
        let r = range.region
        let region = RegionRef(pi, r)
        let src = self[region]
        // vma_to_resize: the old range must lie in the one VMA holding its start; a hole, an
        // mprotect split, a different mbind policy or VM_ACCOUNT (VMAs differing in either never
        // merge) ends that VMA early, and mremap gives EFAULT with nothing moved.
        for p in range.first..<range.end where !src.sameVMA(range.first, p) {
            x.note("mremap's source crosses a VMA boundary at page \(p) (vma_to_resize): EFAULT, nothing moves")
            return [.failure(Errno.EFAULT.rawValue)]
        }
        splitVMAs(pi, r, range.first..<range.end) { _, _ in true }
        splitTHP(pi, r, range.first..<range.end)
        var dst = Region(kind: src.kind, span: range.count, object: src.object,
                         objectOffset: src.objectOffset + range.first,
                         frame: Array(src.frame[range.first..<range.end]),
                         flags: Array(src.flags[range.first..<range.end]))
        // copy_vma: the moved VMA keeps the source VMA's anon_vma.
        if src.hasAnonVMA(range.first) { dst.anonVMAPages = [Bool](repeating: true, count: range.count) }
        if !src.policy.isEmpty { dst.policy = Array(src.policy[range.first..<range.end]) }
        if !src.accounted.isEmpty { dst.accounted = Array(src.accounted[range.first..<range.end]) }
        dst.aroundMaybe = Set(src.aroundMaybe.filter { (range.first..<range.end).contains($0) }.map { $0 - range.first })
        self[region].aroundMaybe.subtract(range.first..<range.end)
        for p in range.first..<range.end {
            // The page tables move; the old addresses are unmapped (mirrors invalidated).
            self[region].frame[p] = Frames.none
            self[region].flags[p] = []
            invalidate(pi, r, p)
        }
        // A moved THP block that is no longer PMD aligned is PTE-mapped.
        for (i, fl) in dst.flags.enumerated() where fl.contains(.thp) {
            if range.first % Self.pmdPages != 0 { dst.splitBlocks.insert(i / Self.pmdPages) }
        }
        // move_page_tables skips a none PMD and gives the new range a PTE table wherever the
        // old one had one (move_ptes after pte_alloc, or move_normal_pmd moving the table).
        for i in 0..<range.count where self[region].pteTables.contains((range.first + i) / Self.pmdPages) {
            dst.pteTables.insert(i / Self.pmdPages)
        }
        freePageTables(pi, r, range.first..<range.end)
        if s.procs[pi].regions.count <= to {
            s.procs[pi].regions += [Region?](repeating: nil, count: to + 1 - s.procs[pi].regions.count)
        }
        s.procs[pi].regions[to] = dst
        return Self.okOutcomes
    }

    mutating func doMadvise(_ range: PageRange, _ advice: Advice) -> [Outcome] {
        let pi = s.current
        let r = range.region
        let region = RegionRef(pi, r)
        var hole = false
        switch advice {
        case .hugepage, .nohugepage:
            splitVMAs(pi, r, range.first..<range.end) { reg, p in
                reg.flags[p].contains(.mapped) && reg.flags[p].contains(.advised) != (advice == .hugepage)
            }
            for p in range.first..<range.end {
                if !self[region].flags[p].contains(.mapped) { hole = true; continue }
                if advice == .hugepage {
                    self[region].flags[p].insert(.advised)
                    s.thpAdvised = true
                } else {
                    self[region].flags[p].remove(.advised)
                }
            }
        case .dontneed:
            splitTHP(pi, r, range.first..<range.end)
            for p in range.first..<range.end {
                if !self[region].flags[p].contains(.mapped) { hole = true; continue }
                zap(pi, r, p)
            }
        case .free:
            let kind = self[region].kind
            if kind == .anonPrivate { splitTHPsForFree(pi, r, range.first..<range.end) }
            for p in range.first..<range.end {
                let fl = self[region].flags[p]
                if !fl.contains(.mapped) { hole = true; continue }
                if kind != .anonPrivate { return [.failure(Errno.EINVAL.rawValue)] }
                invalidate(pi, r, p)
                let f = self[region].frame[p]
                guard f > Frames.zero, !fl.contains(.deviceExclusive) else { continue }
                let i = Int(f)
                // Device-private entries are non-swap entries (skipped); coherent pages are
                // zone-device folios, which madvise_free_pte_range skips too.
                if s.frames.loc[i].isDevice { continue }
                // An exclusive page's PTE is made clean (and old); a lazily freed page reads zero once reclaimed.
                if s.frames.refs[i] == 1 { s.frames.bits[i].remove(.dirty) }
                if s.frames.refs[i] == 1 && s.frames.token[i] != 0 {
                    s.frames.bits[i].insert(.lazyFree)
                    s.uncertain = true
                }
            }
        }
        return [hole ? .failure(Errno.ENOMEM.rawValue) : .ok]
    }

    // MARK: CPU access

    /// Pages that MADV_FREE made reclaimable and that the observation shows as zero: reclaim them.
    mutating func resolveLazyFree(_ pi: Int, _ r: Int, _ pages: Range<Int>, observed: [UInt64?]?) {
        let region = RegionRef(pi, r)
        guard let observed, observed.count == pages.count else { return }
        for (i, p) in pages.enumerated() where observed[i] == 0 {
            let f = self[region].frame[p]
            if f > Frames.zero && s.frames.bits[Int(f)].contains(.lazyFree) && s.frames.token[Int(f)] != 0 {
                zap(pi, r, p)
            }
        }
    }

    /// Adds "may read zero" for MADV_FREE pages.
    mutating func lazyAlternatives(_ pi: Int, _ r: Int, _ pages: Range<Int>, _ values: inout PageValues<UInt64>) {
        let region = RegionRef(pi, r)
        for (i, p) in pages.enumerated() {
            let f = self[region].frame[p]
            if f > Frames.zero && s.frames.bits[Int(f)].contains(.lazyFree) && values.primary[i] != 0 {
                values.allow(0, at: i)
                x.variable = true
                x.note("MADV_FREE pages may have been reclaimed and read as zero")
            }
        }
    }

    mutating func doCPURead(_ r: Int, _ p: Int) -> [Outcome] {
        let pi = s.current
        if let obs = x.resolve { resolveLazyFree(pi, r, p..<(p + 1), observed: obs.tokens) }
        var values = PageValues<UInt64>([currentToken(pi, r, p)])
        lazyAlternatives(pi, r, p..<(p + 1), &values)
        cpuFault(PageRef(pi, r, p), write: false)
        return [Outcome(tokens: values)]
    }

    func currentToken(_ pi: Int, _ r: Int, _ p: Int) -> UInt64 {
        let region = RegionRef(pi, r)
        let f = self[region].frame[p]
        if f != Frames.none { return s.frames.token[Int(f)] }
        let object = self[region].object
        if object >= 0 {
            let o = self[region].objectOffset + p
            if o < s.objects[object].size, s.objects[object].frames[o] != 0 {
                return s.frames.token[Int(s.objects[object].frames[o])]
            }
        }
        return 0
    }

    mutating func doCPUWrite(_ r: Int, _ p: Int, _ t: UInt64) -> [Outcome] {
        let pi = s.current
        let region = RegionRef(pi, r)
        cpuFault(PageRef(pi, r, p), write: true)
        let f = self[region].frame[p]
        s.frames.token[Int(f)] = t
        s.frames.bits[Int(f)].remove(.lazyFree)
        return Self.okOutcomes
    }

    // MARK: fork / exit

    mutating func doFork() -> [Outcome] {
        var child = Process()
        child.regions = [Region?](repeating: nil, count: s.procs[0].regions.count)
        for r in s.procs[0].regions.indices {
            guard var reg = s.procs[0].regions[r] else { continue }
            // vma_needs_copy: fork copies the page tables of a private VMA with an anon_vma;
            // other VMAs' pages are faulted in again by the child.
            var copied = [Bool](repeating: false, count: reg.span)
            if !reg.kind.isShared && !reg.anonVMAPages.isEmpty {
                var p = 0
                while p < reg.span {
                    let vma = reg.vmaPages(around: p)
                    if reg.flags[p].contains(.mapped) && reg.hasAnonVMA(in: vma) {
                        for q in vma { copied[q] = true }
                        // Parent: MMU_NOTIFY_PROTECTION_PAGE over the VMA; COW pages become read-only.
                        invalidate(0, r, vma)
                    }
                    p = vma.upperBound
                }
            }
            for p in 0..<reg.span {
                var fl = reg.flags[p]
                guard fl.contains(.mapped) else { continue }
                if !copied[p] {
                    reg.frame[p] = Frames.none
                    fl.remove(.pageTable)
                    reg.flags[p] = fl
                    continue
                }
                if fl.overlaps(.anyDeviceExclusive) {
                    s.procs[0].regions[r]!.flags[p].remove(.anyDeviceExclusive)
                    fl.remove(.anyDeviceExclusive)
                }
                let f = reg.frame[p]
                if f > Frames.zero {
                    retain(f)
                    if s.frames.bits[Int(f)].contains(.anon) {
                        s.frames.bits[Int(f)].remove(.anonExclusive)
                        s.procs[0].regions[r]!.flags[p].remove(.pteWrite)
                        fl.remove(.pteWrite)
                    }
                }
                reg.flags[p] = fl
            }
            reg.aroundMaybe = reg.aroundMaybe.filter { copied[$0] }
            // copy_pmd_range gives the child a PTE table only where it copies one.
            let span = reg.span
            reg.pteTables = reg.pteTables.filter { b in
                ((b * Self.pmdPages)..<min((b + 1) * Self.pmdPages, span)).contains { copied[$0] }
            }
            child.regions[r] = reg
        }
        s.procs.append(child)
        s.current = 1
        return Self.okOutcomes
    }

    mutating func doExit() -> [Outcome] {
        let minors = s.procs[1].mirrors.compactMap { $0?.minor }
        s.procs[1].mirrors = []
        for m in minors { evict(minor: m) }
        for r in s.procs[1].regions.indices {
            guard let reg = s.procs[1].regions[r] else { continue }
            for f in reg.frame where f != Frames.none { release(f) }
        }
        s.procs.removeLast()
        s.current = 0
        return Self.okOutcomes
    }

    // MARK: Files

    /// Calls `body` for every mapping (process, region, page) of object page `o`.
    mutating func forEachMapping(object obj: Int, page o: Int, _ body: (inout Model, Int, Int, Int) -> Void) {
        for pi in s.procs.indices {
            for r in s.procs[pi].regions.indices {
                guard let reg = s.procs[pi].regions[r], reg.object == obj else { continue }
                let p = o - reg.objectOffset
                guard p >= 0, p < reg.span, reg.flags[p].contains(.mapped) else { continue }
                body(&self, pi, r, p)
            }
        }
    }

    mutating func doFileWrite(_ f: FileID, _ page: Int, _ token: UInt64) -> [Outcome] {
        let obj = s.files[f]!
        if page >= s.objects[obj].size {
            let grow = page + 1 - s.objects[obj].size
            s.objects[obj].frames += [UInt32](repeating: 0, count: grow)
            s.objects[obj].size = page + 1
        }
        let fr = objectPage(obj, page)
        s.frames.token[Int(fr)] = token
        return Self.okOutcomes
    }

    mutating func doTruncate(_ f: FileID, _ pages: Int) -> [Outcome] {
        let obj = s.files[f]!
        let old = s.objects[obj].size
        if pages < old {
            for o in pages..<old {
                // truncate_pagecache: unmap_mapping_range(..., even_cows = 1)
                forEachMapping(object: obj, page: o) { m, pi, r, p in m.zap(pi, r, p) }
                let fr = s.objects[obj].frames[o]
                s.objects[obj].frames[o] = Frames.none
                release(fr)
            }
            s.objects[obj].frames.removeLast(old - pages)
        } else {
            s.objects[obj].frames += [UInt32](repeating: 0, count: pages - old)
        }
        s.objects[obj].size = pages
        return Self.okOutcomes
    }

    mutating func doPunch(_ f: FileID, _ first: Int, _ count: Int) -> [Outcome] {
        let obj = s.files[f]!
        let end = min(first + count, s.objects[obj].size)
        guard first < end else { return Self.okOutcomes }
        for o in first..<end {
            // Only page-cache mappings go (even_cows = 0): private COW copies stay. But
            // zap_page_range_single runs the MMU notifier over the whole range of every VMA
            // mapping the file (unmap_mapping_range), so a device's mirror of a kept copy goes too.
            forEachMapping(object: obj, page: o) { m, pi, r, p in
                m.s.procs[pi].regions[r]!.aroundMaybe.remove(p)
                let fr = m.s.procs[pi].regions[r]!.frame[p]
                if fr > Frames.zero && m.s.frames.bits[Int(fr)].contains(.object) {
                    m.zap(pi, r, p)
                } else {
                    m.invalidate(pi, r, p)
                }
            }
            let fr = s.objects[obj].frames[o]
            s.objects[obj].frames[o] = Frames.none
            release(fr)
        }
        return Self.okOutcomes
    }

    // MARK: NUMA

    mutating func doMbind(_ range: PageRange, _ node: Int) -> [Outcome] {
        let pi = s.current
        let r = range.region
        let region = RegionRef(pi, r)
        for p in range.first..<range.end where !self[region].flags[p].contains(.mapped) {
            return [.failure(Errno.EFAULT.rawValue)]
        }
        splitVMAs(pi, r, range.first..<range.end) { reg, p in (reg.policy.isEmpty ? 0 : reg.policy[p]) != UInt8(node + 1) }
        if self[region].policy.isEmpty {
            self[region].policy = [UInt8](repeating: 0, count: self[region].span)
        }
        for p in range.first..<range.end { self[region].policy[p] = UInt8(node + 1) }
        return Self.okOutcomes
    }

    /// `move_pages` status of a page: node, or -errno.
    func nodeStatus(_ pi: Int, _ r: Int, _ p: Int) -> Int32 {
        let region = RegionRef(pi, r)
        let reg = self[region]
        let fl = reg.flags[p]
        if !fl.contains(.mapped) { return -Errno.EFAULT.rawValue }
        let f = reg.frame[p]
        if f == Frames.none { return holeStatus(reg) }
        if fl.contains(.deviceExclusive) { return -Errno.ENOENT.rawValue }
        if f == Frames.zero { return -Errno.EFAULT.rawValue }
        let l = s.frames.loc[Int(f)]
        if l.isDevice { return -Errno.ENOENT.rawValue }
        let n = l.index
        return n == Int(FrameLocation.unknownNode) ? Int32(environment.nodes.first ?? 0) : Int32(n)
    }

    /// `move_pages` status of a page with an empty PTE (never populated, zapped, reclaimed).
    func holeStatus(_ reg: Region) -> Int32 {
        reg.kind == .anonPrivate && profile.isOn(.movePagesHoleIsEFAULT) ? -Errno.EFAULT.rawValue : -Errno.ENOENT.rawValue
    }

    /// Pages of `range` fault-around may have mapped (index in the range, page-cache page):
    /// while the kernel has not answered, move_pages allows what they would report if mapped.
    mutating func aroundPages(_ pi: Int, _ range: PageRange) -> [(Int, UInt32)] {
        let r = range.region
        let region = RegionRef(pi, r)
        guard !self[region].aroundMaybe.isEmpty else { return [] }
        let hits = (range.first..<range.end).enumerated().compactMap { i, p in aroundFrame(pi, r, p).map { (i, $0) } }
        for (i, _) in hits {
            x.note("fault-around may have mapped r\(r) page \(range.first + i) (a neighbour of an earlier file/shmem read fault)")
        }
        return hits
    }

    mutating func resolveAroundNodes(_ pi: Int, _ range: PageRange) {
        let r = range.region
        let region = RegionRef(pi, r)
        guard let obs = x.resolve?.nodes, obs.count == range.count, !self[region].aroundMaybe.isEmpty else { return }
        let hole = holeStatus(self[region])
        for (i, p) in (range.first..<range.end).enumerated() where aroundFrame(pi, r, p) != nil {
            resolveAround(pi, r, p, mapped: obs[i] != hole)
        }
    }

    mutating func nodeValues(_ pi: Int, _ range: PageRange) -> PageValues<Int32> {
        var v = PageValues<Int32>((range.first..<range.end).map { nodeStatus(pi, range.region, $0) })
        for (i, p) in (range.first..<range.end).enumerated() {
            let reg = s.procs[pi].regions[range.region]!
            let f = reg.frame[p]
            if v.primary[i] >= 0, f > Frames.zero, s.frames.loc[Int(f)].isUnknownNode {
                for n in environment.nodes { v.allow(Int32(n), at: i) }
                x.note("node of pages allocated without a policy is the allocating CPU's node (environment has no local-node)")
            }
            if v.primary[i] >= 0, reg.flags[p].contains(.maybeDeviceExclusive) {
                v.allow(-Errno.ENOENT.rawValue, at: i)
                x.note("a page that may be a device-exclusive entry is not found by move_pages (-ENOENT)")
            }
            if v.primary[i] >= 0, f > Frames.zero, s.frames.bits[Int(f)].contains(.lazyFree) {
                v.allow(holeStatus(reg), at: i)
                x.note("MADV_FREE pages may have been reclaimed")
            }
        }
        return v
    }

    mutating func doQueryNodes(_ range: PageRange) -> [Outcome] {
        let pi = s.current
        let r = range.region
        let region = RegionRef(pi, r)
        x.variable = true
        resolveAroundNodes(pi, range)
        if let obs = x.resolve?.nodes, obs.count == range.count {
            for (i, p) in (range.first..<range.end).enumerated() where obs[i] >= 0 {
                let f = self[region].frame[p]
                if f > Frames.zero, s.frames.loc[Int(f)].isSystem {
                    s.frames.loc[Int(f)] = .system(node: UInt8(obs[i] & 0x0F))
                }
            }
        }
        var v = nodeValues(pi, range)
        for (i, of) in aroundPages(pi, range) {
            let n = s.frames.loc[Int(of)].index
            for a in n == Int(FrameLocation.unknownNode) ? environment.nodes : [n] { v.allow(Int32(a), at: i) }
        }
        return [Outcome(nodes: v)]
    }

    static let migrateExclusiveTHPHazard = "move_pages of a THP whose other PTEs are device-exclusive entries (EXCLUSIVE of its head "
        + "page converted them all): try_to_migrate_one walks the large folio, meets entries it does not expect and hands "
        + "folio_remove_rmap_ptes a page outside the folio: a storm of WARNINGs at include/linux/rmap.h:216/217 "
        + "(__folio_rmap_sanity_checks) that hangs the call (seen on 6.12.118, Fixtures/hazards/move-pages-exclusive-thp)"

    /// Whether THP block `block` of the region may be a large folio some of whose PTEs are
    /// device-exclusive entries (`exclMaybe` counts: if the block is a THP, they are).
    func blockHasExclusiveEntries(_ pi: Int, _ r: Int, _ block: Int) -> Bool {
        let region = RegionRef(pi, r)
        let reg = self[region]
        let pages = (block * Self.pmdPages)..<min((block + 1) * Self.pmdPages, reg.span)
        return pages.contains { q in reg.flags[q].contains(.thp) && reg.flags[q].overlaps(.anyDeviceExclusive) }
    }

    mutating func doMovePages(_ range: PageRange, _ node: Int) -> [Outcome] {
        let pi = s.current
        let r = range.region
        let region = RegionRef(pi, r)
        resolveAroundNodes(pi, range)
        var v = nodeValues(pi, range)
        // A page fault-around may have mapped moves (or is shared: EACCES) like a mapped one.
        for (i, of) in aroundPages(pi, range) {
            if mapCount(of) > 0 { v.allow(-Errno.EACCES.rawValue, at: i); continue }
            v.allow(Int32(node), at: i)
            if aroundMappings(of) > 1 { v.allow(-Errno.EACCES.rawValue, at: i) }
        }
        // THP blocks whose folio a page of the range has queued for migration, and those where
        // the next page of the folio already found it isolated.
        var queuedTHPBlocks = Set<Int>()
        // Per THP block, once per step: whether any of its pages is a device-exclusive entry.
        var exclusiveTHPBlocks: [Int: Bool] = [:]
        var busyTHPBlocks = Set<Int>()
        // THP blocks whose partially mapped folio migrate_pages split: the page that queued
        // it and the folio's pages before the split.
        var splitTHPBlocks: [Int: (queuedAt: Int, folio: Set<Int>, flushed: Bool)] = [:]
        for (i, p) in (range.first..<range.end).enumerated() {
            if var split = splitTHPBlocks[p / Self.pmdPages] {
                let inFolio = split.folio.contains(p)
                let f = self[region].frame[p]
                let immediate = f <= Frames.zero || !s.frames.loc[Int(f)].isSystem
                if inFolio || (!split.flushed && immediate) {
                    // The next page of the folio finds it isolated (-EBUSY), and that or any
                    // status stored at once (a hole) makes do_pages_move flush the queue; the
                    // later pages see the split pages (zero page: -EFAULT; moved: the node).
                    v.primary[i] = inFolio && !split.flushed ? -Errno.EBUSY.rawValue : nodeStatus(pi, r, p)
                    v.extra[i] = nil
                    split.flushed = true
                    splitTHPBlocks[p / Self.pmdPages] = split
                    continue
                }
                // A page refaulted after a zap is no page of the folio: queued and moved on its own.
            }
            guard v.primary[i] >= 0 || v.extra[i] != nil else { continue }
            let f = self[region].frame[p]
            guard f > Frames.zero, s.frames.loc[Int(f)].isSystem else { continue }
            // __add_folio_for_migration: a folio already on the node is done (0) before the
            // shared-mapping check, so only a shared page elsewhere gives EACCES.
            let onNode = s.frames.loc[Int(f)].index == node
            if mapCount(f) > 1 && !onNode {
                v.primary[i] = -Errno.EACCES.rawValue
                v.extra[i] = nil
                continue
            }
            v.primary[i] = Int32(node)
            v.extra[i] = nil
            if self[region].flags[p].contains(.maybeDeviceExclusive) {
                v.allow(-Errno.ENOENT.rawValue, at: i)
                if x.resolve?.nodes?[i] == -Errno.ENOENT.rawValue {
                    // The page was part of a THP whose PTEs became device-exclusive entries.
                    self[region].flags[p].remove(.maybeDeviceExclusive)
                    self[region].flags[p].insert(.deviceExclusive)
                    continue
                }
            }
            if s.frames.bits[Int(f)].contains(.object) && aroundMappings(f) > 0 && !onNode {
                // Another mapping fault-around may have made: the mapcount may be 2.
                v.allow(-Errno.EACCES.rawValue, at: i)
                x.note("fault-around may have mapped this page-cache page elsewhere too: mapcount 2 gives EACCES")
                if x.resolve?.nodes?[i] == -Errno.EACCES.rawValue { continue }
            }
            if s.frames.loc[Int(f)].index != node && self[region].flags[p].contains(.thp) {
                let block = p / Self.pmdPages
                if exclusiveTHPBlocks[block] == nil { exclusiveTHPBlocks[block] = blockHasExclusiveEntries(pi, r, block) }
                if exclusiveTHPBlocks[block]! { x.hazard = Self.migrateExclusiveTHPHazard }
            }
            if self[region].flags[p].contains(.thp) {
                let block = p / Self.pmdPages
                if queuedTHPBlocks.contains(block) && !busyTHPBlocks.contains(block) {
                    // add_folio_for_migration: the folio is isolated already, -EBUSY; do_pages_move
                    // then migrates what it queued, so the folio's later pages are on the node.
                    busyTHPBlocks.insert(block)
                    v.allow(-Errno.EBUSY.rawValue, at: i)
                    x.note("move_pages: the next page of a THP queued for migration finds the folio isolated (-EBUSY), "
                        + "then the folio moves")
                } else if s.frames.loc[Int(f)].index != node {
                    queuedTHPBlocks.insert(block)
                    // do_pages_move -> migrate_pages moves the folio (add_folio_for_migration
                    // queued the whole large folio), or splits it first.
                    if let folio = migrateQueuedTHP(pi, r, p, to: node) {
                        splitTHPBlocks[block] = (p, folio, false)
                        continue
                    }
                }
            }
            if s.frames.loc[Int(f)].index != node {
                invalidate(pi, r, p)
                invalidateOthers(f, r, p)
                relocate(f, to: .system(node: UInt8(node)))
            }
        }
        x.variable = true
        return [Outcome(nodes: v)]
    }
}

