import HMMUAPI

/// A behaviour of the kernel that differs between kernel families. Its raw value is the
/// switch's name in text (notes, messages, reasons); the model branches on the case, so a
/// misspelt switch does not compile.
public enum Behaviour: String, CaseIterable, Sendable, Hashable, CustomStringConvertible {
    /// EXCLUSIVE fails with EBUSY when a chunk contains part of a large folio.
    case exclusiveBusyOnTHP = "exclusive-busy-on-thp"
    /// migrate_vma can move a PMD-sized folio to a device folio (SELECT_COMPOUND).
    case deviceTHP = "device-thp-migration"
    /// MIGRATE_TO_DEV skips (does not migrate) pages of PTE-mapped large folios.
    case migrateSkipsPTEMappedTHP = "migrate-skips-pte-mapped-thp"
    /// move_pages(2) reports -EFAULT, not -ENOENT, for a page of an anonymous private VMA
    /// that has never been populated (or was zapped).
    case movePagesHoleIsEFAULT = "move-pages-hole-efault"
    /// mprotect to read-write makes an exclusive anonymous page's PTE writable only if the PTE
    /// is dirty (otherwise the first write faults).
    case mprotectUpgradeNeedsDirty = "mprotect-upgrade-needs-dirty"
    /// Splitting an anonymous THP maps its zero-filled subpages to the shared zero page.
    case thpSplitMapsZeroSubpages = "thp-split-maps-zero-subpages"
    /// Migration entries keep the young/dirty bits of the PTE they replace, so a migrated page
    /// (system <-> coherent, move_pages) is mapped dirty again if it was dirty before.
    case migrationKeepsDirty = "migration-entry-keeps-dirty"
    /// A mirror invalidation also drops the mirror entry of the page right after the range.
    case invalidateOnePastEnd = "mirror-invalidate-one-past-end"
    /// migrate_pages splits a partially mapped THP (one on the deferred split queue) before it
    /// migrates it, instead of moving the large folio whole.
    case migrateSplitsPartiallyMappedTHP = "migrate-splits-partially-mapped-thp"
    /// A write fault on a read-only PTE of a large folio never reuses the page: it copies it.
    case wpCopiesLargeFolio = "wp-copies-large-folio"

    /// The name in text.
    public var description: String { rawValue }
}

/// A behaviour of the kernel that differs between profiles, with the reason it does.
public struct BehaviourSwitch: Sendable, Hashable {
    public var behaviour: Behaviour
    public var enabled: Bool
    public var reason: String

    public init(_ behaviour: Behaviour, enabled: Bool, reason: String) {
        self.behaviour = behaviour
        self.enabled = enabled
        self.reason = reason
    }

    /// The switch's name in text (``Behaviour/rawValue``).
    public var name: String { behaviour.rawValue }
}

