import HMMSystem
import HMMUAPI

/// The dmirror ioctls, as lib/test_hmm.c (dmirror_fops_unlocked_ioctl and the functions it calls) implements them.
extension Model {
    mutating func doIoctl(_ c: IoctlCall) -> [Outcome] {
        let pi = s.current
        let minor = s.procs[pi].mirrors[c.fd]!.minor
        guard profile.uapi.number(of: c.command) != nil else {
            x.note("\(c.command.uapiName) is not in the \(profile.uapi.rawValue) UAPI: the module answers an unknown command with EINVAL")
            return [.failure(Errno.EINVAL.rawValue)]
        }
        if c.misalign % 4096 != 0 {
            x.note("addr not page aligned: EINVAL before dispatch")
            return [.failure(Errno.EINVAL.rawValue)]
        }
        if c.range.count == 0 {
            x.note("npages == 0 fails the addr >= addr + size check: EINVAL")
            return [.failure(Errno.EINVAL.rawValue)]
        }
        let done = Outcome(cpages: 0, faults: 0...0)
        switch c.command {
        case .read:
            return deviceAccess(pi, c.fd, minor, c.range, write: false, data: [])
        case .write:
            return deviceAccess(pi, c.fd, minor, c.range, write: true, data: c.data)
        case .migrateToDevice:
            return migrateToDevice(pi, c.fd, minor, c.range)
        case .migrateToSystem:
            return migrateToSystem(pi, c.fd, minor, c.range)
        case .snapshot:
            return [Outcome(cpages: UInt64(c.range.count), faults: 0...0, snapshot: snapshot(pi, minor, c.range))]
        case .exclusive:
            return exclusive(pi, c.fd, minor, c.range)
        case .checkExclusive:
            let r = c.range.region
            for p in c.range.first..<c.range.end where entry(pi, c.fd, r, p).tag == .atomic {
                return [.failure(Errno.EPERM.rawValue)]
            }
            return [done]
        case .release:
            evict(minor: minor)
            return [done]
        case .flags:
            return [done]
        }
    }

    /// First page after `page` where the VMA changes (or the span ends), looking no further than `limit`.
    func vmaEnd(_ page: PageRef, limit: Int) -> Int {
        let region = self[regionOf: page]
        let stop = min(region.span, limit)
        var next = page.page + 1
        while next < stop && region.sameVMA(page.page, next) { next += 1 }
        return next
    }

    /// The 2 MiB blocks (page index / 512) with a page of `pages` marked THP.
    func thpBlocks(_ region: RegionRef, _ pages: Range<Int>) -> Set<Int> {
        Set(pages.filter { self[region].flags[$0].contains(.thp) }.map { $0 / Self.pmdPages })
    }

    static let ownPrivateHazard = "test_hmm stores the DEVICE_PRIVATE struct page itself in the mirror (hmm_range_fault reports "
        + "own-device pages without faulting) and then copies from it, but device-private memory has no kernel mapping: expect an oops [I]"

    // MARK: READ / WRITE

