import HMMKernel

/// hmm-tests' `struct hmm_buffer`: a mapping, a device-side mirror buffer and the last
/// cpages/faults, with the "init i" / "mirror ok" conventions as methods.
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

    // The per-int loops below run over 4 MiB buffers ten times per test; inlined into each
    // caller the closure is specialised away (under TCG a closure call per int doubled
    // hmmkit's wall time against hmm-tests).

    /// CPU writes `value(i)` to int i of the mapping, for ints in `range` (default all).
    @inline(__always)
    public func fill(_ range: Range<Int>? = nil, _ value: (Int) -> Int32) {
        let r = range ?? 0..<intCount
        region.withBytes(pages: 0..<pages) { raw in
            let ints = raw.bindMemory(to: Int32.self)
            for i in r { ints[i] = value(i) }
        }
    }

    /// CPU reads ints; returns the first index whose value differs, or nil.
    @inline(__always)
    public func firstMismatch(_ range: Range<Int>? = nil, _ value: (Int) -> Int32) -> (index: Int, got: Int32, want: Int32)? {
        let r = range ?? 0..<intCount
        return region.withBytes(pages: 0..<pages) { raw in
            let ints = raw.bindMemory(to: Int32.self)
            for i in r where ints[i] != value(i) { return (i, ints[i], value(i)) }
            return nil
        }
    }

    @inline(__always)
    public func fillMirror(_ value: (Int) -> Int32) {
        let ints = mirror.bytes.bindMemory(to: Int32.self)
        for i in 0..<min(intCount, ints.count) { ints[i] = value(i) }
    }

    @inline(__always)
    public func mirrorMismatch(_ range: Range<Int>? = nil, _ value: (Int) -> Int32) -> (index: Int, got: Int32, want: Int32)? {
        let ints = mirror.bytes.bindMemory(to: Int32.self)
        for i in range ?? 0..<min(intCount, ints.count) where ints[i] != value(i) { return (i, ints[i], value(i)) }
        return nil
    }

    public var mirrorBytes: [UInt8] { Array(UnsafeRawBufferPointer(mirror.bytes)) }
}

extension TestContext {
    /// Fails unless the CPU sees `value(i)` in every int of `range`.
    @inline(__always)
    public func requireData(_ buffer: borrowing TestBuffer, _ range: Range<Int>? = nil, _ what: String = "data",
                            file: String = #fileID, line: Int = #line, _ value: (Int) -> Int32) throws {
        if let m = buffer.firstMismatch(range, value) {
            throw TestFailure("\(what): int \(m.index) is \(m.got), expected \(m.want)", file: file, line: line)
        }
    }

    /// Fails unless the device-side mirror holds `value(i)`.
    @inline(__always)
    public func requireMirror(_ buffer: borrowing TestBuffer, _ range: Range<Int>? = nil, _ what: String = "mirror",
                              file: String = #fileID, line: Int = #line, _ value: (Int) -> Int32) throws {
        if let m = buffer.mirrorMismatch(range, value) {
            throw TestFailure("\(what): int \(m.index) is \(m.got), expected \(m.want)", file: file, line: line)
        }
    }

    @inline(__always)
    public func requireData(_ buffer: borrowing TestBuffer, _ what: String,
                            file: String = #fileID, line: Int = #line, _ value: (Int) -> Int32) throws {
        try requireData(buffer, nil, what, file: file, line: line, value)
    }

    @inline(__always)
    public func requireMirror(_ buffer: borrowing TestBuffer, _ what: String,
                              file: String = #fileID, line: Int = #line, _ value: (Int) -> Int32) throws {
        try requireMirror(buffer, nil, what, file: file, line: line, value)
    }

    /// MIGRATE_TO_DEV of the whole buffer: every page read back, the mirror holding "init i".
    public func migrateChecked(_ device: borrowing DmirrorDevice, _ buffer: borrowing TestBuffer, _ what: String = "MIGRATE_TO_DEV",
                               file: String = #fileID, line: Int = #line) throws {
        let r = try call(what, file: file, line: line) { () throws(DmirrorError) in
            try device.migrateToDevice(buffer.region, readBack: buffer.mirror)
        }
        try requireResult(r, cpages: buffer.pages, what, file: file, line: line)
        try requireMirror(buffer, nil, what + " read-back", file: file, line: line) { Int32($0) }
    }

    public func requireResult(_ r: DmirrorResult, cpages: Int, faults: Int? = nil, _ what: String,
                              file: String = #fileID, line: Int = #line) throws {
        try require(r.cpages == UInt64(cpages), "\(what): cpages \(r.cpages), expected \(cpages)", file: file, line: line)
        if let faults {
            try require(r.faults == UInt64(faults), "\(what): faults \(r.faults), expected \(faults)", file: file, line: line)
        }
    }
}
