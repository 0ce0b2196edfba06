import HMMKernel
import HMMModel
import HMMSystem
import HMMUAPI

#if canImport(Glibc)
import Glibc
#endif

/// hmm-tests.c's cases under the same names, for both device types, so results line up
/// with kselftest's one to one. Page counts and expectations follow the C tests
/// (tools/testing/selftests/mm/hmm-tests.c; vm/ before 6.3); `N` is HMM_BUFFER_SIZE (4 MiB) in pages.
enum KselftestParity {
    static let bufferBytes = 1024 << 12
    static var bufferPages: Int { bufferBytes / Machine.pageSize }

    /// (fixture, name, extra needs, body) in hmm-tests.c's file order.
    struct Definition {
        var fixture: String
        var name: String
        var needs: [TestNeed] = []
        var timeout: Double? = nil
        var body: @Sendable (TestContext) throws -> Void
    }

    static let definitions: [Definition] = [
        .init(fixture: "hmm", name: "open_close") { c in
            let d = try c.openDevice()
            try c.require((try? d.close()) != nil, "close of the device failed")
        },
        .init(fixture: "hmm", name: "anon_read", body: anonRead),
        .init(fixture: "hmm", name: "anon_read_prot", body: anonReadProt),
        .init(fixture: "hmm", name: "anon_write", body: anonWrite),
        .init(fixture: "hmm", name: "anon_write_prot", body: anonWriteProt),
        .init(fixture: "hmm", name: "anon_write_child") { try anonWriteChild($0, shared: false) },
        .init(fixture: "hmm", name: "anon_write_child_shared") { try anonWriteChild($0, shared: true) },
        .init(fixture: "hmm", name: "anon_write_huge", body: anonWriteHuge),
        .init(fixture: "hmm", name: "anon_write_hugetlbfs", needs: [.freeHugePages(1)], body: anonWriteHugetlbfs),
        .init(fixture: "hmm", name: "file_read", body: fileRead),
        .init(fixture: "hmm", name: "file_write", body: fileWrite),
        .init(fixture: "hmm", name: "migrate", body: migrate),
        .init(fixture: "hmm", name: "migrate_file_private", body: migrateFilePrivate),
        .init(fixture: "hmm", name: "migrate_fault", body: migrateFault),
        .init(fixture: "hmm", name: "migrate_release", needs: [.operation(.release)], body: migrateRelease),
        .init(fixture: "hmm", name: "migrate_shared", body: migrateShared),
        .init(fixture: "hmm2", name: "migrate_mixed", body: migrateMixed),
        .init(fixture: "hmm", name: "migrate_multiple", body: migrateMultiple),
        .init(fixture: "hmm", name: "anon_read_multiple", body: anonReadMultiple),
        .init(fixture: "hmm", name: "anon_teardown", body: anonTeardown),
        .init(fixture: "hmm", name: "mixedmap", body: mixedmap),
        .init(fixture: "hmm2", name: "snapshot", body: snapshot),
        .init(fixture: "hmm", name: "compound", needs: [.freeHugePages(1)], body: compound),
        .init(fixture: "hmm2", name: "double_map", body: doubleMap),
        .init(fixture: "hmm", name: "exclusive", body: exclusive),
        .init(fixture: "hmm", name: "exclusive_mprotect", body: exclusiveMprotect),
        .init(fixture: "hmm", name: "exclusive_cow", body: exclusiveCow),
        .init(fixture: "hmm", name: "hmm_gup_test", needs: [.gupTest], body: gupTest),
        .init(fixture: "hmm", name: "hmm_cow_in_device", body: cowInDevice),
    ]

    // Every test below drives a ``CheckedProcess``: each step (mmap, CPU access, ioctl,
    // mprotect, fork...) goes to the reference model first and the kernel's answer is
    // checked against the model's envelope (errno, cpages, faults, every page's ints,
    // snapshot bytes). Hand-written checks remain only where the model has no words:
    // a racing munmap (anon_teardown), a mapping of the device file (mixedmap), gup_test
    // calls and a child that runs concurrently with its parent (hmm_cow_in_device).

