import HMMUAPI

/// Where a page's data lives, as the model believes.
public enum PageLocation: Hashable, Sendable, CustomStringConvertible {
    case unmapped
    case unpopulated
    case zeroPage
    /// System RAM; node nil when the model does not know it.
    case system(node: Int?)
    case devicePrivate(minor: Int)
    case deviceCoherent(minor: Int)

    public var description: String {
        switch self {
        case .unmapped: "unmapped"
        case .unpopulated: "unpopulated"
        case .zeroPage: "zero-page"
        case .system(let n): n.map { "system(node \($0))" } ?? "system"
        case .devicePrivate(let m): "device-private(\(m))"
        case .deviceCoherent(let m): "device-coherent(\(m))"
        }
    }
}

/// The reference model: a deterministic, pure simulation of one process (and, between
/// `fork` and `exitChild`, its child) using test_hmm devices.
///
/// Drive it one step at a time:
/// ```
/// let envelope = model.apply(action)          // what a correct kernel may answer
/// let observation = runOnKernel(action)       // your runner
/// let mismatches = model.commit(observation)  // envelope.check + follow the kernel
/// ```
/// `apply` moves the model to the envelope's primary outcome. When the envelope allows
/// several results (a page that may or may not be a THP, a MADV_FREE page that may have
/// been reclaimed, a node the model does not know), `commit` makes the model follow what
/// the kernel actually did. Calling `apply` again without `commit` keeps the primary
/// outcome. Without a kernel, use ``step(_:)``.
///
/// What a runner must provide for the expectations to hold:
/// - each region at a 2 MiB-aligned slot of its own reservation, nothing else mapped inside
///   a region's span (holes made by `munmap` stay holes);
/// - one real process per model process; the child's steps run in a forked child that
///   opens its own device files, and its observations come back in order;
/// - the environment the fixture names (devices present, THP mode, NUMA nodes, the CPU
///   allocating on `localNode`), no swap, and no other users of the dmirror devices.
///
/// Known approximations are listed in `Fixtures/README.md` ("Model limits").
public struct Model: Sendable {
    public let profile: KernelProfile
    public let environment: Environment
    var s = State()
    var x = Exec()
    var pending: Pending?
    /// ``Behaviour/invalidateOnePastEnd`` is on.
    let pastEnd: Bool
    /// Back up before every step, as before steps learnt when they cannot vary (tests
    /// compare both).
    var alwaysBackup = false

    struct Exec {
        var resolve: Observation?
        var variable = false
        var notes: [String] = []
        var hazard: String?
        var warning: String?
        /// A decision assumed a page is part of a large folio (THP).
        var thpChoice = false
        /// Resolve THP ambiguity as "small pages".
        var forceSmall = false

        mutating func note(_ text: String) {
            if !notes.contains(text) { notes.append(text) }
        }
    }

    struct Pending {
        var action: Action
        var backup: State?
        var envelope: Envelope
        var variable: Bool
        /// Errnos that only the "pages are small" branch of a THP choice produces.
        var smallErrnos: Set<Int32> = []
    }

    public init(profile: KernelProfile, environment: Environment = Environment()) {
        self.profile = profile
        self.environment = environment
        self.pastEnd = profile.isOn(.invalidateOnePastEnd)
    }

    // MARK: - Driving

    /// Computes the envelope of `action` and moves the model to the primary outcome.
    /// Precondition: ``violation(of:)`` is nil for `action`.
    public mutating func apply(_ action: Action) -> Envelope {
        pending = nil
        // A backup (a copy of every array the step then writes) is only needed when the
        // step may have several results; per step on 1024-page regions it dominated.
        let thpPossible = environment.thp == .always || (environment.thp == .madvise && s.thpAdvised)
        let needsBackup = alwaysBackup || s.uncertain || thpPossible || Self.inherentlyVariable(action)
        let backup = needsBackup ? s : nil
        x = Exec()
        var env = execute(action)
        var smallErrnos: Set<Int32> = []
        if x.thpChoice, let backup {
            var alt = self
            alt.s = backup
            alt.x = Exec()
            alt.x.forceSmall = true
            let altEnv = alt.execute(action)
            for o in altEnv.outcomes where env.outcome(errno: o.errno) == nil {
                env.outcomes.append(o)
                smallErrnos.insert(o.errno)
            }
            for n in altEnv.notes where !env.notes.contains(n) { env.notes.append(n) }
        }
        pending = Pending(action: action, backup: backup, envelope: env, variable: x.variable || x.thpChoice,
                          smallErrnos: smallErrnos)
        return env
    }