    mutating func deviceAccess(_ pi: Int, _ fd: Int, _ minor: Int, _ range: PageRange, write: Bool, data: [UInt64]) -> [Outcome] {
        let r = range.region
        let region = RegionRef(pi, r)
        let end = range.end
        if !write, let obs = x.resolve { resolveLazyFree(pi, r, range.first..<end, observed: obs.tokens) }
        var pos = range.first
        var faults: UInt64 = 0
        // Blocks PMD-mapped (THP or huge zero page, not split) before the fault: a write fault
        // splits them (the copy it then makes is a small page), which may cost extra rounds below.
        let thpBlocksBefore = thpBlocks(region, range.first..<end).subtracting(self[region].splitBlocks)
        while true {
            while pos < end {
                let e = entry(pi, fd, r, pos)
                if e.tag == .absent || (write && e.tag != .write) {
                    notePastEnd(pi, fd, r, pos, "\(write ? "WRITE" : "READ") faults again at r\(r) page \(pos)")
                    break
                }
                if e.stale {
                    x.hazard = "mirror entry of f\(fd) for r\(r) page \(pos) is stale: a migration owned by device \(minor) does not "
                        + "invalidate that device's other mirrors, so test_hmm would copy a freed page"
                }
                pos += 1
            }
            if pos == end { break }
            let err = mirrorFault(pi, fd, minor, r, pos, end, write: write)
            if err != 0 {
                if write && pos > range.first {
                    // dmirror_do_write copies page by page from the start and stops at the first
                    // page missing from the mirror; the fault that follows fails, but the pages
                    // before it already hold the new data.
                    x.note("WRITE stored pages \(range.first)..<\(pos) before the fault for page \(pos) failed: they keep the new data")
                    for (i, p) in (range.first..<pos).enumerated() {
                        s.frames.token[Int(entry(pi, fd, r, p).frame)] = data[i]
                    }
                }
                return [.failure(err)]
            }
            faults += 1
        }
        var upper = faults
        let splitting = thpBlocksBefore.union(thpBlocks(region, range.first..<end))
        if !splitting.isEmpty && write {
            upper += UInt64(splitting.count)
            x.note("splitting a huge zero page or THP mapping invalidates the whole PMD range, which can cost extra fault rounds")
        }
        let lower = faults
        if write {
            for (i, p) in (range.first..<end).enumerated() {
                let e = entry(pi, fd, r, p)
                s.frames.token[Int(e.frame)] = data[i]
            }
            return [Outcome(cpages: UInt64(range.count), faults: lower...upper)]
        }
        var values = PageValues<UInt64>((range.first..<end).map { p in s.frames.token[Int(entry(pi, fd, r, p).frame)] })
        lazyAlternatives(pi, r, range.first..<end, &values)
        return [Outcome(cpages: UInt64(range.count), faults: lower...upper, tokens: values)]
    }

    /// `dmirror_fault`: hmm_range_fault over [start, end) in chunks, then store the pages.
    mutating func mirrorFault(_ pi: Int, _ fd: Int, _ minor: Int, _ r: Int, _ start: Int, _ end: Int, write: Bool) -> Int32 {
        let region = RegionRef(pi, r)
        let chunk = profile.faultChunk
        var a = start
        while a < end {
            let cEnd = min(end, a + chunk)
            var p = a
            var retries = 0
            while p < cEnd {
                let fl = self[region].flags[p]
                if !fl.contains(.mapped) || !fl.contains(.read) { return Errno.EFAULT.rawValue }
                let f = self[region].frame[p]
                let priv = f > Frames.zero && s.frames.loc[Int(f)].isDevicePrivate && !fl.contains(.deviceExclusive)
                if priv && s.frames.loc[Int(f)].index == minor { p += 1; continue }
                var need = f == Frames.none || fl.overlaps(.anyDeviceExclusive) || priv
                if !need && write && !fl.contains(.pteWrite) { need = true }
                if !need { p += 1; continue }
                if write && !fl.contains(.write) { return Errno.EPERM.rawValue }
                let segEnd = vmaEnd(PageRef(pi, r, p), limit: min(cEnd, (p / Self.pmdPages + 1) * Self.pmdPages))
                // hmm_vma_fault faults [p, segEnd), which brings this device's own private
                // pages there back. But if fault-around may have mapped p, the walk may not
                // fault at all and reach them mapped: the READ oops is possible.
                if f == Frames.none && self[region].aroundMaybe.contains(p)
                    && (p + 1..<segEnd).contains(where: { isOwnPrivate(region, $0, minor: minor) }) {
                    x.hazard = Self.ownPrivateHazard
                }
                for q in p..<segEnd where cpuFault(PageRef(pi, r, q), write: write) != 0 { return Errno.EFAULT.rawValue }
                retries += 1
                if retries > 2 { p += 1; retries = 0 }
            }
            for q in a..<cEnd {
                let f = self[region].frame[q]
                let writable = self[region].flags[q].contains(.pteWrite)
                let own = f > Frames.zero && s.frames.loc[Int(f)].isDevicePrivate
                if write && !writable {
                    x.warning = "WARN_ON(range->default_flags & HMM_PFN_WRITE) in dmirror_do_fault: a read-only device-private entry of "
                        + "this device is reported without a write fault"
                    return Errno.EFAULT.rawValue
                }
                if own { x.hazard = Self.ownPrivateHazard }
                store(pi, fd, r, q, frame: f, tag: writable ? .write : .read)
            }
            a = cEnd
        }
        return 0
    }