    /// hmm-tests' fixture set-up and `hmm_buffer` in one: a checked process, the variant's
    /// (first) device, and a mapping of `pages`, written `ptr[i] = i` when `filled`.
    static func setUp(_ c: TestContext, pages: Int = bufferPages, _ prot: HMMModel.Protection = .readWrite,
                      kind: HMMModel.MappingKind = .anonPrivate, filled: Bool) throws -> (CheckedProcess, FdID, RegionID) {
        let p = try CheckedProcess(c)
        let fd = try p.open()
        let r = try p.mmap(pages: pages, prot, kind: kind)
        if filled { try p.cpuWrite(r, 0..<pages) }
        return (p, fd, r)
    }

    // MARK: read/write

    static func anonRead(_ c: TestContext) throws {
        let n = bufferPages
        let (p, fd, r) = try setUp(c, filled: false)
        try p.cpuWrite(r, 2..<n)
        try p.mprotect(r, 0..<n, .read)
        // The CPU reads page 1 (installs the zero page); page 0 stays untouched.
        try p.cpuRead(r, 1..<2)
        try p.ioctl(fd, .read, r, 0..<n)
    }

    static func anonReadProt(_ c: TestContext) throws {
        let n = bufferPages
        let (p, fd, r) = try setUp(c, filled: true)
        try p.mprotect(r, 0..<n, .none)
        try p.ioctl(fd, .read, r, 0..<n)  // the model: EFAULT
        // hmm-tests also checks that the failed READ left its mirror buffer (-i) alone: the
        // model has no words for a buffer, so the same READ again, by hand (EFAULT again),
        // into the ioctl buffer the checked READ already faulted in (a fresh 4 MiB mirror
        // cost 1,024 more page faults and cleared pages than hmm-tests' one).
        let mirror = p.performer.scratch(bytes: n * c.pageSize)
        let ints = n * c.pageSize / 4
        for i in 0..<ints { mirror.storeBytes(of: -Int32(truncatingIfNeeded: i), toByteOffset: i * 4, as: Int32.self) }
        try c.callFails("READ of PROT_NONE, again", with: .EFAULT) { () throws(DmirrorError) in
            try p.device(fd).perform(.read, address: p.address(r), pages: UInt64(n),
                                     buffer: UInt64(UInt(bitPattern: mirror.baseAddress!)))
        }
        for i in 0..<ints where mirror.load(fromByteOffset: i * 4, as: Int32.self) != -Int32(truncatingIfNeeded: i) {
            let value = mirror.load(fromByteOffset: i * 4, as: Int32.self)
            throw TestFailure("the failed READ wrote into its buffer: int \(i) is \(value)")
        }
        try p.mprotect(r, 0..<n, .read)
        try p.cpuRead(r, 0..<n)
    }

    static func anonWrite(_ c: TestContext) throws {
        let n = bufferPages
        let (p, fd, r) = try setUp(c, filled: false)
        try p.ioctl(fd, .write, r, 0..<n, data: p.pattern(0..<n))
        try p.cpuRead(r, 0..<n)
    }

    static func anonWriteProt(_ c: TestContext) throws {
        let n = bufferPages
        let (p, fd, r) = try setUp(c, .read, filled: false)
        try p.ioctl(fd, .read, r, 0..<1)
        try p.ioctl(fd, .write, r, 0..<n, data: p.pattern(0..<n))  // the model: EPERM
        try p.cpuRead(r, 0..<n)
        try p.mprotect(r, 0..<n, .readWrite)
        try p.ioctl(fd, .write, r, 0..<n, data: p.pattern(0..<n))
        try p.cpuRead(r, 0..<n)
    }

