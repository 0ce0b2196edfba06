import HMMFixtures
import HMMKernel
import HMMModel
import HMMSystem
import HMMUAPI

/// The kernel side of a replay: a forked process that performs a fixture's steps on the
/// running kernel and answers each with an ``Observation``. It never sees the model.
///
/// Wire protocol (one line each way): the driver sends a step index; the worker answers
/// `O <observation>` or `X <what went wrong>`. A `fork` step forks the worker; the child
/// answers from then on on the same pipes while the parent waits for it, and the parent
/// answers the block's closing `}` once the child has gone (so its memory and files are
/// released before the next parent step, as the model assumes).
final class FixtureWorker {
    private let steps: [Step]
    private let performer: StepPerformer
    private var isChild = false

    init(steps: [Step], generation: UAPIGeneration, tmpDirectory: String, codec: PageCodec) {
        self.steps = steps
        performer = StepPerformer(generation: generation, tmpDirectory: tmpDirectory, codec: codec)
    }

    /// Serves requests until the driver closes the pipe.
    func serve(_ requests: RequestReader, _ reply: (String) -> Void) -> Int32 {
        while let line = requests.next() {
            guard let index = Int(line), steps.indices.contains(index) else {
                reply("X malformed request '\(line)'")
                continue
            }
            switch steps[index].action {
            case .fork:
                let pid: Int32
                do { pid = try forkProcess() } catch {
                    reply("O " + ObservationText.encode(Observation(errno: error.errno.rawValue)))
                    continue
                }
                if pid == 0 {
                    performer.becomeChild()
                    isChild = true
                    reply("O " + ObservationText.encode(Observation()))
                    continue
                }
                switch waitForExit(pid) {
                case .exited(0): reply("O " + ObservationText.encode(Observation()))
                case let end: reply("X the forked child \(end)")
                }
            case .exitChild:
                if isChild { exitProcess(0) }
                reply("X '}' outside a forked block")
            case let action:
                reply("O " + ObservationText.encode(performer.perform(action)))
            }
        }
        return 0
    }
}

/// Performs model ``Action``s on the running kernel in this process and answers each
/// with an ``Observation`` (an errno where the kernel refused). It never sees the model.
/// Regions sit at 2 MiB-aligned slots, as the model assumes; page data goes through
/// `codec`. `fork` and `exitChild` are the caller's (they need a process to continue in).
final class StepPerformer {
    private let generation: UAPIGeneration
    private let pageSize = Machine.pageSize
    private let tmpDirectory: String
    let codec: PageCodec
    /// Base address of each region's slot (region page `p` is at `base + p * pageSize`),
    /// indexed by region id (small and dense): a dictionary lookup per page was visible in
    /// a guest profile of the 1,024-page loops.
    private var regions: [UInt64?] = []
    private var devices: [FdID: OpenDevice] = [:]
    private var files: [FileID: OpenFile] = [:]

    init(generation: UAPIGeneration, tmpDirectory: String, codec: PageCodec) {
        self.generation = generation
        self.tmpDirectory = tmpDirectory
        self.codec = codec
    }

    /// In a forked child: its device files are its own, so inherited copies are dropped
    /// (closing them would act on the parent's mirror too).
    func becomeChild() { devices = [:] }

    /// Where page `page` of region `region` is (for steps the model has no words for).
    func address(_ region: RegionID, _ page: Int) -> UInt64 {
        regions[region]! + UInt64(page * pageSize)
    }

    private func setBase(_ base: UInt64, of region: RegionID) {
        if regions.count <= region { regions += [UInt64?](repeating: nil, count: region + 1 - regions.count) }
        regions[region] = base
    }

    /// The device file a step opened as `fd`.
    func device(_ fd: FdID) -> OpenDevice? { devices[fd] }

    /// Closes every device file now, in descriptor order, as the process's end would. Each
    /// close makes test_hmm evict its device memory back to the system: kernel work that
    /// can run while the model checks the last steps.
    func closeDevices() {
        for fd in devices.keys.sorted() { try? devices[fd]?.close() }
        devices = [:]
    }

    // MARK: Steps

