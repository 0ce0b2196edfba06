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
    /// is partially mapped and deferred_split_folio(folio, true) queues it (6.12: the flag
    /// ``FrameBits/partiallyMapped``, which migrate_pages_batch reads).
    mutating func notePartialUnmap(_ pi: Int, _ r: Int, _ p: Int, frame f: UInt32) {
        guard f > Frames.zero, self[RegionRef(pi, r)].flags[p].contains(.thp), mapCount(f) == 1,
              s.frames.bits[Int(f)].contains(.anon) else { return }
        for q in otherFolioPages(pi, r, p) {
            s.frames.bits[Int(self[RegionRef(pi, r)].frame[q])].insert(.partiallyMapped)
        }
    }

    /// do_wp_page on a page of a PTE-mapped THP that is not PageAnonExclusive: whether the
    /// write copies the page although no other process maps it (``Behaviour/wpCopiesLargeFolio``;
    /// 6.1 reuses it only at folio_ref_count 1, when no other page of the folio is mapped).
    mutating func writeCopiesLargeFolioPage(_ page: PageRef) -> Bool {
        let (pi, r, p) = (page.process, page.region, page.page)
        guard isPTEMappedTHPPage(pi, r, p) else { return false }
        let f = self[RegionRef(pi, r)].frame[p]
        guard s.frames.bits[Int(f)].contains(.anon), !s.frames.bits[Int(f)].contains(.anonExclusive) else { return false }
        guard profile.isOn(.wpCopiesLargeFolio) || !otherFolioPages(pi, r, p).isEmpty else { return false }
        x.note(profile.reason(.wpCopiesLargeFolio))
        return true
    }

    /// move_pages queued the THP holding (r, p), which this region maps by PTEs, and
    /// migrate_pages moves it to `node`. A partially mapped folio is split first
    /// (``Behaviour/migrateSplitsPartiallyMappedTHP``): its zero-filled subpages become the
    /// shared zero page (``Behaviour/thpSplitMapsZeroSubpages``) and the others move as small
    /// pages. Otherwise the folio moves whole, its pages outside the range too. Returns the
    /// pages of the folio before the split, or nil when it moved whole.
    mutating func migrateQueuedTHP(_ pi: Int, _ r: Int, _ p: Int, to node: Int) -> Set<Int>? {
        let region = RegionRef(pi, r)
        let f = self[region].frame[p]
        let folio = [p] + otherFolioPages(pi, r, p).filter { !self[region].flags[$0].overlaps(.anyDeviceExclusive) }
        let block = p / Self.pmdPages
        let split = self[region].splitBlocks.contains(block) && s.frames.bits[Int(f)].contains(.partiallyMapped)
            && profile.isOn(.migrateSplitsPartiallyMappedTHP)
        if split {
            x.note(profile.reason(.migrateSplitsPartiallyMappedTHP))
            let lo = block * Self.pmdPages
            if profile.isOn(.thpSplitMapsZeroSubpages) { mapZeroSubpagesAfterSplit(pi, r, lo..<min(lo + Self.pmdPages, self[region].span)) }
            for q in lo..<min(lo + Self.pmdPages, self[region].span) { self[region].flags[q].remove(.thp) }
            self[region].splitBlocks.remove(block)
        }
        for q in folio {
            let g = self[region].frame[q]
            guard g > Frames.zero, s.frames.loc[Int(g)].isSystem, s.frames.loc[Int(g)].index != node else { continue }
            invalidate(pi, r, q)
            invalidateOthers(g, r, q)
            relocate(g, to: .system(node: UInt8(node)))
        }
        return split ? Set(folio) : nil
    }
}