    /// Whether page `p` maps a device-private page of device `minor` (not an exclusive entry).
    func isOwnPrivate(_ region: RegionRef, _ p: Int, minor: Int) -> Bool {
        let f = self[region].frame[p]
        guard f > Frames.zero, !self[region].flags[p].contains(.deviceExclusive) else { return false }
        let l = s.frames.loc[Int(f)]
        return l.isDevicePrivate && l.index == minor
    }

    /// Reads the range back from the mirror (`dmirror_do_read`): ENOENT when an entry is missing.
    mutating func readBack(_ pi: Int, _ fd: Int, _ range: PageRange) -> [Outcome] {
        var tokens: [UInt64] = []
        tokens.reserveCapacity(range.count)
        for p in range.first..<range.end {
            let e = entry(pi, fd, range.region, p)
            if e.tag == .absent {
                notePastEnd(pi, fd, range.region, p, "ENOENT from the read-back")
                return [.failure(Errno.ENOENT.rawValue)]
            }
            if e.stale { x.hazard = "stale mirror entry for r\(range.region) page \(p): test_hmm would copy a freed page" }
            tokens.append(s.frames.token[Int(e.frame)])
        }
        return [Outcome(cpages: UInt64(range.count), faults: 0...0, tokens: PageValues(tokens))]
    }

    // MARK: MIGRATE_TO_DEV / MIGRATE_TO_SYS

