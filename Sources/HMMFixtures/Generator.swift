import HMMModel
import HMMUAPI

/// Random fixtures that respect the model's preconditions, weighted toward interesting
/// states: pages spread over two devices, partial unmaps, forks with pages on a device,
/// exclusive access followed by CPU access, mprotect of migrated ranges, NUMA policies.
///
/// Deterministic: the same seed, profile, environment and settings give byte-identical
/// fixtures. Each ``generate(steps:)`` call draws the next fixture of the seed's stream; the
/// fixture's header records the seed that regenerates it as the first of a stream.
public struct FixtureGenerator: Sendable {
    public let profile: KernelProfile
    public let environment: Environment
    /// Largest ordinary region in pages.
    public var maxRegionPages = 64
    /// Keep steps whose envelope predicts a kernel oops or use-after-free read (off by default).
    public var allowHazards = false
    var nextSeed: UInt64

    public init(seed: UInt64, profile: KernelProfile, environment: Environment = Environment(devices: [0, 1])) {
        self.profile = profile
        self.environment = environment
        self.nextSeed = seed
    }

    /// The next fixture, with `steps` steps after setup (fork blocks count their inner steps).
    public mutating func generate(steps: Int) -> Fixture {
        let seed = nextSeed
        var seeder = Xoshiro256(seed: seed ^ 0x5EED)
        nextSeed = seeder.next()
        var b = Builder(rng: Xoshiro256(seed: seed), model: Model(profile: profile, environment: environment),
                        maxPages: maxRegionPages, allowHazards: allowHazards)
        b.setup()
        var guardCount = 0
        while b.mainSteps < steps && guardCount < steps * 50 {
            b.randomStep()
            guardCount += 1
        }
        if b.model.inChild { _ = b.emit(.exitChild) }
        return Fixture(seed: seed, profile: profile, environment: environment, steps: b.steps)
    }
}

struct Builder {
    var rng: Xoshiro256
    var model: Model
    let maxPages: Int
    let allowHazards: Bool
    var steps: [Step] = []
    var mainSteps = 0
    var nextToken: UInt64 = 0x100

    var env: Environment { model.environment }

    mutating func token() -> UInt64 {
        nextToken &+= UInt64(rng.range(1...0xFFF))
        return nextToken
    }

    /// Applies `a` if its preconditions hold and it is not a hazard or a known WARN; records it.
    @discardableResult
    mutating func emit(_ a: Action) -> Bool {
        guard model.violation(of: a) == nil else { return false }
        // An immediate repeat of an ioctl teaches nothing new.
        if case .ioctl = a, steps.last?.action == a { return false }
        let e: Envelope
        if case .ioctl = a, !allowHazards {
            var trial = model
            e = trial.step(a)
            // Known kernel WARNs are hazards too: they taint the machine for the tests after.
            if e.hazard != nil || e.kernelWarning != nil { return false }
            model = trial
        } else {
            e = model.step(a)
        }
        var notes = e.notes
        if let h = e.hazard { notes.append("HAZARD: " + h) }
        if let w = e.kernelWarning { notes.append("WARN: " + w) }
        let exp: String?
        switch a {
        case .fork, .exitChild: exp = nil
        default: exp = e.description
        }
        steps.append(Step(a, expectation: exp, notes: notes))
        mainSteps += 1
        return true
    }

    var regions: [RegionID] { model.regionIDs.filter { id in (0..<model.span(of: id)!).contains { model.isMapped(id, $0) } } }
    var fds: [FdID] { model.openFiles.keys.sorted() }

