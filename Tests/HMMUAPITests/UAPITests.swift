import Testing
@testable import HMMUAPI

@Suite struct CommandLayoutTests {
    @Test func structIsFortyBytesOfFiveU64() {
        #expect(MemoryLayout<DmirrorCommand>.size == DmirrorCommand.wireSize)
        #expect(DmirrorCommand.wireSize == 40)
        #expect(MemoryLayout<DmirrorCommand>.offset(of: \.addr) == 0)
        #expect(MemoryLayout<DmirrorCommand>.offset(of: \.ptr) == 8)
        #expect(MemoryLayout<DmirrorCommand>.offset(of: \.npages) == 16)
        #expect(MemoryLayout<DmirrorCommand>.offset(of: \.cpages) == 24)
        #expect(MemoryLayout<DmirrorCommand>.offset(of: \.faults) == 32)
    }

    @Test func iowrEncodingMatchesTheCompiledHeader() {
        // _IOWR('H', 0, struct hmm_dmirror_cmd) on x86-64, computed by compiling the header.
        #expect(IoctlEncoding.readWrite(type: UInt8(ascii: "H"), number: 0, size: 40) == 0xC028_4800)
        // _IOWR('g', 4, struct gup_test): sizeof(struct gup_test) is 80.
        #expect(IoctlEncoding.readWrite(type: UInt8(ascii: "g"), number: 4, size: 80) == 0xC050_6704)
    }
}

@Suite struct GenerationTests {
    @Test(arguments: [
        (DmirrorOperation.read, UInt(0xC028_4800)), (.write, 0xC028_4801), (.migrateToDevice, 0xC028_4802),
        (.migrateToSystem, 0xC028_4803), (.snapshot, 0xC028_4804), (.exclusive, 0xC028_4805),
        (.checkExclusive, 0xC028_4806), (.release, 0xC028_4807),
    ])
    func linux61Numbers(op: DmirrorOperation, value: UInt) {
        #expect(UAPIGeneration.v6_1.request(for: op) == value)
    }

    @Test func flagsOnlyFrom619() {
        #expect(UAPIGeneration.v6_1.request(for: .flags) == nil)
        #expect(UAPIGeneration.v6_19.request(for: .flags) == 0xC028_4808)
        #expect(UAPIGeneration.v6_1.unavailableReason(for: .flags)?.contains("HMM_DMIRROR_FLAGS") == true)
    }

    @Test func releaseAbsentIn60() {
        #expect(UAPIGeneration.v6_0.request(for: .release) == nil)
        #expect(UAPIGeneration.v6_0.request(for: .migrateToSystem) == 0xC028_4803)
    }

    @Test func pre60NumberingHasNoMigrateToSys() {
        let g = UAPIGeneration.v5_14
        #expect(g.request(for: .migrateToSystem) == nil)
        #expect(g.request(for: .snapshot) == 0xC028_4803)
        #expect(g.request(for: .exclusive) == 0xC028_4804)
        #expect(g.request(for: .checkExclusive) == 0xC028_4805)
        #expect(g.request(for: .release) == nil)
    }

    @Test(arguments: [
        ("6.12.117", UAPIGeneration.v6_1), ("6.1.192-amd64", .v6_1), ("6.0.9", .v6_0), ("5.15.0-91-generic", .v5_14),
        ("6.19.0-rc4", .v6_19), ("7.1.0", .v6_19), ("6.18.3", .v6_1),
    ])
    func generationFromRelease(release: String, expected: UAPIGeneration) {
        #expect(UAPIGeneration.forRelease(release) == expected)
    }

    @Test func unknownReleases() {
        #expect(UAPIGeneration.forRelease("5.10.0") == nil)
        #expect(UAPIGeneration.forRelease("garbage") == nil)
        #expect(KernelVersion("6.12.117-hmmkit") == KernelVersion(6, 12, 117))
        #expect(KernelVersion("6.1") == KernelVersion(6, 1, 0))
    }
}

@Suite struct SnapshotTests {
    @Test func examplesFromTheSelftest() throws {
        #expect(try SnapshotEntry(byte: 0x11) == .present(kind: .zeroPage, access: .read, size: .base))
        #expect(try SnapshotEntry(byte: 0x22) == .present(kind: .devicePrivateLocal, access: .write, size: .base))
        #expect(try SnapshotEntry(byte: 0x52) == .present(kind: .deviceCoherentRemote, access: .write, size: .base))
        #expect(try SnapshotEntry(byte: 0x0A) == .present(kind: .system, access: .write, size: .pud))
        #expect(try SnapshotEntry(byte: 0x26) == .present(kind: .devicePrivateLocal, access: .write, size: .pmd))
        #expect(try SnapshotEntry(byte: 0xFF) == .error)
        #expect(try SnapshotEntry(byte: 0x00) == .none)
    }

    @Test func everyValidByteRoundTrips() throws {
        var valid = 0
        for b in 0...255 {
            let byte = UInt8(b)
            if let entry = try? SnapshotEntry(byte: byte) {
                #expect(entry.byte == byte)
                valid += 1
            }
        }
        // error + none + 6 kinds × 2 accesses × 3 sizes
        #expect(valid == 2 + 6 * 2 * 3)
    }

    @Test(arguments: [UInt8(0x03), 0x10, 0x0C, 0x0F, 0x60, 0x13, 0x2C])
    func invalidBytesAreRejected(byte: UInt8) {
        #expect(throws: SnapshotEntry.DecodingError.self) { try SnapshotEntry(byte: byte) }
    }
}