    mutating func migrateToDevice(_ pi: Int, _ fd: Int, _ minor: Int, _ range: PageRange) -> [Outcome] {
        let r = range.region
        let region = RegionRef(pi, r)
        let end = range.end
        let coherent = minor >= 2
        let dl: FrameLocation = coherent ? .deviceCoherent(minor: minor) : .devicePrivate(minor: minor)
        let kind = self[region].kind
        var a = range.first
        while a < end {
            let fl0 = self[region].flags[a]
            if !fl0.contains(.mapped) || !fl0.contains(.read) {
                x.note("migrate walks VMA by VMA: a hole or a VMA without VM_READ gives EINVAL (earlier chunks stay migrated)")
                return [.failure(Errno.EINVAL.rawValue)]
            }
            if kind == .hugetlb {
                x.note("migrate_vma_setup rejects hugetlb VMAs: EINVAL")
                return [.failure(Errno.EINVAL.rawValue)]
            }
            let next = vmaEnd(PageRef(pi, r, a), limit: min(end, a + profile.migrateChunk))
            invalidate(pi, r, a..<next, exemptMinor: minor)
            if !profile.isOn(.deviceTHP) { splitPMDMappedTHPs(RegionRef(pi, r), a..<next) }
            var touchedBlocks = Set<Int>()
            for p in a..<next {
                let fl = self[region].flags[p]
                let f = self[region].frame[p]
                if fl.contains(.deviceExclusive) { continue }
                if fl.contains(.maybeDeviceExclusive) && !x.forceSmall {
                    // A device-exclusive entry (if the page was part of a THP) is not collected.
                    x.thpChoice = true
                    continue
                }
                let writable: Bool
                if f == Frames.none {
                    guard kind == .anonPrivate else { continue }
                    writable = fl.contains(.write)
                } else if f == Frames.zero {
                    writable = fl.contains(.write)
                } else {
                    let l = s.frames.loc[Int(f)]
                    if l.isDevice { continue }
                    if !s.frames.bits[Int(f)].contains(.anon) {
                        // A page-cache or shmem page is collected (it has a mapping) and
                        // try_to_migrate unmaps it everywhere; migrate_vma_pages then refuses
                        // it (only anonymous memory goes to a device) and the PTEs come back
                        // as they were, but every other mapping's mirrors were invalidated.
                        if !fl.contains(.thp) {
                            invalidateOtherMappings(of: f, except: pi, r, p)
                            x.note("migrate_vma unmaps a shared or file page from every mapping before refusing it: other mappings' "
                                + "mirrors of it are invalidated")
                        }
                        continue
                    }
                    if fl.contains(.thp) && self[region].splitBlocks.contains(p / Self.pmdPages)
                        && profile.isOn(.migrateSkipsPTEMappedTHP) && !x.forceSmall {
                        x.thpChoice = true
                        x.note(profile.reason(.migrateSkipsPTEMappedTHP))
                        continue
                    }
                    writable = fl.contains(.pteWrite)
                }
                // A block mapped by PTEs already (a VMA split, a zap, an mremap) is not split
                // again: migrate_vma_collect_pmd calls split_folio only under pmd_trans_huge, so
                // a zero-page PTE or a hole there migrates alone and a THP beside it stays whole.
                let pteMappedBlock = self[region].splitBlocks.contains(p / Self.pmdPages) && !x.forceSmall
                if fl.contains(.thp) && !pteMappedBlock { touchedBlocks.insert(p / Self.pmdPages) }
                if coherent && s.coherentUsed[minor] >= environment.coherentCapacity {
                    x.note("coherent device \(minor) is full (one 256 MiB chunk): pages stay, read-back gives ENOENT")
                    continue
                }
                var nf = f
                if f <= Frames.zero {
                    // migrate_vma_insert_page maps a coherent page writable and dirty when the VMA is writable.
                    var bits: FrameBits = [.anon, .anonExclusive]
                    if coherent && writable { bits.insert(.dirty) }
                    nf = s.frames.alloc(token: 0, loc: dl, bits: bits)
                    if coherent { s.coherentUsed[minor] += 1 }
                    self[region].prepareAnonVMA(at: p)
                    // migrate_vma_insert_page: pte_alloc for a hole (the PMD was none).
                    self[region].pteTables.insert(p / Self.pmdPages)
                    self[region].frame[p] = nf
                } else {
                    invalidateOthers(f, r, p)
                    relocate(f, to: dl)
                    s.frames.bits[Int(f)].remove(.lazyFree)
                }
                if !coherent { s.frames.owner[Int(nf)] = UInt32(pi << 8 | fd) + 1 }
                self[region].flags[p].set(.pteWrite, writable)
                if pteMappedBlock { self[region].flags[p].remove(.thp) }
                store(pi, fd, r, p, frame: nf, tag: writable ? .write : .read)
            }
            if !profile.isOn(.deviceTHP) {
                // The THP (or huge zero page) was split: its pages are small now.
                for b in touchedBlocks {
                    let lo = b * Self.pmdPages
                    let hi = min(lo + Self.pmdPages, self[region].span)
                    if profile.isOn(.thpSplitMapsZeroSubpages) { mapZeroSubpagesAfterSplit(RegionRef(pi, r), lo..<hi) }
                    for q in lo..<hi { self[region].flags[q].remove(.thp) }
                    self[region].splitBlocks.remove(b)
                }
            }
            a = next
        }
        let out = readBack(pi, fd, range)
        if out[0].errno == Errno.ENOENT.rawValue {
            x.note("MIGRATE_TO_DEV reads the range back from this fd's mirror: pages not migrated (shared/file pages, pages on another "
                + "device, exclusive entries) give ENOENT")
        }
        return out
    }

