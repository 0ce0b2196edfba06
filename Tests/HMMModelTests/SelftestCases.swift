import HMMModel
import HMMSystem
import HMMUAPI
import Testing

/// The kernel selftest's cases (tools/testing/selftests/mm/hmm-tests.c) worked by hand.
@Suite struct SelftestCases {
    let n = 16

    @Test func anonRead() {
        var d = Driver()
        d.mmap(0, n)
        d.write(0, 2..<n, base: 100)
        d.run(.mprotect(PageRange(0, 0, n), .read))
        #expect(d.read(0, 1) == 0)
        d.run(.open(0, minor: 0))
        let e = d.ioctl(0, .read, 0, 0, n)
        #expect(e.outcomes.count == 1)
        #expect(e.primary.errno == 0)
        #expect(e.primary.cpages == UInt64(n))
        #expect(e.primary.faults == 1...1)
        #expect(e.primary.tokens?.primary == [0, 0] + tokens(100, 2..<n))
        // Read again: every entry is present, no fault round.
        #expect(d.ioctl(0, .read, 0, 0, n).primary.faults == 0...0)
    }

    @Test func anonReadProt() {
        var d = Driver()
        d.mmap(0, n)
        d.write(0, 0..<n, base: 1)
        d.run(.mprotect(PageRange(0, 0, n), .none))
        d.run(.open(0, minor: 0))
        let e = d.ioctl(0, .read, 0, 0, n)
        #expect(e.outcomes.map(\.errno) == [Errno.EFAULT.rawValue])
        #expect(e.primary.tokens == nil)
        d.run(.mprotect(PageRange(0, 0, n), .read))
        #expect(d.read(0, 5) == 6)
    }

    @Test func anonWrite() {
        var d = Driver()
        d.mmap(0, n)
        d.run(.open(0, minor: 0))
        let e = d.ioctl(0, .write, 0, 0, n, data: tokens(7, 0..<n))
        #expect(e.primary.errno == 0 && e.primary.cpages == UInt64(n) && e.primary.faults == 1...1)
        #expect(d.read(0, 3) == 10)
    }

    @Test func anonWriteProt() {
        var d = Driver()
        d.mmap(0, n, .read)
        d.run(.open(0, minor: 0))
        let r1 = d.ioctl(0, .read, 0, 0, 1)
        #expect(r1.primary.cpages == 1 && r1.primary.faults == 1...1)
        #expect(d.ioctl(0, .write, 0, 0, n, data: tokens(1, 0..<n)).primary.errno == Errno.EPERM.rawValue)
        #expect(d.read(0, 0) == 0)
        d.run(.mprotect(PageRange(0, 0, n), .readWrite))
        let w = d.ioctl(0, .write, 0, 0, n, data: tokens(1, 0..<n))
        #expect(w.primary.errno == 0 && w.primary.cpages == UInt64(n) && w.primary.faults == 1...1)
        #expect(d.read(0, 4) == 5)
    }

    @Test(arguments: [MappingKind.anonPrivate, .anonShared])
    func anonWriteChild(kind: MappingKind) {
        var d = Driver()
        d.mmap(0, n, .readWrite, kind)
        d.write(0, 0..<n, base: 1)
        d.run(.fork)
        #expect(d.read(0, 2) == 3)
        d.run(.open(0, minor: 0))
        let w = d.ioctl(0, .write, 0, 0, n, data: tokens(1000, 0..<n))
        #expect(w.primary.errno == 0 && w.primary.cpages == UInt64(n) && w.primary.faults == 1...1)
        #expect(d.read(0, 2) == 1002)
        d.run(.exitChild)
        // Private: COW kept the parent's copy; shared: the parent sees the child's data.
        #expect(d.read(0, 2) == (kind == .anonPrivate ? 3 : 1002))
    }

    @Test(arguments: [0, 2])
    func migrate(minor: Int) {
        var d = Driver()
        d.mmap(0, n)
        d.write(0, 0..<n, base: 50)
        d.run(.open(0, minor: minor))
        let e = d.ioctl(0, .migrateToDevice, 0, 0, n)
        #expect(e.isExact)
        #expect(e.primary.cpages == UInt64(n))
        #expect(e.primary.tokens?.primary == tokens(50, 0..<n))
        #expect(d.model.location(0, 3) == (minor == 0 ? .devicePrivate(minor: 0) : .deviceCoherent(minor: 2)))
    }