    mutating func newRegion() {
        let r = model.usedRegionIDs
        let sizes = [1, 2, 3, 4, 6, 8, 16, 32, 64].filter { $0 <= maxPages }
        let pages = rng.pick(sizes)
        let kinds: [MappingKind] = [.anonPrivate, .anonShared, .filePrivate, .fileShared]
        let kind = kinds[rng.weighted([70, 10, 10, 10])]
        let prot: Protection = [.readWrite, .read, .none][rng.weighted([85, 10, 5])]
        if kind.isFileBacked {
            let f = (model.fileIDs.last ?? -1) + 1
            emit(.fileCreate(f, pages: pages))
            for p in 0..<pages where rng.chance(60) { emit(.fileWrite(f, page: p, token: token())) }
            emit(.mmap(r, pages: pages, prot: prot, kind: kind, file: f, offset: 0))
        } else {
            emit(.mmap(r, pages: pages, prot: prot, kind: kind, file: nil, offset: 0))
        }
        if prot == .readWrite {
            for p in 0..<pages where rng.chance(70) { emit(.cpuWrite(r, page: p, token: token())) }
        }
    }

    mutating func setup() {
        let devs = env.devices
        if let d0 = devs.first { emit(.open(0, minor: d0)) }
        if devs.count > 1 { emit(.open(1, minor: devs[1 + rng.below(devs.count - 1)])) }
        for _ in 0..<rng.range(1...3) { newRegion() }
        if env.thp != .never && rng.chance(15) {
            let r = model.usedRegionIDs
            emit(.mmap(r, pages: 1024, prot: .readWrite, kind: .anonPrivate, file: nil, offset: 0))
            emit(.madvise(PageRange(r, 0, 1024), .hugepage))
            emit(.cpuWrite(r, page: rng.below(1024), token: token()))
        }
    }

    /// Pages that make a range interesting (on a device, exclusive), else any mapped page.
    mutating func anchor(in r: RegionID) -> Int {
        let span = model.span(of: r)!
        var hits: [Int] = []
        for p in 0..<span {
            switch model.location(r, p) {
            case .devicePrivate, .deviceCoherent: hits.append(p)
            default: if model.isExclusive(r, p) { hits.append(p) }
            }
        }
        if !hits.isEmpty && rng.chance(60) { return rng.pick(hits) }
        return rng.below(span)
    }

    mutating func range(_ r: RegionID) -> PageRange {
        let span = model.span(of: r)!
        let a = anchor(in: r)
        switch rng.weighted([30, 25, 25, 20]) {
        case 0: return PageRange(r, 0, span)
        case 1: return PageRange(r, a, 1)
        case 2:
            let first = max(0, a - rng.below(3))
            return PageRange(r, first, 1 + rng.below(span - first))
        default:
            let first = rng.below(span)
            return PageRange(r, first, span - first)
        }
    }

    mutating func pickRegion() -> RegionID? {
        let rs = regions
        return rs.isEmpty ? nil : rng.pick(rs)
    }

    mutating func cpuAccess(write: Bool, in r: RegionID? = nil, near: Int? = nil) {
        guard let r = r ?? pickRegion() else { return }
        let span = model.span(of: r)!
        for _ in 0..<8 {
            let p = near.map { min(span - 1, max(0, $0 + rng.range(-1...1))) } ?? anchor(in: r)
            let a: Action = write ? .cpuWrite(r, page: p, token: token()) : .cpuRead(r, page: p)
            if emit(a) { return }
        }
    }

    mutating func ioctl(_ cmd: DmirrorOperation, fd: FdID? = nil, range given: PageRange? = nil) {
        let fs = fds
        guard !fs.isEmpty, let r = given?.region ?? pickRegion() else { return }
        let fd = fd ?? rng.pick(fs)
        let pr = given ?? range(r)
        var data: [UInt64] = []
        if cmd == .write {
            let base = token()
            data = (0..<pr.count).map { base &+ UInt64($0) }
            nextToken &+= UInt64(pr.count)
        }
        emit(.ioctl(IoctlCall(fd: fd, cmd, pr, data: data)))
    }