    func perform(_ action: Action) -> Observation {
        do {
            return try performThrowing(action)
        } catch let error as SystemError {
            return Observation(errno: error.errno.rawValue)
        } catch let error as DmirrorError {
            if case let .failed(_, e) = error { return Observation(errno: e.rawValue) }
            return Observation(errno: Errno.ENOTTY.rawValue)
        } catch let error as Numa.Failure {
            if case let .system(e) = error { return Observation(errno: e.errno.rawValue) }
            return Observation(errno: Errno.ENOSYS.rawValue)
        } catch {
            return Observation(errno: Errno.EIO.rawValue)
        }
    }

    private func span(_ r: PageRange) -> (UInt64, Int) { (address(r.region, r.first), r.count * pageSize) }

    private static func protection(_ p: HMMModel.Protection) -> HMMKernel.Protection {
        switch p {
        case .none: .none
        case .read: .read
        case .readWrite: .readWrite
        }
    }

    private static func advice(_ a: HMMModel.Advice) -> HMMKernel.Advice {
        switch a {
        case .dontneed: .dontNeed
        case .free: .free
        case .hugepage: .hugePage
        case .nohugepage: .noHugePage
        }
    }

    private func performThrowing(_ action: Action) throws -> Observation {
        switch action {
        case let .mmap(r, pages, prot, kind, file, offset):
            let base = try VirtualMemory.reserveSlot(bytes: pages * pageSize)
            let backing: VirtualMemory.Backing = switch kind {
            case .anonPrivate: .privateAnonymous
            case .anonShared: .sharedAnonymous
            case .hugetlb: .hugetlb
            case .filePrivate, .fileShared:
                .file(fd: files[file!]!.rawValue, offset: offset * pageSize, shared: kind == .fileShared)
            }
            try VirtualMemory.map(at: base, bytes: pages * pageSize, protection: Self.protection(prot), backing: backing)
            setBase(base, of: r)
            return Observation()
        case let .munmap(r):
            let (a, n) = span(r)
            try VirtualMemory.unmap(at: a, bytes: n)
            return Observation()
        case let .mprotect(r, prot):
            let (a, n) = span(r)
            try VirtualMemory.protect(at: a, bytes: n, Self.protection(prot))
            return Observation()
        case let .mremap(r, to):
            let (a, n) = span(r)
            let destination = try VirtualMemory.reserveSlot(bytes: n)
            try VirtualMemory.move(from: a, bytes: n, to: destination)
            setBase(destination, of: to)
            return Observation()
        case let .madvise(r, advice):
            let (a, n) = span(r)
            try VirtualMemory.advise(at: a, bytes: n, Self.advice(advice))
            return Observation()
        case let .cpuRead(r, page):
            let token = VirtualMemory.load(at: address(r, page), bytes: pageSize) { codec.decode($0) }
            return Observation(tokens: [token])
        case let .cpuWrite(r, page, token):
            VirtualMemory.store(at: address(r, page), bytes: pageSize) { codec.fill($0, token: token) }
            return Observation()
        case let .fileCreate(f, pages):
            let fd = try FileDescriptor.temporaryFile(in: tmpDirectory, size: pages * pageSize)
            files[f] = OpenFile(fd)
            return Observation()
        case let .fileWrite(f, page, token):
            let bytes = codec.bytes(token: token, pageSize: pageSize)
            try files[f]!.write(bytes, at: page * pageSize)
            return Observation()
        case let .fileTruncate(f, pages):
            try files[f]!.truncate(to: pages * pageSize)
            return Observation()
        case let .filePunchHole(f, first, count):
            try files[f]!.punchHole(offset: first * pageSize, length: count * pageSize)
            return Observation()
        case let .open(fd, minor):
            devices[fd] = OpenDevice(try DmirrorDevice(minor: minor, generation: generation))
            return Observation()
        case let .close(fd):
            try devices.removeValue(forKey: fd)!.close()
            return Observation()
        case let .ioctl(call):
            return try ioctl(call)
        case let .mbind(r, node):
            let (a, n) = span(r)
            try Numa.bind(address: a, length: n, policy: .bind, nodes: [node])
            return Observation()
        case let .movePages(r, node):
            let addresses = (r.first..<r.end).map { address(r.region, $0) }
            return Observation(nodes: try Numa.movePages(addresses, to: node))
        case let .queryNodes(r):
            let addresses = (r.first..<r.end).map { address(r.region, $0) }
            return Observation(nodes: try Numa.nodes(ofPages: addresses))
        case .fork, .exitChild:
            preconditionFailure("fork blocks are handled by the caller (a process must continue in the child)")
        }
    }