    /// The child mirrors its own mm, so it opens its own device file (hmm-tests: minor 0
    /// of the variant's device). The parent then sees its COW copy (private) or the
    /// child's data (shared), which hmm-tests does not check.
    static func anonWriteChild(_ c: TestContext, shared: Bool) throws {
        let p = try CheckedProcess(c)
        let n = bufferPages
        let r = try p.mmap(pages: n, kind: shared ? .anonShared : .anonPrivate)
        try p.cpuWrite(r, 0..<n)
        let childFd = p.newFd()
        var child: [Action] = (0..<n).map { .cpuRead(r, page: $0) }
        child.append(.open(childFd, minor: c.variant.minors[0]))
        child.append(.ioctl(IoctlCall(fd: childFd, .write, PageRange(r, 0, n), data: p.pattern(0..<n, stride: -1))))
        child += (0..<n).map { .cpuRead(r, page: $0) }
        try p.fork(child)
        try p.cpuRead(r, 0..<n)
    }

    static func anonWriteHuge(_ c: TestContext) throws {
        let p = try CheckedProcess(c)
        let fd = try p.open()
        let n = (1 << 21) / c.pageSize
        let r = try p.mmap(pages: n)  // a 2 MiB-aligned slot, as hmm-tests aligns by hand
        try p.madvise(r, 0..<n, .hugepage)
        try p.ioctl(fd, .write, r, 0..<n, data: p.pattern(0..<n))
        try p.cpuRead(r, 0..<n)
    }

    static func hugePageSize() -> Int? {
        SystemFacts.meminfo("Hugepagesize").map { $0 * 1024 }
    }

    /// A hugetlb mapping of one default-size huge page; nil (the test skips, as hmm-tests
    /// does) when none can be had.
    static func hugetlb(_ p: CheckedProcess, _ c: TestContext) throws -> (RegionID, Int) {
        guard let huge = hugePageSize() else { throw TestSkip("Huge page size could not be determined") }
        let n = max(huge, 1 << 21) / c.pageSize
        let (r, o) = try p.tryMmap(pages: n, kind: .hugetlb)
        if o.errno != 0 { throw TestSkip("Huge page could not be allocated") }
        return (r, n)
    }

    static func anonWriteHugetlbfs(_ c: TestContext) throws {
        let p = try CheckedProcess(c)
        let fd = try p.open()
        let (r, n) = try hugetlb(p, c)
        try p.ioctl(fd, .write, r, 0..<n, data: p.pattern(0..<n))
        try p.cpuRead(r, 0..<n)
    }

    static func fileRead(_ c: TestContext) throws {
        let p = try CheckedProcess(c)
        let fd = try p.open()
        let n = bufferPages
        let f = try p.newFile(pages: n)
        for (page, token) in zip(0..<n, p.pattern(0..<n)) { try p.step(.fileWrite(f, page: page, token: token)) }
        let r = try p.mmap(pages: n, .read, kind: .fileShared, file: f)
        try p.ioctl(fd, .read, r, 0..<n)
    }

    static func fileWrite(_ c: TestContext) throws {
        let p = try CheckedProcess(c)
        let fd = try p.open()
        let n = bufferPages
        let f = try p.newFile(pages: n)
        let r = try p.mmap(pages: n, kind: .fileShared, file: f)
        try p.ioctl(fd, .write, r, 0..<n, data: p.pattern(0..<n))
        try p.cpuRead(r, 0..<n)
        // hmm-tests checks the file with pread; a second mapping reads the same page cache.
        let view = try p.mmap(pages: n, .read, kind: .fileShared, file: f)
        try p.cpuRead(view, 0..<n)
    }

    // MARK: migration

    static func migrate(_ c: TestContext) throws {
        let n = bufferPages
        let (p, fd, r) = try setUp(c, filled: true)
        try p.ioctl(fd, .migrateToDevice, r, 0..<n)
    }

    static func migrateFilePrivate(_ c: TestContext) throws {
        let p = try CheckedProcess(c)
        let fd = try p.open()
        let n = bufferPages
        let f = try p.newFile(pages: n)
        let r = try p.mmap(pages: n, kind: .filePrivate, file: f)
        try p.cpuWrite(r, 0..<n)
        try p.ioctl(fd, .migrateToDevice, r, 0..<n)
    }

    static func migrateFault(_ c: TestContext) throws {
        let n = bufferPages
        let (p, fd, r) = try setUp(c, filled: true)
        try p.ioctl(fd, .migrateToDevice, r, 0..<n)
        try p.cpuRead(r, 0..<(n / 2))
        try p.ioctl(fd, .migrateToDevice, r, 0..<n)
    }

