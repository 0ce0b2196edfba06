// Large folios (THPs) mapped by PTEs: what unmapping or copying one of their pages does to
// the rest of the folio.

extension Model {
    /// Whether (r, p) maps a page of a THP that is mapped by PTEs (its block in
    /// ``Region/splitBlocks``): a large folio whose pages fault, unmap and move one by one.
    func isPTEMappedTHPPage(_ pi: Int, _ r: Int, _ p: Int) -> Bool {
        let reg = self[RegionRef(pi, r)]
        return reg.flags[p].contains(.thp) && reg.splitBlocks.contains(p / Self.pmdPages) && reg.frame[p] > Frames.zero
    }

    /// The other pages of the THP holding (r, p) that this region still maps.
    func otherFolioPages(_ pi: Int, _ r: Int, _ p: Int) -> [Int] {
        let reg = self[RegionRef(pi, r)]
        let lo = p - p % Self.pmdPages
        return (lo..<min(lo + Self.pmdPages, reg.span)).filter { q in
            q != p && reg.flags[q].contains(.thp) && reg.frame[q] > Frames.zero && s.frames.bits[Int(reg.frame[q])].contains(.anon)
                && s.frames.loc[Int(reg.frame[q])].isSystem
        }
    }

    /// (r, p) is about to stop mapping frame `f` (zap, or a copy on write). __folio_remove_rmap:
    /// when that was the page's last mapping and other pages of its THP stay mapped, the folio
    /// is partially mapped and deferred_split_folio(folio, true) queues it (6.12: the folio's
    /// partially-mapped flag, which migrate_pages_batch reads). The other pages may be mapped
    /// in this region or, after an mremap, in another.
    mutating func notePartialUnmap(_ pi: Int, _ r: Int, _ p: Int, frame f: UInt32) {
        guard f > Frames.zero, self[RegionRef(pi, r)].flags[p].contains(.thp), mapCount(f) == 1,
              s.frames.bits[Int(f)].contains(.anon) else { return }
        let id = s.frames.folio[Int(f)]
        guard id != 0 else { return }
        s.frames.partiallyMappedFolios.insert(id)
    }

    /// do_wp_page on a page of a PTE-mapped THP that is not PageAnonExclusive: whether the
    /// write copies the page although no other process maps it (``Behaviour/wpCopiesLargeFolio``;
    /// 6.1 reuses it only at folio_ref_count 1, when no other page of the folio is mapped).
    mutating func writeCopiesLargeFolioPage(_ page: PageRef) -> Bool {
        let (pi, r, p) = (page.process, page.region, page.page)
        // Under the "pages are small" reading of a THP choice there is no large folio.
        guard !x.forceSmall, isPTEMappedTHPPage(pi, r, p) else { return false }
        let f = self[RegionRef(pi, r)].frame[p]
        guard s.frames.bits[Int(f)].contains(.anon), !s.frames.bits[Int(f)].contains(.anonExclusive) else { return false }
        guard profile.isOn(.wpCopiesLargeFolio) || !otherFolioPages(pi, r, p).isEmpty else { return false }
        x.note(profile.reason(.wpCopiesLargeFolio))
        return true
    }

    /// Every page that maps a page of the large folio holding frame `f`, in any region of any
    /// process (mremap moves part of a THP to another region; fork shares it); empty for a
    /// small page and for a THP read fault's zero pages.
    func folioMappings(of f: UInt32) -> [PageRef] {
        let id = s.frames.folio[Int(f)]
        guard id != 0 else { return [] }
        var out: [PageRef] = []
        for pi in s.procs.indices {
            for r in s.procs[pi].regions.indices {
                guard let reg = s.procs[pi].regions[r] else { continue }
                // A page split off the folio by the model lost .thp (its folio id stays).
                for q in 0..<reg.span where reg.frame[q] > Frames.zero && s.frames.folio[Int(reg.frame[q])] == id
                    && reg.flags[q].contains(.thp) {
                    out.append(PageRef(pi, r, q))
                }
            }
        }
        return out
    }

    /// move_pages queued the THP holding (r, p), which this region maps by PTEs, and
    /// migrate_pages moves it to `node`: the whole folio, its pages mapped in other regions
    /// too. A partially mapped folio is split first
    /// (``Behaviour/migrateSplitsPartiallyMappedTHP``): its zero-filled subpages become the
    /// shared zero page (``Behaviour/thpSplitMapsZeroSubpages``) and the others move as small
    /// pages. Returns this region's pages of the folio before the split, or nil when it moved
    /// whole.
    mutating func migrateQueuedTHP(_ pi: Int, _ r: Int, _ p: Int, to node: Int) -> Set<Int>? {
        let region = RegionRef(pi, r)
        let f = self[region].frame[p]
        var pages = folioMappings(of: f).filter { !self[flagsOf: $0].overlaps(.anyDeviceExclusive) }
        if pages.isEmpty {
            pages = ([p] + otherFolioPages(pi, r, p)).map { PageRef(pi, r, $0) }
                .filter { !self[flagsOf: $0].overlaps(.anyDeviceExclusive) }
        }
        let local = Set(pages.filter { $0.process == pi && $0.region == r }.map(\.page))
        let split = self[region].splitBlocks.contains(p / Self.pmdPages) && s.frames.isInPartiallyMappedFolio(f)
            && profile.isOn(.migrateSplitsPartiallyMappedTHP)
        if split {
            x.note(profile.reason(.migrateSplitsPartiallyMappedTHP))
            var blocks = Set<RegionBlock>()
            for page in pages { blocks.insert(RegionBlock(page: page)) }
            for b in blocks {
                let range = (b.block * Self.pmdPages)..<min((b.block + 1) * Self.pmdPages, self[b.region].span)
                if profile.isOn(.thpSplitMapsZeroSubpages) {
                    mapZeroSubpagesAfterSplit(b.region, range)
                }
                for q in range { self[b.region].flags[q].remove(.thp) }
                self[b.region].splitBlocks.remove(b.block)
            }
        }
        var moved = false
        for page in pages {
            let g = self[frameOf: page]
            guard g > Frames.zero, s.frames.loc[Int(g)].isSystem, s.frames.loc[Int(g)].index != node else { continue }
            invalidate(page)
            invalidateOthers(g, page.region, page.page)
            relocate(g, to: .system(node: UInt8(node)))
            moved = true
        }
        // A folio moved whole while some of it is mapped by PTEs comes out partially mapped:
        // try_to_migrate_one unmaps its PTEs one by one, and the first folio_remove_rmap_pte
        // with other pages still mapped marks the source (__folio_remove_rmap ->
        // deferred_split_folio(folio, true)); migrate_folio_move requeues the destination with
        // that flag (deferred_split_folio(dst, src_partially_mapped)), so the next migration
        // splits it (6.12).
        let pteMapped = pages.contains { self[RegionRef($0.process, $0.region)].splitBlocks.contains($0.page / Self.pmdPages) }
        if !split, moved, pages.count > 1, pteMapped {
            let id = s.frames.folio[Int(f)]
            if id != 0 { s.frames.partiallyMappedFolios.insert(id) }
        }
        return split ? local : nil
    }
}

/// One PMD block of one region.
struct RegionBlock: Hashable {
    var region: RegionRef
    var block: Int

    init(page: PageRef) {
        region = RegionRef(page.process, page.region)
        block = page.page / Model.pmdPages
    }
}
