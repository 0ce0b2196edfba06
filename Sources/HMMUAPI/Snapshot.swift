/// One byte of `HMM_DMIRROR_SNAPSHOT` output: what the CPU page table says about a page
/// as seen by the device, decoded into kind, access and mapping size.
public enum SnapshotEntry: Hashable, Sendable, CustomStringConvertible {
    /// 0xFF: no valid mirror entry (no VMA, no read permission, VM_IO/VM_PFNMAP).
    case error
    /// 0x00: unpopulated, no access, or a device-private page of another device.
    case none
    /// A present page.
    case present(kind: Kind, access: Access, size: MappingSize)

    /// Who holds the page (the high nibble).
    public enum Kind: UInt8, Sendable, CaseIterable {
        case system = 0x00
        case zeroPage = 0x10
        case devicePrivateLocal = 0x20
        case devicePrivateRemote = 0x30
        case deviceCoherentLocal = 0x40
        case deviceCoherentRemote = 0x50
    }

    /// Exactly one of read-only or writable is set for a present page.
    public enum Access: UInt8, Sendable, CaseIterable {
        case read = 0x01
        case write = 0x02
    }

    /// The CPU mapping level (`hmm_pfn_to_map_order`).
    public enum MappingSize: UInt8, Sendable, CaseIterable {
        case base = 0x00
        case pmd = 0x04
        case pud = 0x08
    }

    public struct DecodingError: Error, Equatable, CustomStringConvertible {
        public var byte: UInt8
        public var description: String { "snapshot byte 0x\(String(byte, radix: 16)) is not a valid encoding" }
    }

    /// Decodes a byte, rejecting ones a correct module never produces (both or neither
    /// access bit, PMD and PUD together, unknown kind nibble).
    public init(byte: UInt8) throws(DecodingError) {
        if byte == 0xFF { self = .error; return }
        if byte == 0x00 { self = .none; return }
        guard let kind = Kind(rawValue: byte & 0xF0),
              let access = Access(rawValue: byte & 0x03),
              let size = MappingSize(rawValue: byte & 0x0C) else { throw DecodingError(byte: byte) }
        self = .present(kind: kind, access: access, size: size)
    }

    public var byte: UInt8 {
        switch self {
        case .error: 0xFF
        case .none: 0x00
        case let .present(kind, access, size): kind.rawValue | access.rawValue | size.rawValue
        }
    }

    public var description: String {
        switch self {
        case .error: "error"
        case .none: "none"
        case let .present(kind, access, size):
            "\(kind)|\(access)" + (size == .base ? "" : "|\(size)")
        }
    }
}

/// The two kinds of simulated device memory test_hmm creates.
public enum DeviceMemoryType: String, Sendable, Codable, CaseIterable {
    /// Not CPU addressable: CPU access faults the page back to system RAM.
    case devicePrivate = "device_private"
    /// CPU addressable (special-purpose memory): stays on the device under CPU access.
    case deviceCoherent = "device_coherent"

    /// The minors test_hmm gives each type: 0,1 private; 2,3 coherent (if SPM given).
    public var minors: [Int] { self == .devicePrivate ? [0, 1] : [2, 3] }

    public static func forMinor(_ minor: Int) -> DeviceMemoryType? {
        switch minor {
        case 0, 1: .devicePrivate
        case 2, 3: .deviceCoherent
        default: nil
        }
    }
}