    /// Reports how `observation` differs from the last envelope and makes the model follow
    /// the kernel when the envelope allowed several results.
    @discardableResult
    public mutating func commit(_ observation: Observation) -> [Mismatch] {
        guard let p = pending else { return [] }
        pending = nil
        let mismatches = p.envelope.check(observation)
        if p.variable, let backup = p.backup, observation != p.envelope.primaryObservation {
            s = backup
            x = Exec()
            x.resolve = observation
            x.forceSmall = p.smallErrnos.contains(observation.errno)
            _ = execute(p.action)
        }
        return mismatches
    }

    /// Moves the model to the primary outcome of a step no answer comes back for (a CPU
    /// write: a fault that fails kills the process). The same state as ``step(_:)``, without
    /// the backup and the small-pages alternatives `apply` keeps for a `commit`: a backup
    /// held across the step made every write to a region copy the region's page arrays.
    /// The envelope holds the primary outcome only, with its hazard and expected warning.
    public mutating func follow(_ action: Action) -> Envelope {
        pending = nil
        x = Exec()
        return execute(action)
    }

    /// `apply` then `commit` of the primary expectation.
    @discardableResult
    public mutating func step(_ action: Action) -> Envelope {
        let e = apply(action)
        // apply() already moved the model to the primary outcome.
        pending = nil
        return e
    }

    static func inherentlyVariable(_ action: Action) -> Bool {
        switch action {
        case .mmap(_, _, _, let kind, _, _): return kind == .hugetlb
        case .movePages, .queryNodes: return true
        default: return false
        }
    }

    // MARK: - Introspection (for generators, shrinkers, runners)

    /// True between `fork` and `exitChild`.
    public var inChild: Bool { s.current == 1 }

    var proc: Process { s.procs[s.current] }

    /// Regions of the current process (including fully unmapped ones).
    public var regionIDs: [RegionID] {
        proc.regions.indices.filter { proc.regions[$0] != nil }
    }

    func region(_ r: RegionID) -> Region? {
        r >= 0 && r < proc.regions.count ? proc.regions[r] : nil
    }

    public func span(of r: RegionID) -> Int? { region(r)?.span }
    public func kind(of r: RegionID) -> MappingKind? { region(r)?.kind }
    /// The file a file-backed region maps.
    public func file(of r: RegionID) -> FileID? {
        guard let reg = region(r), reg.kind.isFileBacked else { return nil }
        return s.files.first { $0.value == reg.object }?.key
    }

    public func isMapped(_ r: RegionID, _ p: Int) -> Bool {
        guard let reg = region(r), p >= 0, p < reg.span else { return false }
        return reg.flags[p].contains(.mapped)
    }

    public func protection(_ r: RegionID, _ p: Int) -> Protection? {
        guard isMapped(r, p), let reg = region(r) else { return nil }
        let f = reg.flags[p]
        return f.contains(.write) ? .readWrite : f.contains(.read) ? .read : Protection.none
    }

    /// Whether a CPU access to page `p` lies beyond the end of the backing object.
    public func beyondEOF(_ r: RegionID, _ p: Int) -> Bool {
        guard let reg = region(r), reg.object >= 0 else { return false }
        return reg.objectOffset + p >= s.objects[reg.object].size
    }