    /// migrate_vma_collect_pmd splits each PMD-mapped anonymous THP it walks into before it
    /// collects any page of it (MIGRATE_TO_DEV and MIGRATE_TO_SYS alike), so a zero-filled
    /// subpage is collected as the zero page (and migrates to a device page writable as the
    /// VMA is).
    mutating func splitPMDMappedTHPs(_ region: RegionRef, _ walk: Range<Int>) {
        guard !walk.isEmpty else { return }
        let span = self[region].span
        for blockIndex in (walk.lowerBound / Self.pmdPages)...((walk.upperBound - 1) / Self.pmdPages) {
            let block = (blockIndex * Self.pmdPages)..<min((blockIndex + 1) * Self.pmdPages, span)
            guard !self[region].splitBlocks.contains(blockIndex),
                  block.contains(where: { self[region].flags[$0].contains(.thp) }) else { continue }
            // split_folio splits the folio, not this mapping: every other mapping of it (the
            // PMD a fork left in the parent or child, pages an mremap moved) is unmapped and
            // remapped by PTEs as well (unmap_folio, remap_page).
            let here = RegionBlock(page: region.at(block.lowerBound))
            var blocks: Set<RegionBlock> = [here]
            if let mapped = block.first(where: { self[region].flags[$0].contains(.thp) && self[region].frame[$0] > Frames.zero }) {
                for mapping in folioMappings(of: self[region].frame[mapped]) { blocks.insert(RegionBlock(page: mapping)) }
            }
            for rb in blocks {
                let range = (rb.block * Self.pmdPages)..<min((rb.block + 1) * Self.pmdPages, self[rb.region].span)
                if rb != here {
                    // unmap_folio -> try_to_migrate_one (TTU_SPLIT_HUGE_PMD): a CLEAR notifier over
                    // the other mapping's block drops its mirror entries.
                    splitPMDNotifier(rb.region.process, rb.region.region, range, note: "migrate_vma's split_folio unmaps "
                        + "r\(rb.region.region) pages \(range.lowerBound)..<\(range.upperBound) of process \(rb.region.process) "
                        + "too (unmap_folio): their mirror entries go")
                }
                if profile.isOn(.thpSplitMapsZeroSubpages) {
                    mapZeroSubpagesAfterSplit(rb.region, range)
                }
                for page in range { self[rb.region].flags[page].remove(.thp) }
                self[rb.region].splitBlocks.remove(rb.block)
            }
        }
    }

    /// split_folio of a PMD-mapped anonymous THP (migrate_vma_collect_pmd) unmaps it with a
    /// CLEAR notifier over the whole block and maps it back page by page; a zero-filled
    /// subpage comes back as the shared zero page, read-only.
    mutating func mapZeroSubpagesAfterSplit(_ region: RegionRef, _ block: Range<Int>) {
        var zeroed = 0
        for index in block {
            let page = region.at(index)
            let flags = self[flagsOf: page]
            let frame = self[frameOf: page]
            guard flags.contains(.thp), !flags.contains(.deviceExclusive), frame > Frames.zero else { continue }
            let slot = Int(frame)
            guard s.frames.loc[slot].isSystem, s.frames.bits[slot].contains(.anon), s.frames.token[slot] == 0 else { continue }
            invalidate(page)
            invalidateOtherMappings(of: frame, except: page.process, page.region, index)
            release(frame)
            self[frameOf: page] = Frames.zero
            self[flagsOf: page].remove(.pteWrite)
            zeroed += 1
        }
        if zeroed > 0 { x.note(profile.reason(.thpSplitMapsZeroSubpages)) }
    }

    mutating func migrateToSystem(_ pi: Int, _ fd: Int, _ minor: Int, _ range: PageRange) -> [Outcome] {
        let r = range.region
        let region = RegionRef(pi, r)
        let end = range.end
        let select: FrameLocation = minor >= 2 ? .deviceCoherent(minor: minor) : .devicePrivate(minor: minor)
        var cpages: UInt64 = 0
        var a = range.first
        while a < end {
            let fl0 = self[region].flags[a]
            if !fl0.contains(.mapped) || !fl0.contains(.read) || self[region].kind == .hugetlb {
                return [.failure(Errno.EINVAL.rawValue)]
            }
            let next = vmaEnd(PageRef(pi, r, a), limit: min(end, a + profile.migrateChunk))
            invalidate(pi, r, a..<next, exemptMinor: minor)
            // migrate_vma_setup's walk splits THPs whatever the selection: MIGRATE_TO_SYS too.
            if !profile.isOn(.deviceTHP) { splitPMDMappedTHPs(RegionRef(pi, r), a..<next) }
            for p in a..<next {
                let f = self[region].frame[p]
                guard f > Frames.zero, !self[region].flags[p].contains(.deviceExclusive) else { continue }
                let l = s.frames.loc[Int(f)]
                guard l == select else { continue }
                if let m = s.procs[pi].mirrors[fd], r < m.pt.count, m.pt[r] != nil {
                    self[mirrorOf: fd, region].tag[p] = .absent
                }
                invalidateOthers(f, r, p)
                relocate(f, to: returnLoc(PageRef(pi, r, p)))
                cpages += 1
            }
            a = next
        }
        return [Outcome(cpages: cpages, faults: 0...0)]
    }