    static func migrateRelease(_ c: TestContext) throws {
        let n = bufferPages
        let (p, fd, r) = try setUp(c, filled: true)
        try p.ioctl(fd, .migrateToDevice, r, 0..<n)
        try p.ioctl(fd, .release, r, 0..<n)
        try p.cpuRead(r, 0..<(n / 2))
    }

    static func migrateShared(_ c: TestContext) throws {
        let n = bufferPages
        let (p, fd, r) = try setUp(c, kind: .anonShared, filled: false)
        try p.ioctl(fd, .migrateToDevice, r, 0..<n)  // the model: ENOENT
    }

    static func migrateMixed(_ c: TestContext) throws {
        let p = try CheckedProcess(c)
        let d0 = try p.open(0)
        let d1 = try p.open(1)
        let r = try p.mmap(pages: 6, .none)
        try p.ioctl(d1, .migrateToDevice, r, 0..<6)  // EINVAL: PROT_NONE
        try p.munmap(r, 1..<2)
        try p.ioctl(d1, .migrateToDevice, r, 0..<3)  // EINVAL: a hole
        try p.mprotect(r, 2..<3, .read)
        try p.cpuRead(r, 2..<3)  // the zero page
        try p.mprotect(r, 3..<4, .readWrite)
        try p.cpuWrite(r, 3..<4)
        try p.mprotect(r, 3..<4, .read)
        try p.mprotect(r, 4..<6, .readWrite)
        try p.cpuWrite(r, 4..<6)
        try p.ioctl(d1, .migrateToDevice, r, 2..<6)
        try p.ioctl(d0, .migrateToDevice, r, 5..<6)
    }

    static func migrateMultiple(_ c: TestContext) throws {
        let p = try CheckedProcess(c)
        let fd = try p.open()
        let n = bufferPages
        for _ in 0..<10 {
            let r = try p.mmap(pages: n)
            try p.cpuWrite(r, 0..<n)
            try p.ioctl(fd, .migrateToDevice, r, 0..<n)
            if c.variant.isCoherent { try p.ioctl(fd, .migrateToSystem, r, 0..<n) }
            try p.cpuRead(r, 0..<n)
            try p.munmap(r, 0..<n)
        }
    }

    static func anonReadMultiple(_ c: TestContext) throws {
        let p = try CheckedProcess(c)
        let fd = try p.open()
        let n = bufferPages
        for round in 0..<Int32(10) {
            let r = try p.mmap(pages: n)
            try p.cpuWrite(r, 0..<n, offset: round)
            try p.ioctl(fd, .read, r, 0..<n)
            try p.munmap(r, 0..<n)
        }
    }

    /// A thread unmaps half the range while the device reads it; errors are fine, a wrong
    /// success is not. (Threads are safe here: the test already runs in its own forked child.)
    static func anonTeardown(_ c: TestContext) throws {
        let d = try c.openDevice()
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        for round in 0..<Int32(10) {
            let b = try TestBuffer(pages: bufferPages)
            b.fill(offset: round)
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let delay = UInt32((seed >> 33) % 32)  // µs, like the C test's 0–31 999 ns
            let half = b.pages / 2
            let racer = try UnmapRacer(address: b.region.address(ofPage: half), length: (b.pages - half) * c.pageSize,
                                       delayMicroseconds: delay)
            let r: DmirrorResult? = try? d.read(b.region, into: b.mirror)
            racer.join()
            if let r {
                try c.requireResult(r, cpages: b.pages, faults: 1, "READ round \(round)")
                try c.requireMirror(b, "mirror round \(round)", offset: round)
            }
        }
    }

    static func mixedmap(_ c: TestContext) throws {
        let d = try c.openDevice()
        let region = try MappedRegion.device(d.fd, length: c.pageSize, protection: .readWrite)
        let b = TestBuffer(region: region, mirrorBytes: 1)
        let (r, bytes) = try c.call("SNAPSHOT") { () throws(DmirrorError) in try d.snapshot(b.region) }
        try c.requireResult(r, cpages: 1, "SNAPSHOT")
        try c.require(bytes[0] == 0x01, "snapshot byte 0x\(String(bytes[0], radix: 16)), expected 0x1 (READ)")
    }