    /// The content the CPU would see, if the model knows it.
    public func token(_ r: RegionID, _ p: Int) -> UInt64? {
        guard isMapped(r, p), let reg = region(r) else { return nil }
        let f = reg.frame[p]
        if f != Frames.none { return s.frames.token[Int(f)] }
        if reg.object >= 0 {
            let o = reg.objectOffset + p
            let obj = s.objects[reg.object]
            if o < obj.size, obj.frames[o] != 0 { return s.frames.token[Int(obj.frames[o])] }
        }
        return 0
    }

    public func location(_ r: RegionID, _ p: Int) -> PageLocation {
        guard isMapped(r, p), let reg = region(r) else { return .unmapped }
        let f = reg.frame[p]
        if f == Frames.none { return .unpopulated }
        if f == Frames.zero { return .zeroPage }
        let l = s.frames.loc[Int(f)]
        if l.isDevicePrivate { return .devicePrivate(minor: l.index) }
        if l.isDeviceCoherent { return .deviceCoherent(minor: l.index) }
        return .system(node: l.isUnknownNode ? nil : l.index)
    }

    /// Whether the CPU page table holds a device-exclusive entry for the page.
    public func isExclusive(_ r: RegionID, _ p: Int) -> Bool {
        guard let reg = region(r), p >= 0, p < reg.span else { return false }
        return reg.flags[p].contains(.deviceExclusive)
    }

    /// Open device files of the current process: fd id → minor.
    public var openFiles: [FdID: Int] {
        var out: [FdID: Int] = [:]
        for (i, m) in proc.mirrors.enumerated() { if let m { out[i] = m.minor } }
        return out
    }

    public var fileIDs: [FileID] { s.files.keys.sorted() }
    public func fileSize(_ f: FileID) -> Int? { s.files[f].map { s.objects[$0].size } }

    /// Region ids used by any process so far (fresh ids must avoid them).
    public var usedRegionIDs: Int { s.procs.map { $0.regions.count }.max() ?? 0 }

    /// Approximate bytes of model state.
    public var footprintBytes: Int {
        var n = s.frames.count * (8 + 1 + 4 + 4 + 4 + 1)
        for p in s.procs {
            for r in p.regions { if let r { n += r.span * 5 + r.policy.count } }
            for m in p.mirrors { if let m { for pt in m.pt { if let pt { n += pt.tag.count * 9 } } } }
        }
        for o in s.objects { n += o.frames.count * 4 }
        return n
    }

    // MARK: - Preconditions