    // MARK: SNAPSHOT

    func snapshot(_ pi: Int, _ minor: Int, _ range: PageRange) -> PageValues<UInt8> {
        let r = range.region
        let region = RegionRef(pi, r)
        var v = PageValues<UInt8>([UInt8](repeating: 0, count: range.count))
        let reg = self[region]
        for (i, p) in (range.first..<range.end).enumerated() {
            let bytes = snapshotBytes(reg, minor, p)
            v.primary[i] = bytes[0]
            for b in bytes.dropFirst() { v.allow(b, at: i) }
        }
        return v
    }

    func snapshotBytes(_ reg: Region, _ minor: Int, _ p: Int) -> [UInt8] {
        let fl = reg.flags[p]
        if !fl.contains(.mapped) || !fl.contains(.read) { return [0xFF] }
        let f = reg.frame[p]
        let acc: UInt8 = fl.contains(.pteWrite) ? 0x02 : 0x01
        var out: [UInt8]
        if fl.contains(.deviceExclusive) || f == Frames.none {
            out = [0x00]
            if f == Frames.none && reg.aroundMaybe.contains(p), let o = Optional(reg.objectOffset + p),
               o < s.objects[reg.object].size, s.objects[reg.object].frames[o] != Frames.none {
                // Mapped by fault-around, maybe: a system page with the PTE a read fault makes.
                out += writesNotified(reg.kind) ? [0x01, 0x02] : [aroundWritable(reg, p) ? 0x02 : 0x01]
            }
        } else if reg.kind == .hugetlb {
            out = [acc | 0x04]
        } else if f == Frames.zero {
            out = [0x11]
        } else {
            let l = s.frames.loc[Int(f)]
            if l.isDevicePrivate {
                out = [l.index == minor ? 0x20 | acc : 0x00]
            } else if l.isDeviceCoherent {
                out = [(l.index == minor ? 0x40 : 0x50) | acc]
            } else {
                out = [acc]
                if writesNotified(reg.kind) && fl.contains(.write) { out = [acc, acc == 1 ? 2 : 1] }
                if s.frames.bits[Int(f)].contains(.lazyFree) { out.append(0x00) }
            }
        }
        if fl.contains(.thp) {
            for b in out where b != 0x00 && b != 0xFF && b & 0xF0 != 0x10 { if !out.contains(b | 0x04) { out.append(b | 0x04) } }
            let zeroContent = f == Frames.zero || (f > Frames.zero && s.frames.token[Int(f)] == 0 && !s.frames.loc[Int(f)].isDevice)
            if zeroContent { for b: UInt8 in [0x00, 0x11, 0x05] where !out.contains(b) { out.append(b) } }
        }
        if fl.contains(.maybeDeviceExclusive) && !out.contains(0x00) { out.append(0x00) }
        return out
    }

    // MARK: EXCLUSIVE