    mutating func childBlock() {
        guard !model.inChild, emit(.fork) else { return }
        if rng.chance(80), let d = env.devices.first { emit(.open(0, minor: rng.chance(70) ? d : rng.pick(env.devices))) }
        for _ in 0..<rng.range(1...5) {
            switch rng.weighted([30, 25, 15, 15, 15]) {
            case 0: cpuAccess(write: true)
            case 1: cpuAccess(write: false)
            case 2: ioctl(.migrateToDevice)
            case 3: ioctl(.write)
            default: ioctl(.snapshot)
            }
        }
        emit(.exitChild)
    }

    mutating func randomStep() {
        let hasNodes = env.nodes.count > 1
        let hasFiles = !model.fileIDs.isEmpty
        let weights = [15, 10, 12, 7, 6, 8, 4, 2, 5, 1, 5, 2, 4, 4, 2, 2, hasNodes ? 3 : 0, hasFiles ? 2 : 0, 1, 2]
        switch rng.weighted(weights) {
        case 0: cpuAccess(write: true)
        case 1: cpuAccess(write: false)
        case 2: ioctl(.migrateToDevice)
        case 3: ioctl(.read)
        case 4: ioctl(.write)
        case 5: ioctl(.snapshot)
        case 6:
            guard let r = pickRegion() else { return }
            let pr = range(r)
            ioctl(.exclusive, range: pr)
            if rng.chance(50) { cpuAccess(write: rng.chance(50), in: r, near: pr.first) }
        case 7: ioctl(.checkExclusive)
        case 8: ioctl(.migrateToSystem)
        case 9: ioctl(.release)
        case 10:
            guard let r = pickRegion() else { return }
            emit(.mprotect(range(r), [.read, .readWrite, .none][rng.weighted([45, 45, 10])]))
        case 11:
            guard let r = pickRegion() else { return }
            let span = model.span(of: r)!
            let first = rng.below(span)
            emit(.munmap(PageRange(r, first, 1 + rng.below(min(3, span - first)))))
        case 12:
            guard let r = pickRegion() else { return }
            emit(.madvise(range(r), [.dontneed, .free, .hugepage][rng.weighted([60, 20, 20])]))
        case 13: childBlock()
        case 14:
            let fs = fds
            if fs.count >= 2 || (!fs.isEmpty && rng.chance(50)) {
                emit(.close(rng.pick(fs)))
            } else if let d = env.devices.isEmpty ? nil : rng.pick(env.devices) {
                let free = (0..<4).first { !fs.contains($0) } ?? 0
                emit(.open(free, minor: d))
            }
        case 15:
            guard let r = pickRegion() else { return }
            let span = model.span(of: r)!
            let first = rng.below(span)
            emit(.mremap(PageRange(r, first, 1 + rng.below(span - first)), to: model.usedRegionIDs))
        case 16:
            guard let r = pickRegion() else { return }
            let node = rng.pick(env.nodes)
            switch rng.below(3) {
            case 0: emit(.mbind(range(r), node: node))
            case 1: emit(.movePages(range(r), node: node))
            default: emit(.queryNodes(range(r)))
            }
        case 17:
            let f = rng.pick(model.fileIDs)
            let size = model.fileSize(f) ?? 0
            switch rng.weighted([70, 15, 15]) {
            case 0: emit(.fileWrite(f, page: rng.below(max(1, size)), token: token()))
            case 1: if size > 0 { emit(.filePunchHole(f, first: rng.below(size), count: 1)) }
            default: emit(.fileTruncate(f, pages: rng.chance(50) ? max(0, size - 1) : size + 1))
            }
        case 18:
            guard let r = pickRegion(), let fd = fds.first else { return }
            if rng.chance(50) {
                emit(.ioctl(IoctlCall(fd: fd, rng.pick([.read, .migrateToDevice, .snapshot]), PageRange(r, 0, 0))))
            } else {
                emit(.ioctl(IoctlCall(fd: fd, .snapshot, PageRange(r, 0, 1), misalign: 8)))
            }
        default:
            if !model.inChild && model.regionIDs.count < 5 { newRegion() }
        }
    }
}
