import HMMKernel
import struct HMMModel.IntRun

/// hmm-tests' `struct hmm_buffer` for the tests the model cannot follow (a racing munmap,
/// a mapping of the device file): a mapping, a device-side mirror buffer, and hmm-tests'
/// `ptr[i] = offset + i` data as methods.
public struct TestBuffer: ~Copyable {
    public var region: MappedRegion
    public let mirror: DeviceBuffer
    public let pages: Int

    public init(pages: Int, protection: Protection = .readWrite, kind: MappingKind = .anonymousPrivate,
                mirrorBytes: Int? = nil) throws {
        region = try MappedRegion.anonymous(length: pages * Machine.pageSize, protection: protection, kind: kind)
        mirror = DeviceBuffer(bytes: mirrorBytes ?? pages * Machine.pageSize)
        self.pages = pages
    }

    public init(region: consuming MappedRegion, mirrorBytes: Int? = nil) {
        pages = region.pageCount
        mirror = DeviceBuffer(bytes: mirrorBytes ?? region.length)
        self.region = region
    }

    public var intCount: Int { pages * Machine.pageSize / 4 }

    /// The CPU writes `ptr[i] = offset + i` over the whole mapping.
    public func fill(offset: Int32 = 0) {
        region.withBytes(pages: 0..<pages) { IntRun(start: offset, stride: 1).write(into: $0) }
    }

    /// The first int of the mirror that is not `offset + i`, or nil.
    public func mirrorMismatch(offset: Int32 = 0) -> (index: Int, got: Int32)? {
        let raw = UnsafeRawBufferPointer(mirror.bytes)
        var value = offset
        for i in 0..<min(intCount, raw.count / 4) {
            let got = raw.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)
            if got != value { return (i, got) }
            value &+= 1
        }
        return nil
    }
}

extension TestContext {
    /// Fails unless the device-side mirror holds `offset + i` in int i.
    public func requireMirror(_ buffer: borrowing TestBuffer, _ what: String, offset: Int32 = 0,
                              file: String = #fileID, line: Int = #line) throws {
        if let m = buffer.mirrorMismatch(offset: offset) {
            throw TestFailure("\(what): int \(m.index) is \(m.got), expected \(offset &+ Int32(truncatingIfNeeded: m.index))",
                              file: file, line: line)
        }
    }

    public func requireResult(_ r: DmirrorResult, cpages: Int, faults: Int? = nil, _ what: String,
                              file: String = #fileID, line: Int = #line) throws {
        try require(r.cpages == UInt64(cpages), "\(what): cpages \(r.cpages), expected \(cpages)", file: file, line: line)
        if let faults {
            try require(r.faults == UInt64(faults), "\(what): faults \(r.faults), expected \(faults)", file: file, line: line)
        }
    }
}