    mutating func exclusive(_ pi: Int, _ fd: Int, _ minor: Int, _ range: PageRange) -> [Outcome] {
        let r = range.region
        let region = RegionRef(pi, r)
        let end = range.end
        let perPage = profile.exclusiveChunk == 1
        let chunk = profile.exclusiveChunk
        let kind = self[region].kind
        let headsOnly = profile.isOn(.exclusiveBusyOnTHP) && !x.forceSmall
        var a = range.first
        while a < end {
            let cEnd = min(end, a + chunk)
            // get_user_pages_remote(FOLL_WRITE | FOLL_SPLIT_PMD) pins pages up to the first
            // it cannot fault; the pinned ones are converted even when the chunk then fails.
            var got = a
            while got < cEnd {
                let fl = self[region].flags[got]
                if !fl.contains(.mapped) || !fl.contains(.read) || !fl.contains(.write) { break }
                if headsOnly { gupSplitPMD(PageRef(pi, r, got)) }
                if cpuFault(PageRef(pi, r, got), write: true) != 0 { break }
                got += 1
            }
            var converted: [Int] = []
            var all = got == cEnd
            for p in a..<got {
                let f = self[region].frame[p]
                let fl = self[region].flags[p]
                let convertible = f > Frames.zero && s.frames.bits[Int(f)].contains(.anon) && kind != .hugetlb
                    && !s.frames.loc[Int(f)].isDevicePrivate
                if convertible && fl.contains(.thp) && headsOnly {
                    x.thpChoice = true
                    x.note(profile.reason(.exclusiveBusyOnTHP))
                    if p % Self.pmdPages != 0 {
                        all = false
                    } else if convertLargeFolio(RegionRef(pi, r), head: p) {
                        converted.append(p)
                    } else {
                        all = false
                    }
                    continue
                }
                if convertible {
                    self[region].flags[p].insert(.deviceExclusive)
                    invalidate(pi, r, p)
                    converted.append(p)
                } else {
                    all = false
                }
            }
            if headsOnly {
                // FOLL_SPLIT_PMD: a pinned THP stays a large folio, mapped by PTEs now.
                for p in a..<got where self[region].flags[p].contains(.thp) {
                    self[region].splitBlocks.insert(p / Self.pmdPages)
                }
            }
            // dmirror_atomic_map maps the converted pages only when every page was pinned,
            // and it does so before the chunk's EBUSY.
            if got == cEnd {
                for p in converted {
                    store(pi, fd, r, p, frame: self[region].frame[p], tag: .atomic)
                }
            }
            if !all {
                if perPage {
                    x.note("make_device_exclusive() error codes for unmapped or non-anonymous pages are not confirmed [U]")
                    return [.failure(Errno.EBUSY.rawValue), .failure(Errno.EFAULT.rawValue), .failure(Errno.EOPNOTSUPP.rawValue)]
                }
                x.note("EXCLUSIVE converts 64-page chunks with make_device_exclusive_range; a chunk with a page it cannot convert (hole, "
                    + "read-only, shared or file page, hugetlb, a THP's tail page) gives EBUSY")
                return [.failure(Errno.EBUSY.rawValue)]
            }
            a = cEnd
        }
        return readBack(pi, fd, range)
    }

    /// FOLL_SPLIT_PMD: follow_pmd_mask splits a PMD-mapped THP (split_huge_pmd, whose MMU
    /// notifier covers the block) before it checks the write permission, so a later write
    /// fault on a page of it is a PTE fault (do_wp_page), not do_huge_pmd_wp_page.
    mutating func gupSplitPMD(_ page: PageRef) {
        let blockIndex = page.page / Self.pmdPages
        guard self[flagsOf: page].contains(.thp), self[frameOf: page] != Frames.none,
              !self[regionOf: page].splitBlocks.contains(blockIndex) else { return }
        let block = (blockIndex * Self.pmdPages)..<min((blockIndex + 1) * Self.pmdPages, self[regionOf: page].span)
        self[regionOf: page].splitBlocks.insert(blockIndex)
        splitPMDNotifier(page.process, page.region, block, note: "EXCLUSIVE's get_user_pages(FOLL_SPLIT_PMD) splits the PMD of "
            + "r\(page.region) pages "
            + "\(block.lowerBound)..<\(block.upperBound) (follow_pmd_mask -> split_huge_pmd): their mirror entries go")
    }

    /// folio_make_device_exclusive of a THP's head page: the rmap walk turns every PTE of
    /// the folio into a device-exclusive entry, in order, and stops at the first entry that
    /// is not present; it succeeds when no PTE of the folio is left mapped. If the pages
    /// were small after all, only the head page was converted, so the others are
    /// `exclMaybe`.
    mutating func convertLargeFolio(_ region: RegionRef, head: Int) -> Bool {
        let block = head..<min(head + Self.pmdPages, self[region].span)
        invalidate(region.process, region.region, block)
        self[region].flags[head].insert(.deviceExclusive)
        var walkStopped = false
        var leftMapped = false
        for page in block.dropFirst() {
            let flags = self[region].flags[page]
            guard flags.contains(.thp), flags.contains(.mapped), self[region].frame[page] > Frames.zero else { continue }
            if flags.overlaps(.anyDeviceExclusive) { walkStopped = true; continue }
            if walkStopped { leftMapped = true; continue }
            self[region].flags[page].insert(.maybeDeviceExclusive)
            s.uncertain = true
        }
        return !leftMapped
    }
}
