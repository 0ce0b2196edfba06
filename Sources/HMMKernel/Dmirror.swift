import HMMSystem
import HMMUAPI

/// What a successful dmirror ioctl reports.
public struct DmirrorResult: Equatable, Sendable {
    public var cpages: UInt64
    public var faults: UInt64
}

/// Why a dmirror call did not succeed.
public enum DmirrorError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The kernel answered with an errno (the command struct was not copied back).
    case failed(DmirrorOperation, Errno)
    /// The running kernel's UAPI generation has no such command; nothing was sent.
    case unsupported(DmirrorOperation, UAPIGeneration)

    public var errno: Errno? {
        if case let .failed(_, e) = self { return e }
        return nil
    }

    public var description: String {
        switch self {
        case let .failed(op, e): "ioctl(\(op.uapiName)) failed: \(e)"
        case let .unsupported(op, g): "\(op.uapiName) does not exist in UAPI generation \(g.rawValue)"
        }
    }
}

/// An open `/dev/hmm_dmirrorN`: a simulated device mirroring this process's address space.
///
/// Every command goes through `perform`, which looks the number up in the generation
/// the kernel speaks, so a number from the wrong generation is never sent.
public struct DmirrorDevice: ~Copyable {
    public let minor: Int
    public let generation: UAPIGeneration
    public let fd: FileDescriptor

    public static func path(minor: Int) -> String { "/dev/hmm_dmirror\(minor)" }

    public init(minor: Int, generation: UAPIGeneration) throws(SystemError) {
        self.minor = minor
        self.generation = generation
        fd = try FileDescriptor.open(Self.path(minor: minor))
    }

    public var memoryType: DeviceMemoryType? { DeviceMemoryType.forMinor(minor) }

    /// Sends one command. `addr`/`npages` describe the range in this process; `buffer` is
    /// the device-side copy (`cmd.ptr`); 0 when the command does not use it.
    public func perform(_ operation: DmirrorOperation, address: UInt64, pages: UInt64,
                        buffer: UInt64 = 0) throws(DmirrorError) -> DmirrorResult {
        guard let request = generation.request(for: operation) else {
            throw .unsupported(operation, generation)
        }
        var cmd = DmirrorCommand(addr: address, ptr: buffer, npages: pages)
        do {
            try Sys.ioctl(fd.rawValue, request, &cmd, name: operation.uapiName)
        } catch {
            throw .failed(operation, error.errno)
        }
        return DmirrorResult(cpages: cmd.cpages, faults: cmd.faults)
    }

    // Typed calls over a mapped region; `pages` defaults to the whole region.

    public func read(_ region: borrowing MappedRegion, pages: Range<Int>? = nil,
                     into buffer: borrowing DeviceBuffer) throws(DmirrorError) -> DmirrorResult {
        try rangeCall(.read, region, pages, buffer.address)
    }

    public func write(_ region: borrowing MappedRegion, pages: Range<Int>? = nil,
                      from buffer: borrowing DeviceBuffer) throws(DmirrorError) -> DmirrorResult {
        try rangeCall(.write, region, pages, buffer.address)
    }

    public func migrateToDevice(_ region: borrowing MappedRegion, pages: Range<Int>? = nil,
                                readBack buffer: borrowing DeviceBuffer) throws(DmirrorError) -> DmirrorResult {
        try rangeCall(.migrateToDevice, region, pages, buffer.address)
    }

    public func migrateToSystem(_ region: borrowing MappedRegion, pages: Range<Int>? = nil) throws(DmirrorError) -> DmirrorResult {
        try rangeCall(.migrateToSystem, region, pages, 0)
    }

    /// One decoded byte per page.
    public func snapshot(_ region: borrowing MappedRegion, pages: Range<Int>? = nil) throws(DmirrorError) -> (DmirrorResult, [UInt8]) {
        let r = pages ?? 0..<region.pageCount
        let buffer = DeviceBuffer(bytes: r.count)
        let result = try perform(.snapshot, address: region.address(ofPage: r.lowerBound), pages: UInt64(r.count), buffer: buffer.address)
        return (result, Array(UnsafeRawBufferPointer(buffer.bytes).prefix(r.count)))
    }

    public func exclusive(_ region: borrowing MappedRegion, pages: Range<Int>? = nil,
                          readBack buffer: borrowing DeviceBuffer) throws(DmirrorError) -> DmirrorResult {
        try rangeCall(.exclusive, region, pages, buffer.address)
    }

    public func checkExclusive(_ region: borrowing MappedRegion, pages: Range<Int>? = nil) throws(DmirrorError) -> DmirrorResult {
        try rangeCall(.checkExclusive, region, pages, 0)
    }

    /// Evicts all device memory of this device (any fd). The range only has to pass the
    /// module's common argument checks.
    public func release(_ region: borrowing MappedRegion) throws(DmirrorError) -> DmirrorResult {
        try perform(.release, address: region.address, pages: 1)
    }

    /// Sets the per-fd fault-injection flags (6.19+).
    public func setFlags(_ flags: DmirrorFlags, anchor region: borrowing MappedRegion) throws(DmirrorError) -> DmirrorResult {
        try perform(.flags, address: region.address, pages: flags.rawValue)
    }

    private func rangeCall(_ op: DmirrorOperation, _ region: borrowing MappedRegion, _ pages: Range<Int>?,
                           _ buffer: UInt64) throws(DmirrorError) -> DmirrorResult {
        let r = pages ?? 0..<region.pageCount
        return try perform(op, address: region.address(ofPage: r.lowerBound), pages: UInt64(r.count), buffer: buffer)
    }

    /// Closes now, reporting errors (hmm-tests asserts close returns 0).
    public consuming func close() throws(SystemError) {
        try fd.close()
    }
}

/// Which UAPI the running kernel speaks, and how that was decided.
public struct UAPIDetection: Sendable {
    public var generation: UAPIGeneration
    public var reason: String

    public init(generation: UAPIGeneration, reason: String) {
        self.generation = generation
        self.reason = reason
    }

    /// From the kernel release, confirmed for FLAGS by a probe on a throwaway fd when a
    /// device is present: an unknown command answers EINVAL before touching anything,
    /// and FLAGS only sets per-fd state that dies with the fd.
    public static func detect(release: String = Machine.kernelRelease, probeMinor: Int? = 0) -> UAPIDetection {
        guard var generation = UAPIGeneration.forRelease(release) else {
            return UAPIDetection(generation: .v6_1, reason: "release '\(release)' not recognised; assuming the 6.1 UAPI")
        }
        var reason = "kernel release \(release)"
        if let minor = probeMinor, generation >= .v6_1,
           let device = try? DmirrorDevice(minor: minor, generation: .v6_19),
           let anchor = try? MappedRegion.anonymous(length: Machine.pageSize) {
            do {
                _ = try device.setFlags(.failAllocation, anchor: anchor)
                if generation < .v6_19 { generation = .v6_19; reason += "; FLAGS probe answered: backported" }
                else { reason += "; FLAGS probe answered" }
            } catch {
                if generation >= .v6_19 { generation = .v6_1; reason += "; FLAGS probe refused (\(error)): not present" }
                else { reason += "; FLAGS probe refused as expected" }
            }
        }
        return UAPIDetection(generation: generation, reason: reason)
    }
}