    @Test(arguments: [0, 2])
    func migrateFault(minor: Int) {
        var d = Driver()
        d.mmap(0, n)
        d.write(0, 0..<n, base: 50)
        d.run(.open(0, minor: minor))
        #expect(d.ioctl(0, .migrateToDevice, 0, 0, n).primary.cpages == UInt64(n))
        for p in 0..<(n / 2) { #expect(d.read(0, p) == 50 + UInt64(p)) }
        // Private pages came back on CPU access; coherent pages stay (CPU addressable).
        #expect(d.model.location(0, 0) == (minor == 0 ? .system(node: 0) : .deviceCoherent(minor: 2)))
        let again = d.ioctl(0, .migrateToDevice, 0, 0, n)
        #expect(again.primary.errno == 0 && again.primary.cpages == UInt64(n))
        #expect(again.primary.tokens?.primary == tokens(50, 0..<n))
    }

    @Test(arguments: [0, 2])
    func migrateRelease(minor: Int) {
        var d = Driver()
        d.mmap(0, n)
        d.write(0, 0..<n, base: 50)
        d.run(.open(0, minor: minor))
        #expect(d.ioctl(0, .migrateToDevice, 0, 0, n).primary.cpages == UInt64(n))
        let rel = d.ioctl(0, .release, 0, 0, n)
        #expect(rel.primary == Outcome(cpages: 0, faults: 0...0))
        #expect(d.model.location(0, 1) == .system(node: 0))
        for p in 0..<(n / 2) { #expect(d.read(0, p) == 50 + UInt64(p)) }
        // Snapshot after release: plain writable system pages.
        #expect(d.ioctl(0, .snapshot, 0, 0, n).primary.snapshot?.primary == [UInt8](repeating: 0x02, count: n))
    }

    @Test func migrateShared() {
        var d = Driver()
        d.mmap(0, n, .readWrite, .anonShared)
        d.run(.open(0, minor: 0))
        #expect(d.ioctl(0, .migrateToDevice, 0, 0, n).outcomes.map(\.errno) == [Errno.ENOENT.rawValue])
    }

    @Test(arguments: [(0, 1), (2, 3)])
    func migrateMixed(devices: (Int, Int)) {
        var d = Driver()
        d.run(.open(0, minor: devices.0))
        d.run(.open(1, minor: devices.1))
        d.mmap(0, 6, .none)
        #expect(d.ioctl(1, .migrateToDevice, 0, 0, 6).primary.errno == Errno.EINVAL.rawValue)
        d.run(.munmap(PageRange(0, 1, 1)))
        #expect(d.ioctl(1, .migrateToDevice, 0, 0, 3).primary.errno == Errno.EINVAL.rawValue)
        d.run(.mprotect(PageRange(0, 2, 1), .read))
        #expect(d.read(0, 2) == 0)
        d.run(.mprotect(PageRange(0, 3, 1), .readWrite))
        d.run(.cpuWrite(0, page: 3, token: 3))
        d.run(.mprotect(PageRange(0, 3, 1), .read))
        d.run(.mprotect(PageRange(0, 4, 2), .readWrite))
        d.run(.cpuWrite(0, page: 4, token: 3))
        d.run(.cpuWrite(0, page: 5, token: 3))
        let m = d.ioctl(1, .migrateToDevice, 0, 2, 4)
        #expect(m.primary.errno == 0 && m.primary.cpages == 4)
        #expect(m.primary.tokens?.primary == [0, 3, 3, 3])
        #expect(d.ioctl(0, .migrateToDevice, 0, 5, 1).primary.errno == Errno.ENOENT.rawValue)
    }

    @Test(arguments: [(0, 1, [0x22, 0x00] as [UInt8]), (2, 3, [0x42, 0x52])])
    func snapshot(devices: (Int, Int, [UInt8])) {
        var d = Driver()
        d.run(.open(0, minor: devices.0))
        d.run(.open(1, minor: devices.1))
        d.mmap(0, 7)
        d.run(.munmap(PageRange(0, 1, 1)))
        d.run(.mprotect(PageRange(0, 0, 1), .none))
        d.run(.mprotect(PageRange(0, 2, 1), .read))
        _ = d.read(0, 2)
        d.run(.cpuWrite(0, page: 3, token: 9))
        d.run(.mprotect(PageRange(0, 3, 1), .read))
        d.run(.cpuWrite(0, page: 4, token: 9))
        #expect(d.ioctl(0, .migrateToDevice, 0, 5, 1).primary.cpages == 1)
        #expect(d.ioctl(1, .migrateToDevice, 0, 6, 1).primary.cpages == 1)
        let s = d.ioctl(0, .snapshot, 0, 0, 7)
        #expect(s.isExact)
        #expect(s.primary.cpages == 7)
        #expect(s.primary.snapshot?.primary == [0xFF, 0xFF, 0x11, 0x01, 0x02] + devices.2)
    }

    @Test(arguments: [(0, 1), (2, 3)])
    func doubleMap(devices: (Int, Int)) {
        var d = Driver()
        d.run(.open(0, minor: devices.0))
        d.run(.open(1, minor: devices.1))
        d.mmap(0, 6)
        d.write(0, 0..<6, base: 1)
        d.run(.mprotect(PageRange(0, 0, 6), .read))
        for fd in [0, 1] {
            let e = d.ioctl(fd, .read, 0, 0, 6)
            #expect(e.primary.cpages == 6 && e.primary.faults == 1...1 && e.primary.tokens?.primary == tokens(1, 0..<6))
        }
        #expect(d.ioctl(1, .migrateToDevice, 0, 0, 6).primary.cpages == 6)
        let e = d.ioctl(0, .read, 0, 0, 6)
        #expect(e.hazard == nil)
        #expect(e.primary.cpages == 6 && e.primary.faults == 1...1 && e.primary.tokens?.primary == tokens(1, 0..<6))
    }

    @Test func exclusive() {
        var d = Driver()
        d.mmap(0, n)
        d.write(0, 0..<n, base: 1)
        d.run(.open(0, minor: 0))
        let e = d.ioctl(0, .exclusive, 0, 0, n)
        #expect(e.isExact && e.primary.cpages == UInt64(n) && e.primary.tokens?.primary == tokens(1, 0..<n))
        #expect(d.model.isExclusive(0, 0))
        #expect(d.ioctl(0, .checkExclusive, 0, 0, n).primary.errno == Errno.EPERM.rawValue)
        #expect(d.ioctl(0, .snapshot, 0, 0, 1).primary.snapshot?.primary == [0x00])
        d.write(0, 0..<n, base: 2)
        #expect(!d.model.isExclusive(0, 0))
        #expect(d.ioctl(0, .checkExclusive, 0, 0, n).primary == Outcome(cpages: 0, faults: 0...0))
    }

    @Test func exclusiveMprotect() {
        var d = Driver()
        d.mmap(0, n)
        d.write(0, 0..<n, base: 1)
        d.run(.open(0, minor: 0))
        #expect(d.ioctl(0, .exclusive, 0, 0, n).primary.cpages == UInt64(n))
        d.run(.mprotect(PageRange(0, 0, n), .read))
        #expect(d.ioctl(0, .write, 0, 0, n, data: tokens(1, 0..<n)).outcomes.map(\.errno) == [Errno.EPERM.rawValue])
    }

    @Test func exclusiveCow() {
        var d = Driver()
        d.mmap(0, n)
        d.write(0, 0..<n, base: 1)
        d.run(.open(0, minor: 0))
        #expect(d.ioctl(0, .exclusive, 0, 0, n).primary.cpages == UInt64(n))
        d.run(.fork)
        #expect(d.read(0, 1) == 2)
        d.write(0, 0..<n, base: 2)
        #expect(d.read(0, 1) == 3)
        d.run(.exitChild)
        #expect(d.read(0, 1) == 2)
        d.write(0, 0..<n, base: 2)
        #expect(d.read(0, 1) == 3)
    }

    @Test func cowInDevice() {
        var d = Driver()
        d.mmap(0, 4)
        d.write(0, 0..<4, base: 1)
        d.run(.open(0, minor: 0))
        #expect(d.ioctl(0, .migrateToDevice, 0, 0, 4).primary.cpages == 4)
        d.run(.fork)
        d.run(.exitChild)
        d.write(0, 0..<4, base: 10)
        #expect(d.ioctl(0, .snapshot, 0, 0, 4).primary.snapshot?.primary == [0x02, 0x02, 0x02, 0x02])
    }

    @Test func mixedUnalignedAndEmpty() {
        var d = Driver()
        d.mmap(0, n)
        d.run(.open(0, minor: 0))
        for cmd in DmirrorOperation.allCases where cmd != .flags {
            #expect(d.ioctl(0, cmd, 0, 0, 0, data: []).outcomes.map(\.errno) == [Errno.EINVAL.rawValue])
            #expect(d.ioctl(0, cmd, 0, 0, 1, data: cmd == .write ? [1] : [], misalign: 8).outcomes.map(\.errno) == [Errno.EINVAL.rawValue])
        }
    }

    @Test func flagsByProfile() {
        var old = Driver(.linux6_12)
        old.mmap(0, n)
        old.run(.open(0, minor: 0))
        let e = old.ioctl(0, .flags, 0, 0, 1)
        #expect(e.outcomes.map(\.errno) == [Errno.EINVAL.rawValue])
        #expect(e.notes.contains { $0.contains("HMM_DMIRROR_FLAGS") })
        var new = Driver(.thpMigration)
        new.mmap(0, n)
        new.run(.open(0, minor: 0))
        #expect(new.ioctl(0, .flags, 0, 0, 1).primary == Outcome(cpages: 0, faults: 0...0))
    }
}
