/// The dmirror ioctls by meaning, independent of any kernel's numbering.
public enum DmirrorOperation: String, CaseIterable, Sendable, Codable {
    case read, write, migrateToDevice, migrateToSystem, snapshot, exclusive, checkExclusive, release, flags

    /// The name used in the kernel header.
    public var uapiName: String {
        switch self {
        case .read: "HMM_DMIRROR_READ"
        case .write: "HMM_DMIRROR_WRITE"
        case .migrateToDevice: "HMM_DMIRROR_MIGRATE_TO_DEV"
        case .migrateToSystem: "HMM_DMIRROR_MIGRATE_TO_SYS"
        case .snapshot: "HMM_DMIRROR_SNAPSHOT"
        case .exclusive: "HMM_DMIRROR_EXCLUSIVE"
        case .checkExclusive: "HMM_DMIRROR_CHECK_EXCLUSIVE"
        case .release: "HMM_DMIRROR_RELEASE"
        case .flags: "HMM_DMIRROR_FLAGS"
        }
    }
}

/// A numbering of the test module's ioctls. The numbers changed in 6.0 (device-coherent
/// series) and later kernels only added commands, so a generation is a table plus the
/// first release that speaks it.
public enum UAPIGeneration: String, CaseIterable, Sendable, Codable, Comparable {
    /// 5.14–5.19: READ 0, WRITE 1, MIGRATE 2, SNAPSHOT 3, EXCLUSIVE 4, CHECK_EXCLUSIVE 5.
    case v5_14
    /// 6.0: MIGRATE_TO_SYS inserted at 3, later commands renumbered; no RELEASE.
    case v6_0
    /// 6.1 – 6.18: adds RELEASE (7).
    case v6_1
    /// 6.19+: adds FLAGS (8) with `HMM_DMIRROR_FLAG_FAIL_ALLOC` (device-private THP series).
    case v6_19

    public static func < (a: Self, b: Self) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// The command number (the `nr` of `_IOWR('H', nr, ...)`) or nil if this generation lacks it.
    public func number(of operation: DmirrorOperation) -> UInt8? {
        switch self {
        case .v5_14:
            switch operation {
            case .read: 0x00
            case .write: 0x01
            case .migrateToDevice: 0x02
            case .snapshot: 0x03
            case .exclusive: 0x04
            case .checkExclusive: 0x05
            case .migrateToSystem, .release, .flags: nil
            }
        case .v6_0, .v6_1, .v6_19:
            switch operation {
            case .read: 0x00
            case .write: 0x01
            case .migrateToDevice: 0x02
            case .migrateToSystem: 0x03
            case .snapshot: 0x04
            case .exclusive: 0x05
            case .checkExclusive: 0x06
            case .release: self >= .v6_1 ? 0x07 : nil
            case .flags: self >= .v6_19 ? 0x08 : nil
            }
        }
    }

    /// The full ioctl request value, or nil if the generation lacks the operation.
    public func request(for operation: DmirrorOperation) -> UInt? {
        number(of: operation).map {
            IoctlEncoding.readWrite(type: UInt8(ascii: "H"), number: $0, size: DmirrorCommand.wireSize)
        }
    }

    /// Why an operation is unavailable, phrased for a SKIP line.
    public func unavailableReason(for operation: DmirrorOperation) -> String? {
        number(of: operation) == nil ? "\(operation.uapiName) is not in the \(rawValue) test_hmm UAPI" : nil
    }

    /// The generation a kernel release speaks, from `uname -r` ("6.12.117-hmmkit" → v6_1).
    /// Returns nil for releases older than 5.14 or unparsable strings.
    public static func forRelease(_ release: String) -> UAPIGeneration? {
        guard let version = KernelVersion(release) else { return nil }
        switch version {
        case KernelVersion(6, 19)...: return .v6_19
        case KernelVersion(6, 1)...: return .v6_1
        case KernelVersion(6, 0)...: return .v6_0
        case KernelVersion(5, 14)...: return .v5_14
        default: return nil
        }
    }
}

/// `major.minor.patch` of a kernel release string.
public struct KernelVersion: Comparable, Sendable, CustomStringConvertible {
    public var major: Int, minor: Int, patch: Int

    public init(_ major: Int, _ minor: Int, _ patch: Int = 0) {
        (self.major, self.minor, self.patch) = (major, minor, patch)
    }

    /// Parses the leading digits of "6.12.117-amd64", "6.1", "6.19-rc4".
    public init?(_ release: String) {
        var parts: [Int] = []
        var current = ""
        for ch in release {
            if ch.isASCII && ch.isNumber { current.append(ch); continue }
            guard let n = Int(current) else { break }
            parts.append(n)
            current = ""
            if ch != "." || parts.count == 3 { break }
        }
        if let n = Int(current), parts.count < 3 { parts.append(n) }
        guard parts.count >= 2 else { return nil }
        self.init(parts[0], parts[1], parts.count > 2 ? parts[2] : 0)
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch)
    }

    public var description: String { "\(major).\(minor).\(patch)" }
}

/// Flag bits for `HMM_DMIRROR_FLAGS` (6.19+).
public struct DmirrorFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// Make the next large (THP) allocation fail once, forcing the split fallback.
    public static let failAllocation = DmirrorFlags(rawValue: 1 << 0)
}
