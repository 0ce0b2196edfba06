#if canImport(Glibc)
import Glibc
#endif
import HMMKernel
import HMMUAPI

/// hmm-tests.c's cases under the same names, for both device types, so results line up
/// with kselftest's one to one. Page counts and expectations follow the C tests
/// (reference §4.2); `N` is HMM_BUFFER_SIZE (4 MiB) in pages.
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

    // MARK: read/write

    static func anonRead(_ c: TestContext) throws {
        let d = try c.openDevice()
        let n = bufferPages
        let b = try TestBuffer(pages: n)
        let ps = c.pageSize / 4
        b.fill((2 * ps)..<b.intCount) { Int32(truncatingIfNeeded: $0) }
        try b.region.protect(.read)
        // The CPU reads page 1 (installs the zero page); page 0 stays untouched.
        try c.requireData(b, ps..<(ps + 1), "page 1 before read") { _ in 0 }
        let r = try c.call("READ") { () throws(DmirrorError) in try d.read(b.region, into: b.mirror) }
        try c.requireResult(r, cpages: n, faults: 1, "READ")
        try c.requireMirror(b, 0..<(2 * ps), "zero pages") { _ in 0 }
        try c.requireMirror(b, (2 * ps)..<b.intCount) { Int32(truncatingIfNeeded: $0) }
    }

    static func anonReadProt(_ c: TestContext) throws {
        let d = try c.openDevice()
        let b = try TestBuffer(pages: bufferPages)
        b.fill { Int32(truncatingIfNeeded: $0) }
        b.fillMirror { -Int32($0) }
        try b.region.protect(.none)
        try c.callFails("READ of PROT_NONE", with: .EFAULT) { () throws(DmirrorError) in try d.read(b.region, into: b.mirror) }
        try b.region.protect(.read)
        try c.requireData(b) { Int32(truncatingIfNeeded: $0) }
        try c.requireMirror(b, "mirror after EFAULT") { -Int32($0) }
    }

    static func anonWrite(_ c: TestContext) throws {
        let d = try c.openDevice()
        let n = bufferPages
        let b = try TestBuffer(pages: n)
        b.fillMirror { Int32(truncatingIfNeeded: $0) }
        let r = try c.call("WRITE") { () throws(DmirrorError) in try d.write(b.region, from: b.mirror) }
        try c.requireResult(r, cpages: n, faults: 1, "WRITE")
        try c.requireData(b) { Int32(truncatingIfNeeded: $0) }
    }

    static func anonWriteProt(_ c: TestContext) throws {
        let d = try c.openDevice()
        let n = bufferPages
        let b = try TestBuffer(pages: n, protection: .read)
        let r1 = try c.call("READ 1 page") { () throws(DmirrorError) in try d.read(b.region, pages: 0..<1, into: b.mirror) }
        try c.requireResult(r1, cpages: 1, faults: 1, "READ 1 page")
        b.fillMirror { Int32(truncatingIfNeeded: $0) }
        try c.callFails("WRITE to PROT_READ", with: .EPERM) { () throws(DmirrorError) in try d.write(b.region, from: b.mirror) }
        try c.requireData(b, "memory after EPERM") { _ in 0 }
        try b.region.protect(.readWrite)
        let r2 = try c.call("WRITE") { () throws(DmirrorError) in try d.write(b.region, from: b.mirror) }
        try c.requireResult(r2, cpages: n, faults: 1, "WRITE")
        try c.requireData(b) { Int32(truncatingIfNeeded: $0) }
    }

    static func anonWriteChild(_ c: TestContext, shared: Bool) throws {
        let n = bufferPages
        let b = try TestBuffer(pages: n, kind: shared ? .anonymousShared : .anonymousPrivate)
        b.fill { Int32(truncatingIfNeeded: $0) }
        b.fillMirror { -Int32($0) }
        let generation = c.generation
        // The child mirrors its own mm, so it opens its own fd (hmm-tests opens minor 0).
        var child = try ForkedChild.spawn(newProcessGroup: false) { send in
            do {
                guard b.firstMismatch(nil, { Int32(truncatingIfNeeded: $0) }) == nil, b.mirrorMismatch(nil, { -Int32($0) }) == nil else {
                    send("child saw wrong initial data"); return 1
                }
                let d = try DmirrorDevice(minor: 0, generation: generation)
                let r = try d.write(b.region, from: b.mirror)
                guard r.cpages == UInt64(n), r.faults == 1 else { send("child WRITE cpages \(r.cpages) faults \(r.faults)"); return 1 }
                guard b.firstMismatch(nil, { -Int32($0) }) == nil else { send("child data not -i after WRITE"); return 1 }
                return 0
            } catch {
                send("child: \(error)"); return 1
            }
        }
        while case let .line(l) = child.next(deadline: monotonicSeconds() + 25) { c.log(l) }
        let end = child.wait()
        try c.require(end == .exited(0), "child \(end)")
        if shared {
            try c.requireData(b, "parent sees the child's write") { -Int32($0) }
        } else {
            try c.requireData(b, "parent's COW copy unchanged") { Int32(truncatingIfNeeded: $0) }
        }
    }

    static func anonWriteHuge(_ c: TestContext) throws {
        let d = try c.openDevice()
        let twoMeg = 1 << 21
        let whole = try MappedRegion.anonymous(length: 2 * twoMeg)
        let offset = Int((UInt64(twoMeg) - whole.address % UInt64(twoMeg)) % UInt64(twoMeg)) / c.pageSize
        let n = twoMeg / c.pageSize
        try whole.advise(pages: offset..<(offset + n), .hugePage)
        let mirror = DeviceBuffer(bytes: twoMeg)
        let ints = mirror.bytes.bindMemory(to: Int32.self)
        for i in 0..<ints.count { ints[i] = Int32(i) }
        let r = try c.call("WRITE huge") { () throws(DmirrorError) in
            try d.perform(.write, address: whole.address(ofPage: offset), pages: UInt64(n), buffer: mirror.address)
        }
        try c.requireResult(r, cpages: n, faults: 1, "WRITE huge")
        try whole.withBytes(pages: offset..<(offset + n)) { raw in
            let got = raw.bindMemory(to: Int32.self)
            for i in 0..<got.count where got[i] != Int32(i) {
                throw TestFailure("huge data int \(i) is \(got[i])")
            }
        }
    }

    static func hugePageSize() -> Int? {
        SystemFacts.meminfo("Hugepagesize").map { $0 * 1024 }
    }

    static func anonWriteHugetlbfs(_ c: TestContext) throws {
        guard let huge = hugePageSize() else { throw TestSkip("Huge page size could not be determined") }
        let d = try c.openDevice()
        let size = max(huge, 1 << 21)
        let region: MappedRegion
        do { region = try MappedRegion.anonymous(length: size, kind: .hugetlb) } catch {
            throw TestSkip("Huge page could not be allocated")
        }
        let b = TestBuffer(region: region)
        b.fillMirror { Int32(truncatingIfNeeded: $0) }
        let r = try c.call("WRITE hugetlb") { () throws(DmirrorError) in try d.write(b.region, from: b.mirror) }
        try c.requireResult(r, cpages: b.pages, faults: 1, "WRITE hugetlb")
        try c.requireData(b) { Int32(truncatingIfNeeded: $0) }
    }

    static func tmpfile(bytes: Int, _ value: (Int) -> Int32) throws -> FileDescriptor {
        let fd = try FileDescriptor.temporaryFile(size: bytes)
        var data = [Int32](repeating: 0, count: bytes / 4)
        for i in data.indices { data[i] = value(i) }
        let written = try data.withUnsafeBytes { try fd.pwrite($0, at: 0) }
        try TestFailure.check(written == bytes, "pwrite wrote \(written) of \(bytes) bytes")
        return fd
    }

    static func fileRead(_ c: TestContext) throws {
        let d = try c.openDevice()
        let n = bufferPages
        let fd = try tmpfile(bytes: n * c.pageSize) { Int32(truncatingIfNeeded: $0) }
        let b = TestBuffer(region: try MappedRegion.file(fd, length: n * c.pageSize, protection: .read, shared: true))
        let r = try c.call("READ file") { () throws(DmirrorError) in try d.read(b.region, into: b.mirror) }
        try c.requireResult(r, cpages: n, faults: 1, "READ file")
        try c.requireMirror(b) { Int32(truncatingIfNeeded: $0) }
    }

    static func fileWrite(_ c: TestContext) throws {
        let d = try c.openDevice()
        let n = bufferPages
        let fd = try FileDescriptor.temporaryFile(size: n * c.pageSize)
        let b = TestBuffer(region: try MappedRegion.file(fd, length: n * c.pageSize, protection: .readWrite, shared: true))
        b.fillMirror { Int32(truncatingIfNeeded: $0) }
        let r = try c.call("WRITE file") { () throws(DmirrorError) in try d.write(b.region, from: b.mirror) }
        try c.requireResult(r, cpages: n, faults: 1, "WRITE file")
        try c.requireData(b) { Int32(truncatingIfNeeded: $0) }
        var back = [Int32](repeating: 0, count: n * c.pageSize / 4)
        _ = try back.withUnsafeMutableBytes { try fd.pread(into: $0, at: 0) }
        for i in back.indices where back[i] != Int32(i) { throw TestFailure("pread int \(i) is \(back[i])") }
    }

    // MARK: migration

    static func migrate(_ c: TestContext) throws {
        let d = try c.openDevice()
        let b = try TestBuffer(pages: bufferPages)
        b.fill { Int32(truncatingIfNeeded: $0) }
        try c.migrateChecked(d, b, "MIGRATE_TO_DEV")
    }

    static func migrateFilePrivate(_ c: TestContext) throws {
        let d = try c.openDevice()
        let n = bufferPages
        let fd = try FileDescriptor.temporaryFile(size: n * c.pageSize)
        let b = TestBuffer(region: try MappedRegion.file(fd, length: n * c.pageSize, protection: .readWrite, shared: false))
        b.fill { Int32(truncatingIfNeeded: $0) }
        try c.migrateChecked(d, b, "MIGRATE_TO_DEV")
    }

    static func migrateFault(_ c: TestContext) throws {
        let d = try c.openDevice()
        let b = try TestBuffer(pages: bufferPages)
        b.fill { Int32(truncatingIfNeeded: $0) }
        for round in 0..<2 {
            try c.migrateChecked(d, b, "MIGRATE_TO_DEV #\(round + 1)")
            if round == 0 { try c.requireData(b, 0..<(b.intCount / 2), "CPU read of first half") { Int32(truncatingIfNeeded: $0) } }
        }
    }

    static func migrateRelease(_ c: TestContext) throws {
        let d = try c.openDevice()
        let b = try TestBuffer(pages: bufferPages)
        b.fill { Int32(truncatingIfNeeded: $0) }
        try c.migrateChecked(d, b, "MIGRATE_TO_DEV")
        _ = try c.call("RELEASE") { () throws(DmirrorError) in try d.release(b.region) }
        try c.requireData(b, 0..<(b.intCount / 2), "CPU read after RELEASE") { Int32(truncatingIfNeeded: $0) }
    }

    static func migrateShared(_ c: TestContext) throws {
        let d = try c.openDevice()
        let b = try TestBuffer(pages: bufferPages, kind: .anonymousShared)
        try c.callFails("MIGRATE_TO_DEV of shared anon", with: .ENOENT) { () throws(DmirrorError) in
            try d.migrateToDevice(b.region, readBack: b.mirror)
        }
    }

    static func migrateMixed(_ c: TestContext) throws {
        let d0 = try c.openDevice(0)
        let d1 = try c.openDevice(1)
        let b = try TestBuffer(pages: 6, protection: .none)
        try c.callFails("migrate 6 PROT_NONE pages", with: .EINVAL) { () throws(DmirrorError) in
            try d1.migrateToDevice(b.region, readBack: b.mirror)
        }
        try b.region.unmap(pages: 1..<2)
        try c.callFails("migrate over a hole", with: .EINVAL) { () throws(DmirrorError) in
            try d1.migrateToDevice(b.region, pages: 0..<3, readBack: b.mirror)
        }
        try b.region.protect(pages: 2..<3, .read)
        try c.requireData(b, (2 * c.pageSize / 4)..<(2 * c.pageSize / 4 + 1), "zero page") { _ in 0 }
        try b.region.protect(pages: 3..<4, .readWrite)
        b.fill((3 * c.pageSize / 4)..<(4 * c.pageSize / 4)) { Int32(truncatingIfNeeded: $0) }
        try b.region.protect(pages: 3..<4, .read)
        try b.region.protect(pages: 4..<6, .readWrite)
        b.fill((4 * c.pageSize / 4)..<(6 * c.pageSize / 4)) { Int32(truncatingIfNeeded: $0) }
        let r = try c.call("migrate pages 2-5 to device 1") { () throws(DmirrorError) in
            try d1.migrateToDevice(b.region, pages: 2..<6, readBack: b.mirror)
        }
        try c.requireResult(r, cpages: 4, "migrate pages 2-5")
        try c.callFails("migrate page 5 to device 0", with: .ENOENT) { () throws(DmirrorError) in
            try d0.migrateToDevice(b.region, pages: 5..<6, readBack: b.mirror)
        }
    }

    static func migrateMultiple(_ c: TestContext) throws {
        let d = try c.openDevice()
        for round in 0..<10 {
            let b = try TestBuffer(pages: bufferPages)
            b.fill { Int32(truncatingIfNeeded: $0) }
            try c.migrateChecked(d, b, "MIGRATE_TO_DEV round \(round)")
            if c.variant.isCoherent {
                let s = try c.call("MIGRATE_TO_SYS round \(round)") { () throws(DmirrorError) in try d.migrateToSystem(b.region) }
                try c.requireResult(s, cpages: b.pages, "MIGRATE_TO_SYS round \(round)")
            }
            try c.requireData(b) { Int32(truncatingIfNeeded: $0) }
        }
    }

    static func anonReadMultiple(_ c: TestContext) throws {
        let d = try c.openDevice()
        for round in 0..<10 {
            let b = try TestBuffer(pages: bufferPages)
            b.fill { Int32(truncatingIfNeeded: $0 + round) }
            let r = try c.call("READ round \(round)") { () throws(DmirrorError) in try d.read(b.region, into: b.mirror) }
            try c.requireResult(r, cpages: b.pages, faults: 1, "READ round \(round)")
            try c.requireMirror(b) { Int32(truncatingIfNeeded: $0 + round) }
        }
    }

    /// A thread unmaps half the range while the device reads it; errors are fine, a wrong
    /// success is not. (Threads are safe here: the test already runs in its own forked child.)
    static func anonTeardown(_ c: TestContext) throws {
        let d = try c.openDevice()
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        for round in 0..<10 {
            let b = try TestBuffer(pages: bufferPages)
            b.fill { Int32(truncatingIfNeeded: $0 + round) }
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let delay = UInt32((seed >> 33) % 32)  // µs, like the C test's 0–31 999 ns
            let half = b.pages / 2
            let racer = try UnmapRacer(address: b.region.address(ofPage: half), length: (b.pages - half) * c.pageSize, delayMicroseconds: delay)
            let r: DmirrorResult? = try? d.read(b.region, into: b.mirror)
            racer.join()
            if let r {
                try c.requireResult(r, cpages: b.pages, faults: 1, "READ round \(round)")
                try c.requireMirror(b) { Int32(truncatingIfNeeded: $0 + round) }
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
        let d0 = try c.openDevice(0)
        let d1 = try c.openDevice(1)
        let b = try TestBuffer(pages: 7)
        let ps = c.pageSize / 4
        b.fill { Int32(truncatingIfNeeded: $0) }
        try b.region.protect(pages: 0..<1, .none)
        try b.region.unmap(pages: 1..<2)
        try b.region.advise(pages: 2..<3, .dontNeed)
        try b.region.protect(pages: 2..<3, .read)
        try c.requireData(b, (2 * ps)..<(2 * ps + 1), "zero page") { _ in 0 }
        try b.region.protect(pages: 3..<4, .read)
        let r5 = try c.call("migrate page 5 to device 0") { () throws(DmirrorError) in try d0.migrateToDevice(b.region, pages: 5..<6, readBack: b.mirror) }
        try c.requireResult(r5, cpages: 1, "migrate page 5")
        let r6 = try c.call("migrate page 6 to device 1") { () throws(DmirrorError) in try d1.migrateToDevice(b.region, pages: 6..<7, readBack: b.mirror) }
        try c.requireResult(r6, cpages: 1, "migrate page 6")
        let (r, bytes) = try c.call("SNAPSHOT") { () throws(DmirrorError) in try d0.snapshot(b.region) }
        try c.requireResult(r, cpages: 7, "SNAPSHOT")
        let expected: [UInt8] = [0xFF, 0xFF, 0x11, 0x01, 0x02] + (c.variant.isCoherent ? [0x42, 0x52] : [0x22, 0x00])
        try c.require(bytes == expected, "snapshot \(hexBytes(bytes)), expected \(hexBytes(expected))")
    }

    static func compound(_ c: TestContext) throws {
        guard let huge = hugePageSize() else { throw TestSkip("Huge page size could not be determined") }
        let d = try c.openDevice()
        let region: MappedRegion
        do { region = try MappedRegion.anonymous(length: max(huge, 1 << 21), kind: .hugetlb) } catch {
            throw TestSkip("Huge page could not be allocated")
        }
        let b = TestBuffer(region: region)
        b.fill { Int32(truncatingIfNeeded: $0) }
        for (protection, access) in [(Protection.readWrite, UInt8(0x02)), (.read, 0x01)] {
            try b.region.protect(protection)
            let (r, bytes) = try c.call("SNAPSHOT") { () throws(DmirrorError) in try d.snapshot(b.region) }
            try c.requireResult(r, cpages: b.pages, "SNAPSHOT")
            let size: UInt8 = bytes[0] & 0x08 != 0 ? 0x08 : 0x04
            let want = access | size
            if let bad = bytes.firstIndex(where: { $0 != want }) {
                throw TestFailure("snapshot byte \(bad) is 0x\(String(bytes[bad], radix: 16)), expected 0x\(String(want, radix: 16))")
            }
        }
    }

    static func doubleMap(_ c: TestContext) throws {
        let d0 = try c.openDevice(0)
        let d1 = try c.openDevice(1)
        let b = try TestBuffer(pages: 6)
        b.fill { Int32(truncatingIfNeeded: $0) }
        try b.region.protect(.read)
        let r0 = try c.call("READ device 0") { () throws(DmirrorError) in try d0.read(b.region, into: b.mirror) }
        try c.requireResult(r0, cpages: 6, faults: 1, "READ device 0")
        try c.requireMirror(b) { Int32(truncatingIfNeeded: $0) }
        let r1 = try c.call("READ device 1") { () throws(DmirrorError) in try d1.read(b.region, into: b.mirror) }
        try c.requireResult(r1, cpages: 6, faults: 1, "READ device 1")
        try c.requireMirror(b) { Int32(truncatingIfNeeded: $0) }
        let m = try c.call("migrate to device 1") { () throws(DmirrorError) in try d1.migrateToDevice(b.region, readBack: b.mirror) }
        try c.requireResult(m, cpages: 6, "migrate to device 1")
        let r = try c.call("READ device 0 after migration") { () throws(DmirrorError) in try d0.read(b.region, into: b.mirror) }
        try c.requireResult(r, cpages: 6, faults: 1, "READ device 0 after migration")
        try c.requireMirror(b) { Int32(truncatingIfNeeded: $0) }
    }

    // MARK: exclusive access

    static func exclusive(_ c: TestContext) throws {
        let d = try c.openDevice()
        let b = try TestBuffer(pages: bufferPages)
        b.fill { Int32(truncatingIfNeeded: $0) }
        let r = try c.call("EXCLUSIVE") { () throws(DmirrorError) in try d.exclusive(b.region, readBack: b.mirror) }
        try c.requireResult(r, cpages: b.pages, "EXCLUSIVE")
        try c.requireMirror(b) { Int32(truncatingIfNeeded: $0) }
        b.region.withBytes(pages: 0..<b.pages) { raw in
            let ints = raw.bindMemory(to: Int32.self)
            for i in 0..<ints.count { ints[i] += 1 }
        }
        try c.requireData(b, "CPU increment of exclusive pages") { Int32(truncatingIfNeeded: $0 + 1) }
        _ = try c.call("CHECK_EXCLUSIVE") { () throws(DmirrorError) in try d.checkExclusive(b.region) }
    }

    static func exclusiveMprotect(_ c: TestContext) throws {
        let d = try c.openDevice()
        let b = try TestBuffer(pages: bufferPages)
        b.fill { Int32(truncatingIfNeeded: $0) }
        let r = try c.call("EXCLUSIVE") { () throws(DmirrorError) in try d.exclusive(b.region, readBack: b.mirror) }
        try c.requireResult(r, cpages: b.pages, "EXCLUSIVE")
        try c.requireMirror(b) { Int32(truncatingIfNeeded: $0) }
        try b.region.protect(.read)
        try c.callFails("WRITE after mprotect RO", with: .EPERM) { () throws(DmirrorError) in try d.write(b.region, from: b.mirror) }
    }

    static func exclusiveCow(_ c: TestContext) throws {
        let d = try c.openDevice()
        let b = try TestBuffer(pages: bufferPages)
        b.fill { Int32(truncatingIfNeeded: $0) }
        let r = try c.call("EXCLUSIVE") { () throws(DmirrorError) in try d.exclusive(b.region, readBack: b.mirror) }
        try c.requireResult(r, cpages: b.pages, "EXCLUSIVE")
        let increment = {
            b.region.withBytes(pages: 0..<b.pages) { raw in
                let ints = raw.bindMemory(to: Int32.self)
                for i in 0..<ints.count { ints[i] += 1 }
            }
        }
        var child = try ForkedChild.spawn(newProcessGroup: false) { send in
            increment()
            if let m = b.firstMismatch(nil, { Int32(truncatingIfNeeded: $0 + 1) }) { send("child int \(m.index) is \(m.got)"); return 1 }
            return 0
        }
        increment()
        try c.requireData(b, "parent after COW") { Int32(truncatingIfNeeded: $0 + 1) }
        while case let .line(l) = child.next(deadline: monotonicSeconds() + 25) { c.log(l) }
        let end = child.wait()
        try c.require(end == .exited(0), "child \(end)")
    }

    static func gupTest(_ c: TestContext) throws {
        let gup: GupTestDevice
        do { gup = try GupTestDevice() } catch { throw TestSkip("Skipping test, could not find gup_test driver") }
        let d = try c.openDevice()
        let b = try TestBuffer(pages: 4)
        b.fill { Int32(truncatingIfNeeded: $0) }
        try c.migrateChecked(d, b, "MIGRATE_TO_DEV")
        let longterm = GupTestDevice.follLongterm(release: KernelVersion(Machine.kernelRelease))
        let calls: [(GupTestDevice.Command, UInt32)] = [(.basicTest, 0), (.fastBenchmark, 0), (.pinFastBenchmark, longterm), (.pinLongtermBenchmark, 0)]
        for (page, (command, flags)) in calls.enumerated() {
            do {
                try gup.run(command, address: b.region.address(ofPage: page), pages: 1, size: UInt64(c.pageSize), extraFlags: flags)
            } catch { throw TestFailure("gup_test \(command) on page \(page): \(error)") }
        }
        let (s, bytes) = try c.call("SNAPSHOT") { () throws(DmirrorError) in try d.snapshot(b.region) }
        try c.requireResult(s, cpages: 4, "SNAPSHOT")
        let first: UInt8 = c.variant.isCoherent ? 0x42 : 0x02
        let expected: [UInt8] = [first, first, 0x02, 0x02]
        try c.require(bytes == expected, "snapshot \(hexBytes(bytes)), expected \(hexBytes(expected))")
        try c.requireData(b) { Int32(truncatingIfNeeded: $0) }
    }

    static func cowInDevice(_ c: TestContext) throws {
        let d = try c.openDevice()
        let b = try TestBuffer(pages: 4)
        b.fill { Int32(truncatingIfNeeded: $0) }
        let r = try c.call("MIGRATE_TO_DEV") { () throws(DmirrorError) in try d.migrateToDevice(b.region, readBack: b.mirror) }
        try c.requireResult(r, cpages: 4, "MIGRATE_TO_DEV")
        let child = try ForkedChild.spawn(newProcessGroup: false) { _ in
            while true { pause() }
        }
        b.fill { Int32(truncatingIfNeeded: $0) }  // COW: device-private pages fault back first
        child.killGroup()
        let end = child.wait()
        try c.require(end == .signaled(SIGKILL), "child \(end), expected killed by SIGKILL")
        let (s, bytes) = try c.call("SNAPSHOT") { () throws(DmirrorError) in try d.snapshot(b.region) }
        try c.requireResult(s, cpages: 4, "SNAPSHOT")
        try c.require(bytes == [2, 2, 2, 2], "snapshot \(hexBytes(bytes)), expected 02 02 02 02")
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