/// What a family of kernels does, as far as the model is concerned: the UAPI generation
/// plus behaviour switches. Select one by name (`linux-6.1`, `linux-6.12`,
/// `thp-migration`) or from a release string (``forRelease(_:)``).
public struct KernelProfile: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var uapi: UAPIGeneration
    /// The oldest release the profile describes.
    public var since: KernelVersion
    public var switches: [BehaviourSwitch]

    public var description: String { name }

    public static func == (a: Self, b: Self) -> Bool { a.name == b.name && a.switches == b.switches && a.uapi == b.uapi }
    public func hash(into h: inout Hasher) { h.combine(name) }

    /// Whether the profile has `behaviour`. Every profile lists every ``Behaviour``.
    public func isOn(_ behaviour: Behaviour) -> Bool {
        switches.first { $0.behaviour == behaviour }?.enabled ?? false
    }

    /// Why the profile has `behaviour`, or does not: the kernel functions behind it.
    public func reason(_ behaviour: Behaviour) -> String {
        switches.first { $0.behaviour == behaviour }?.reason ?? behaviour.rawValue
    }


    /// Pages per hmm_range_fault / snapshot round.
    public var faultChunk: Int { isOn(.deviceTHP) ? 32 : 64 }
    /// Pages per migrate_vma round.
    public var migrateChunk: Int { isOn(.deviceTHP) ? 512 : 64 }
    /// Pages per EXCLUSIVE round (6.1/6.12: 64-page make_device_exclusive_range calls).
    public var exclusiveChunk: Int { isOn(.deviceTHP) ? 1 : 64 }

    /// `as61`: the switches where Debian's 6.1 (6.1.192) differs from 6.12 (read in both trees).
    static func base(_ name: String, _ uapi: UAPIGeneration, _ since: KernelVersion, thp: Bool,
                     as61: Bool = false) -> KernelProfile {
        KernelProfile(name: name, uapi: uapi, since: since, switches: [
            BehaviourSwitch(.exclusiveBusyOnTHP, enabled: !thp,
                            reason: thp ? "make_device_exclusive() handles PTE-mapped large folios"
                                : "\(since.major).\(since.minor) make_device_exclusive_range pins with FOLL_SPLIT_PMD (the THP stays a "
                                    + "large folio, mapped by PTEs) and converts head pages only: a head page turns every PTE of its THP "
                                    + "into a device-exclusive entry (folio_make_device_exclusive), a tail page comes back NULL and the "
                                    + "chunk gives EBUSY"),
            BehaviourSwitch(.deviceTHP, enabled: thp,
                            reason: thp ? "MIGRATE_VMA_SELECT_COMPOUND: a THP moves to a PMD-sized device folio (snapshot may show the "
                                + "PMD bit)"
                                : "no device-private large folios: THPs are split before migration"),
            BehaviourSwitch(.migrateSkipsPTEMappedTHP, enabled: !thp,
                            reason: thp ? "large folios are split or migrated whole"
                                : "migrate_vma_collect_pmd skips PageTransCompound pages mapped by PTEs (FIXME support THP)"),
            BehaviourSwitch(.movePagesHoleIsEFAULT, enabled: as61,
                            reason: as61
                                ? "\(since.major).\(since.minor) do_pages_stat_array and add_page_for_migration look pages up with "
                                    + "follow_page(FOLL_DUMP): no_page_table() answers -EFAULT for a missing page of an anonymous VMA"
                                : "do_pages_stat_array and add_folio_for_migration use folio_walk_start(), which finds no folio for an "
                                    + "empty PTE: -ENOENT"),
            BehaviourSwitch(.mprotectUpgradeNeedsDirty, enabled: as61,
                            reason: as61
                                ? "\(since.major).\(since.minor) can_change_pte_writable returns false for a clean PTE (!pte_dirty) "
                                    + "before it looks at PageAnonExclusive: mprotect leaves clean exclusive pages (e.g. just back from a "
                                    + "device-private page, whose entry keeps no dirty bit) read-only"
                                : "can_change_pte_writable makes any exclusive anonymous page writable, dirty or not (the dirty check is "
                                    + "for shared mappings only)"),
            BehaviourSwitch(.thpSplitMapsZeroSubpages, enabled: !as61,
                            reason: as61
                                ? "\(since.major).\(since.minor) __split_huge_page remaps every subpage to itself"
                                : "__split_huge_page -> remap_page(RMP_USE_SHARED_ZEROPAGE) -> try_to_map_unused_to_zeropage: each "
                                    + "zero-filled subpage of a split anonymous THP becomes a read-only mapping of the shared zero page "
                                    + "(snapshot 0x11)"),
            BehaviourSwitch(.migrateSplitsPartiallyMappedTHP, enabled: !as61,
                            reason: as61
                                ? "\(since.major).\(since.minor) migrate_pages_batch migrates a THP whole (thp_migration_supported), "
                                    + "partially mapped or not"
                                : "a PTE unmapped from a THP still mapped elsewhere queues it as partially mapped (__folio_remove_rmap "
                                    + "-> deferred_split_folio(folio, true)); migrate_pages_batch splits such a folio first "
                                    + "(folio_test_partially_mapped -> try_split_folio), so its zero-filled subpages become the shared "
                                    + "zero page (move_pages -EFAULT) and only the others move (read in 6.12.118)"),
            BehaviourSwitch(.wpCopiesLargeFolio, enabled: !as61,
                            reason: as61
                                ? "\(since.major).\(since.minor) do_wp_page reuses a page that is not PageAnonExclusive only at "
                                    + "folio_ref_count 1: a page of a PTE-mapped THP is copied while another page of the folio is mapped"
                                : "do_wp_page -> wp_can_reuse_anon_folio returns false for any large folio: a write to a read-only "
                                    + "PTE of a THP page that is not PageAnonExclusive (after fork) copies it (wp_page_copy, VMA policy; "
                                    + "read in 6.12.118)"),
            migrationDirtySwitch(swap: false),
            BehaviourSwitch(.invalidateOnePastEnd, enabled: true,
                            reason: "test_hmm bug: dmirror_interval_invalidate -> dmirror_do_update erases the mirror with "
                                + "xa_for_each_range(start >> PAGE_SHIFT, end >> PAGE_SHIFT), whose last index is inclusive, so it also "
                                + "drops the entry of the page after the invalidated range (read in 6.1.192 and 6.12.117; not checked for "
                                + "6.19+)"),
        ])
    }

    /// Whether migration entries keep the dirty bit follows CONFIG_SWAP, a fact of the
    /// running kernel (``withSwap(_:)``), not of the release.
    static func migrationDirtySwitch(swap: Bool) -> BehaviourSwitch {
        BehaviourSwitch(.migrationKeepsDirty, enabled: swap, reason: swap
            ? "CONFIG_SWAP=y: migration_entry_supports_ad() is true (x86 has swap-entry A/D bits), so migrate_vma_collect_pmd / "
                + "try_to_migrate_one record the dirty bit in the migration entry and remove_migration_pte maps a migrated page dirty "
                + "again if it was dirty"
            : "no CONFIG_SWAP (hmmkit's tinyconfig kernels): migration_entry_supports_ad() is false, so migrate_vma_collect_pmd / "
                + "try_to_migrate_one record no dirty bit (make_migration_entry_dirty is a no-op) and remove_migration_pte maps every "
                + "migrated page clean (is_migration_entry_dirty() false) (6.1.192 and 6.12.117 alike; only 6.1's mprotect shows it)")
    }

    /// This profile on a kernel with (`true`) or without CONFIG_SWAP.
    public func withSwap(_ swap: Bool) -> KernelProfile {
        var p = self
        p.switches = switches.map { $0.behaviour == .migrationKeepsDirty ? Self.migrationDirtySwitch(swap: swap) : $0 }
        return p
    }

    /// Debian 6.1.192: UAPI READ..RELEASE.
    public static let linux6_1 = base("linux-6.1", .v6_1, KernelVersion(6, 1), thp: false, as61: true)
    /// Debian 6.12.117: same semantics as 6.1 for the dmirror ioctls (lib/test_hmm.c in both trees); move_pages
    /// looks pages up with folio_walk (``movePagesHoleIsEFAULT`` off).
    public static let linux6_12 = base("linux-6.12", .v6_1, KernelVersion(6, 12), thp: false)
    /// 6.19+: device-private THP migration, FLAGS ioctl, make_device_exclusive().
    public static let thpMigration = base("thp-migration", .v6_19, KernelVersion(6, 19), thp: true)

    public static let all: [KernelProfile] = [linux6_1, linux6_12, thpMigration]

    public static func named(_ name: String) -> KernelProfile? { all.first { $0.name == name } }

    /// The profile for a `uname -r` string: 6.1–6.11 → linux-6.1, 6.12–6.18 → linux-6.12,
    /// 6.19+ → thp-migration. Nil for older or unparsable releases.
    public static func forRelease(_ release: String) -> KernelProfile? {
        guard let v = KernelVersion(release) else { return nil }
        if v >= KernelVersion(6, 19) { return thpMigration }
        if v >= KernelVersion(6, 12) { return linux6_12 }
        if v >= KernelVersion(6, 1) { return linux6_1 }
        return nil
    }
}

/// The machine a fixture assumes (fixture header), besides the kernel profile.
public struct Environment: Sendable, Hashable {
    /// Device minors present (0,1 private; 2,3 coherent need SPM parameters).
    public var devices: [Int]
    /// NUMA nodes with memory.
    public var nodes: [Int]
    /// Node the runner's CPU allocates from by default; nil = unknown (any node in `nodes`).
    public var localNode: Int?
    public var thp: THPMode
    /// Pages per coherent device (DEVMEM_CHUNK_SIZE / page size).
    public var coherentCapacity: Int
    /// The file system of `file-create`'s files.
    public var files: FileBacking

    public init(devices: [Int] = [0, 1], nodes: [Int] = [0], localNode: Int? = 0, thp: THPMode = .never,
                coherentCapacity: Int = 65536, files: FileBacking = .pageMkwrite) {
        self.devices = devices
        self.nodes = nodes
        self.localNode = localNode
        self.thp = thp
        self.coherentCapacity = coherentCapacity
        self.files = files
    }
}