    /// The ioctl data buffers. Never unmapped while the performer lives: test_hmm mirrors
    /// the whole address space, so unmapping a buffer invalidates the mirror there, and
    /// its one-past-the-end invalidation would drop the entry of a region page right
    /// after the buffer, an effect the model cannot see. Grown by doubling; outgrown
    /// buffers stay mapped (bounded by twice the largest call).
    private var scratch: [Scratch] = []

    private final class Scratch {
        let buffer: DeviceBuffer
        /// Pages seen resident. They stay so: the buffer is never unmapped or advised away,
        /// and a page swapped out would only be poisoned (faulted back in) needlessly.
        var resident: [Bool]
        init(bytes: Int, pageSize: Int) {
            resident = [Bool](repeating: false, count: (bytes + pageSize - 1) / pageSize)
            buffer = DeviceBuffer(bytes: bytes)
            // No THP: a huge page the kernel's first write faults in would make pages it
            // did not write resident (``unwritten(_:among:)`` reads residency).
            try? VirtualMemory.advise(at: UInt64(UInt(bitPattern: buffer.base)), bytes: buffer.count, .noHugePage)
        }
        var count: Int { buffer.count }
    }

    /// One byte per page of `b`, bit 0 set when the page is resident; nil when mincore fails.
    private func residency(_ b: UnsafeMutableRawBufferPointer) -> [UInt8]? {
        guard let base = b.baseAddress, b.count > 0 else { return [] }
        var vector = [UInt8](repeating: 0, count: (b.count + pageSize - 1) / pageSize)
        let ok = vector.withUnsafeMutableBufferPointer { v in (try? Sys.mincore(base, b.count, v.baseAddress!)) != nil }
        return ok ? vector : nil
    }

    /// A buffer of at least `bytes` for a call that copies whole pages back (READ,
    /// MIGRATE_TO_DEV, EXCLUSIVE), and the pages left unpoisoned: those never touched since
    /// the buffer was mapped (not resident, so zero). Poisoning them cost a page fault and a
    /// cleared page each, for nothing when the call then failed (hm-tests' mirror pages are
    /// only touched by the kernel's copy). A page the kernel did not write stays
    /// unresident, which ``unwritten(_:among:)`` tells apart from one it wrote.
    private func lazyBuffer(_ bytes: Int) -> (UnsafeMutableRawBufferPointer, fresh: [Bool]) {
        let b = buffer(bytes, poison: false)
        let known = scratch[scratch.count - 1]
        let pages = bytes / pageSize
        var fresh = [Bool](repeating: false, count: pages)
        // mincore walks the page tables of the whole length: ask only while some page of
        // it was never seen resident (a loop over one buffer asks once).
        let resident = known.resident[0..<pages].allSatisfy { $0 } ? nil : residency(b)
        for page in 0..<pages {
            if let resident, resident[page] & 1 == 0 {
                fresh[page] = true
            } else {
                b.storeBytes(of: Self.poison, toByteOffset: page * pageSize, as: UInt64.self)
                known.resident[page] = true
            }
        }
        return (b, fresh)
    }

    /// Of the `fresh` pages of `b` (see ``lazyBuffer(_:)``), those the kernel did not write:
    /// still not resident. When residency cannot be read, every fresh page counts as written
    /// (its zeros are then decoded as the kernel's answer).
    private func unwritten(_ b: UnsafeMutableRawBufferPointer, among fresh: [Bool]) -> [Bool] {
        guard fresh.contains(true), let resident = residency(b) else { return fresh.map { _ in false } }
        let known = scratch[scratch.count - 1]
        for page in fresh.indices where resident[page] & 1 != 0 { known.resident[page] = true }
        return fresh.indices.map { fresh[$0] && resident[$0] & 1 == 0 }
    }

    static let poison: UInt64 = 0x5EED_BAD0_0000_0001

    /// The ioctl data buffer, for a call the model has no words for (its contents are the
    /// caller's until the next step).
    func scratch(bytes: Int) -> UnsafeMutableRawBufferPointer { buffer(bytes, poison: true) }