    static func snapshot(_ c: TestContext) throws {
        let p = try CheckedProcess(c)
        let d0 = try p.open(0)
        let d1 = try p.open(1)
        let r = try p.mmap(pages: 7)
        try p.cpuWrite(r, 0..<7)
        try p.mprotect(r, 0..<1, .none)
        try p.munmap(r, 1..<2)
        try p.madvise(r, 2..<3, .dontneed)
        try p.mprotect(r, 2..<3, .read)
        try p.cpuRead(r, 2..<3)  // the zero page
        try p.mprotect(r, 3..<4, .read)
        try p.ioctl(d0, .migrateToDevice, r, 5..<6)
        try p.ioctl(d1, .migrateToDevice, r, 6..<7)
        try p.ioctl(d0, .snapshot, r, 0..<7)
    }

    static func compound(_ c: TestContext) throws {
        let p = try CheckedProcess(c)
        let fd = try p.open()
        let (r, n) = try hugetlb(p, c)
        try p.cpuWrite(r, 0..<n)
        try p.ioctl(fd, .snapshot, r, 0..<n)
        try p.mprotect(r, 0..<n, .read)
        try p.ioctl(fd, .snapshot, r, 0..<n)
    }

    static func doubleMap(_ c: TestContext) throws {
        let p = try CheckedProcess(c)
        let d0 = try p.open(0)
        let d1 = try p.open(1)
        let r = try p.mmap(pages: 6)
        try p.cpuWrite(r, 0..<6)
        try p.mprotect(r, 0..<6, .read)
        try p.ioctl(d0, .read, r, 0..<6)
        try p.ioctl(d1, .read, r, 0..<6)
        try p.ioctl(d1, .migrateToDevice, r, 0..<6)
        try p.ioctl(d0, .read, r, 0..<6)
    }

    // MARK: exclusive access

    static func exclusive(_ c: TestContext) throws {
        let n = bufferPages
        let (p, fd, r) = try setUp(c, filled: true)
        try p.ioctl(fd, .exclusive, r, 0..<n)
        try p.cpuIncrement(r, 0..<n)
        try p.cpuRead(r, 0..<n)
        try p.ioctl(fd, .checkExclusive, r, 0..<n)
    }

    static func exclusiveMprotect(_ c: TestContext) throws {
        let n = bufferPages
        let (p, fd, r) = try setUp(c, filled: true)
        try p.ioctl(fd, .exclusive, r, 0..<n)
        try p.mprotect(r, 0..<n, .read)
        try p.ioctl(fd, .write, r, 0..<n, data: p.pattern(0..<n))  // the model: EPERM
    }

    /// hmm-tests increments in parent and child at once; here the child goes first (one
    /// of the interleavings the C test allows), then the parent.
    static func exclusiveCow(_ c: TestContext) throws {
        let n = bufferPages
        let (p, fd, r) = try setUp(c, filled: true)
        try p.ioctl(fd, .exclusive, r, 0..<n)
        let plusOne = p.pattern(0..<n, offset: 1)
        var child: [Action] = []
        for page in 0..<n { child += [.cpuRead(r, page: page), .cpuWrite(r, page: page, token: plusOne[page])] }
        child += (0..<n).map { .cpuRead(r, page: $0) }
        try p.fork(child)
        try p.cpuIncrement(r, 0..<n)
        try p.cpuRead(r, 0..<n)
    }