    /// Why `action` is not a valid next step (nil when it is). Deliberately failing but legal
    /// calls (an ioctl over a hole, a READ of PROT_NONE memory) are valid.
    public func violation(of action: Action) -> String? {
        func rangeOK(_ r: PageRange) -> String? {
            guard let reg = region(r.region) else { return "region r\(r.region) does not exist in this process" }
            if r.first < 0 || r.count < 0 || r.first + r.count > reg.span { return "range \(r) outside region span \(reg.span)" }
            return nil
        }
        func hugeAligned(_ r: PageRange) -> String? {
            if kind(of: r.region) == .hugetlb && (r.first % 512 != 0 || r.count % 512 != 0) {
                return "hugetlb ranges must be 512-page aligned"
            }
            return nil
        }
        switch action {
        case let .mmap(r, pages, _, kind, file, offset):
            if r < 0 { return "negative region id" }
            if s.procs.contains(where: { r < $0.regions.count && $0.regions[r] != nil }) { return "region r\(r) already exists" }
            if pages <= 0 { return "pages must be positive" }
            if kind == .hugetlb && pages % 512 != 0 { return "hugetlb regions are multiples of 512 pages" }
            if kind.isFileBacked {
                guard let file, s.files[file] != nil else { return "file-backed mapping needs an existing file" }
                if offset < 0 { return "negative offset" }
            } else if file != nil { return "anonymous mapping with a file" }
            return nil
        case let .munmap(r):
            return rangeOK(r) ?? (r.count == 0 ? "empty range" : nil) ?? hugeAligned(r)
        case let .mprotect(r, _):
            return rangeOK(r) ?? (r.count == 0 ? "empty range" : nil) ?? hugeAligned(r)
        case let .madvise(r, _):
            return rangeOK(r) ?? (r.count == 0 ? "empty range" : nil) ?? hugeAligned(r)
        case let .mremap(r, to):
            if let e = rangeOK(r) { return e }
            if r.count == 0 { return "empty range" }
            if inChild { return "mremap is not modelled in a child" }
            if kind(of: r.region) == .hugetlb { return "mremap of hugetlb is not modelled" }
            if s.procs.contains(where: { to < $0.regions.count && $0.regions[to] != nil }) || to < 0 {
                return "target region r\(to) exists"
            }
            // A source spanning several VMAs is the kernel's EFAULT (see doMremap), not a precondition.
            if !region(r.region)!.flags[r.first].contains(.mapped) { return "mremap source must start in a mapped VMA" }
            return nil
        case let .cpuRead(r, p), let .cpuWrite(r, p, _):
            guard let reg = region(r), p >= 0, p < reg.span else { return "page outside any region" }
            let f = reg.flags[p]
            if !f.contains(.mapped) { return "CPU access to an unmapped page would SIGSEGV" }
            if !f.contains(.read) { return "CPU access to a PROT_NONE page would SIGSEGV" }
            if case .cpuWrite = action, !f.contains(.write) { return "CPU write to a read-only page would SIGSEGV" }
            if beyondEOF(r, p) { return "CPU access beyond end of file would SIGBUS" }
            return nil
        case .fork:
            return inChild ? "nested fork is not modelled" : nil
        case .exitChild:
            return inChild ? nil : "not in a child"
        case let .fileCreate(f, pages):
            if s.files[f] != nil { return "file F\(f) exists" }
            return pages < 0 ? "negative size" : (inChild ? "files are created by the parent" : nil)
        case let .fileWrite(f, page, _):
            return s.files[f] == nil ? "no file F\(f)" : page < 0 ? "negative page" : nil
        case let .fileTruncate(f, pages):
            return s.files[f] == nil ? "no file F\(f)" : pages < 0 ? "negative size" : nil
        case let .filePunchHole(f, first, count):
            return s.files[f] == nil ? "no file F\(f)" : (first < 0 || count <= 0) ? "bad range" : nil
        case let .open(fd, minor):
            if fd < 0 { return "negative fd id" }
            if fd < proc.mirrors.count && proc.mirrors[fd] != nil { return "fd f\(fd) is open" }
            return environment.devices.contains(minor) ? nil : "device \(minor) is not in the environment"
        case let .close(fd):
            return fd >= 0 && fd < proc.mirrors.count && proc.mirrors[fd] != nil ? nil : "fd f\(fd) is not open"
        case let .ioctl(call):
            guard call.fd >= 0, call.fd < proc.mirrors.count, proc.mirrors[call.fd] != nil else { return "fd f\(call.fd) is not open" }
            guard let reg = region(call.range.region) else { return "region r\(call.range.region) does not exist" }
            if call.command == .flags {
                if call.range.first < 0 || call.range.first >= reg.span { return "FLAGS address outside region" }
                return nil
            }
            if let e = rangeOK(call.range) { return e }
            if call.command == .write && call.data.count != call.range.count { return "WRITE needs one token per page" }
            if call.command != .write && !call.data.isEmpty { return "only WRITE carries data" }
            if call.misalign < 0 { return "negative misalignment" }
            return nil
        case let .mbind(r, node), let .movePages(r, node):
            if !environment.nodes.contains(node) { return "node \(node) not in the environment" }
            return rangeOK(r) ?? (r.count == 0 ? "empty range" : nil)
        case let .queryNodes(r):
            return rangeOK(r) ?? (r.count == 0 ? "empty range" : nil)
        }
    }
}