    /// A buffer of at least `bytes`, with the first word of every page poisoned, so a
    /// page the kernel did not write decodes as no token instead of an earlier answer.
    private func buffer(_ bytes: Int, poison: Bool) -> UnsafeMutableRawBufferPointer {
        if scratch.last.map({ $0.count < bytes }) ?? true {
            scratch.append(Scratch(bytes: max(bytes, 2 * (scratch.last?.count ?? 0), pageSize), pageSize: pageSize))
        }
        let b = UnsafeMutableRawBufferPointer(rebasing: scratch[scratch.count - 1].buffer.bytes[0..<bytes])
        var offset = 0
        while poison && offset + 8 <= bytes {
            b.storeBytes(of: Self.poison, toByteOffset: offset, as: UInt64.self)
            scratch[scratch.count - 1].resident[offset / pageSize] = true
            offset += pageSize
        }
        return b
    }

    private func ioctl(_ call: IoctlCall) throws -> Observation {
        let device = devices[call.fd]!
        let addr = address(call.range.region, call.range.first) + UInt64(call.misalign)
        let count = call.range.count
        switch call.command {
        case .snapshot:
            let b = buffer(count, poison: true)
            let r = try device.perform(.snapshot, address: addr, pages: UInt64(count), buffer: UInt64(UInt(bitPattern: b.baseAddress!)))
            return Observation(cpages: r.cpages, faults: r.faults, snapshot: Array(UnsafeRawBufferPointer(b)))
        case .flags, .release, .migrateToSystem, .checkExclusive:
            let r = try device.perform(call.command, address: addr, pages: UInt64(count))
            return Observation(cpages: r.cpages, faults: r.faults)
        case .write:
            let b = buffer(count * pageSize, poison: true)
            for (i, token) in call.data.prefix(count).enumerated() {
                codec.fill(UnsafeMutableRawBufferPointer(rebasing: b[(i * pageSize)..<((i + 1) * pageSize)]), token: token)
            }
            let r = try device.perform(.write, address: addr, pages: UInt64(count), buffer: UInt64(UInt(bitPattern: b.baseAddress!)))
            return Observation(cpages: r.cpages, faults: r.faults)
        case .read, .migrateToDevice, .exclusive:
            let (b, fresh) = lazyBuffer(count * pageSize)
            let r = try device.perform(call.command, address: addr, pages: UInt64(count), buffer: UInt64(UInt(bitPattern: b.baseAddress!)))
            let unwritten = unwritten(b, among: fresh)
            let tokens = (0..<count).map { i in
                unwritten[i] ? nil : codec.decode(UnsafeRawBufferPointer(rebasing: b[(i * pageSize)..<((i + 1) * pageSize)]))
            }
            return Observation(cpages: r.cpages, faults: r.faults, tokens: tokens)
        }
    }
}

/// A device file a fixture opened (`fN`), as a reference so it can live in a dictionary.
final class OpenDevice {
    private var device: DmirrorDevice?

    init(_ device: consuming DmirrorDevice) { self.device = consume device }

    func perform(_ operation: DmirrorOperation, address: UInt64, pages: UInt64, buffer: UInt64 = 0) throws(DmirrorError) -> DmirrorResult {
        try device!.perform(operation, address: address, pages: pages, buffer: buffer)
    }

    func close() throws(SystemError) {
        if let d = device.take() { try d.close() }
    }
}

/// A temporary file a fixture created (`FN`).
final class OpenFile {
    private let fd: FileDescriptor

    init(_ fd: consuming FileDescriptor) { self.fd = fd }

    var rawValue: Int32 { fd.rawValue }

    func write(_ bytes: [UInt8], at offset: Int) throws(SystemError) {
        var done = 0
        while done < bytes.count {
            let result = bytes.withUnsafeBytes { raw in
                Result { () throws(SystemError) in try fd.pwrite(UnsafeRawBufferPointer(rebasing: raw[done...]), at: offset + done) }
            }
            let n = try result.get()
            if n == 0 { throw SystemError("pwrite", .EIO) }
            done += n
        }
    }

    func truncate(to length: Int) throws(SystemError) { try fd.truncate(to: length) }
    func punchHole(offset: Int, length: Int) throws(SystemError) { try fd.punchHole(offset: offset, length: length) }
}