    /// The migration is checked by the model; gup_test's calls and the snapshot after them
    /// are not (the model has no GUP step): hand-written as in hmm-tests.
    static func gupTest(_ c: TestContext) throws {
        let gup: GupTestDevice
        do { gup = try GupTestDevice() } catch { throw TestSkip("Skipping test, could not find gup_test driver") }
        let (p, fd, r) = try setUp(c, pages: 4, filled: true)
        try p.ioctl(fd, .migrateToDevice, r, 0..<4)
        let longterm = GupTestDevice.follLongterm(release: KernelVersion(Machine.kernelRelease))
        let calls: [(GupTestDevice.Command, UInt32)] = [
            (.basicTest, 0), (.fastBenchmark, 0), (.pinFastBenchmark, longterm), (.pinLongtermBenchmark, 0),
        ]
        for (page, (command, flags)) in calls.enumerated() {
            do {
                try gup.run(command, address: p.address(r, page: page), pages: 1, size: UInt64(c.pageSize), extraFlags: flags)
            } catch { throw TestFailure("gup_test \(command) on page \(page): \(error)") }
        }
        let bytes = try snapshotUnchecked(p, fd, r, pages: 4, c)
        let first: UInt8 = c.variant.isCoherent ? 0x42 : 0x02
        let expected: [UInt8] = [first, first, 0x02, 0x02]
        try c.require(bytes == expected, "snapshot \(hexBytes(bytes)), expected \(hexBytes(expected))")
        try checkIntsUnchecked(p, r, pages: 4, c)
    }

    /// The CPU writes while a forked child (which the model does not know of: it runs
    /// concurrently) still shares the pages, so every write is a COW to system memory.
    static func cowInDevice(_ c: TestContext) throws {
        let (p, fd, r) = try setUp(c, pages: 4, filled: true)
        try p.ioctl(fd, .migrateToDevice, r, 0..<4)
        let child = try ForkedChild.spawn(newProcessGroup: false) { _ in
            while true { Sys.pause() }
        }
        let base = p.address(r)
        VirtualMemory.store(at: base, bytes: 4 * c.pageSize) { raw in
            for page in 0..<4 {
                IntRun.fill(UnsafeMutableRawBufferPointer(rebasing: raw[(page * c.pageSize)..<((page + 1) * c.pageSize)]),
                            token: p.pattern(page..<(page + 1))[0])
            }
        }
        child.killGroup()
        let end = child.wait()
        try c.require(end == .signaled(SIGKILL), "child \(end), expected killed by SIGKILL")
        let bytes = try snapshotUnchecked(p, fd, r, pages: 4, c)
        try c.require(bytes == [2, 2, 2, 2], "snapshot \(hexBytes(bytes)), expected 02 02 02 02")
    }

    /// SNAPSHOT outside the model (after steps it could not follow).
    static func snapshotUnchecked(_ p: CheckedProcess, _ fd: FdID, _ r: RegionID, pages: Int, _ c: TestContext) throws -> [UInt8] {
        let buffer = DeviceBuffer(bytes: pages)
        let s = try c.call("SNAPSHOT") { () throws(DmirrorError) in
            try p.device(fd).perform(.snapshot, address: p.address(r), pages: UInt64(pages), buffer: buffer.address)
        }
        try c.requireResult(s, cpages: pages, "SNAPSHOT")
        return Array(UnsafeRawBufferPointer(buffer.bytes).prefix(pages))
    }

    /// `ptr[i] == i` over `pages`, read by the CPU outside the model.
    static func checkIntsUnchecked(_ p: CheckedProcess, _ r: RegionID, pages: Int, _ c: TestContext) throws {
        let want = p.pattern(0..<pages)
        for page in 0..<pages {
            let got = VirtualMemory.load(at: p.address(r, page: page), bytes: c.pageSize) { IntRun.decode($0) }
            let found = got.map { IntRun(token: $0)?.description ?? "?" } ?? "not ints i"
            try c.require(got == want[page], "page \(page): \(found), expected \(IntRun(token: want[page])!)")
        }
    }
}

func hexBytes(_ bytes: [UInt8]) -> String {
    bytes.map { String(format2: $0) }.joined(separator: " ")
}

extension String {
    init(format2 byte: UInt8) {
        let s = String(byte, radix: 16)
        self = s.count == 1 ? "0" + s : s
    }
}

extension TestFailure {
    static func check(_ condition: Bool, _ message: String, file: String = #fileID, line: Int = #line) throws {
        if !condition { throw TestFailure(message, file: file, line: line) }
    }
}
