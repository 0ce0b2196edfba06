import CNuma
import HMMSystem
#if canImport(Glibc)
import Glibc
#endif

/// A NUMA node as the kernel reports it.
public struct NumaNode: Equatable, Sendable {
    public var id: Int
    public var memoryBytes: Int64
    public var freeBytes: Int64
    public var cpus: [Int]
    /// Memory without CPUs: the stand-in for device or special-purpose memory.
    public var isMemoryOnly: Bool { cpus.isEmpty && memoryBytes > 0 }

    public init(id: Int, memoryBytes: Int64, freeBytes: Int64, cpus: [Int]) {
        self.id = id
        self.memoryBytes = memoryBytes
        self.freeBytes = freeBytes
        self.cpus = cpus
    }
}

/// NUMA placement through libnuma and the move_pages/mbind syscalls it wraps.
/// On a kernel without NUMA every entry point throws `.unavailable` with a reason.
public enum Numa {
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case unavailable(String)
        case system(SystemError)
        public var description: String {
            switch self {
            case let .unavailable(why): "NUMA unavailable: \(why)"
            case let .system(e): e.description
            }
        }
    }

    /// mbind(2) policies.
    public enum Policy: Int32, Sendable {
        case `default` = 0
        case preferred = 1
        case bind = 2
        case interleave = 3
        case local = 4
    }

    public static var isAvailable: Bool { numa_available() >= 0 }

    static func requireAvailable() throws(Failure) {
        guard isAvailable else { throw .unavailable("numa_available() < 0: the kernel has no NUMA support (CONFIG_NUMA) or no SRAT") }
    }

    public static func nodes() throws(Failure) -> [NumaNode] {
        try requireAvailable()
        var result: [NumaNode] = []
        let maxNode = numa_max_node()
        guard maxNode >= 0 else { return [] }
        for id in 0...Int(maxNode) {
            var free: Int64 = 0
            let size = numa_node_size64(Int32(id), &free)
            if size < 0 { continue }  // node id not present
            var cpus: [Int] = []
            if let mask = numa_allocate_cpumask() {
                defer { numa_bitmask_free(mask) }
                if numa_node_to_cpus(Int32(id), mask) == 0 {
                    for cpu in 0..<Int(numa_num_configured_cpus()) where numa_bitmask_isbitset(mask, UInt32(cpu)) != 0 {
                        cpus.append(cpu)
                    }
                }
            }
            result.append(NumaNode(id: id, memoryBytes: size, freeBytes: free, cpus: cpus))
        }
        return result
    }

    /// The node each page is on, or the negative errno move_pages reports for it
    /// (-EFAULT unmapped/zero page, -ENOENT not present, ...). Device-private pages report an error.
    public static func nodes(ofPages addresses: [UInt64]) throws(Failure) -> [Int32] {
        try requireAvailable()
        var pointers: [UnsafeMutableRawPointer?] = addresses.map { UnsafeMutableRawPointer(bitPattern: UInt($0)) }
        var status = [Int32](repeating: 0, count: addresses.count)
        let rc = pointers.withUnsafeMutableBufferPointer { p in
            numa_move_pages(0, UInt(addresses.count), p.baseAddress, nil, &status, 0)
        }
        if rc < 0 { throw .system(SystemError("move_pages(query)", .current)) }
        return status
    }

    /// Moves pages to `node`; returns per-page status (node on success, -errno otherwise).
    public static func movePages(_ addresses: [UInt64], to node: Int) throws(Failure) -> [Int32] {
        try requireAvailable()
        var pointers: [UnsafeMutableRawPointer?] = addresses.map { UnsafeMutableRawPointer(bitPattern: UInt($0)) }
        var targets = [Int32](repeating: Int32(node), count: addresses.count)
        var status = [Int32](repeating: 0, count: addresses.count)
        let rc = pointers.withUnsafeMutableBufferPointer { p in
            numa_move_pages(0, UInt(addresses.count), p.baseAddress, &targets, &status, Int32(MPOL_MF_MOVE))
        }
        if rc < 0 { throw .system(SystemError("move_pages(\(node))", .current)) }
        return status
    }

    /// Sets the memory policy of [address, address+length) to `policy` over `nodes`.
    public static func bind(address: UInt64, length: Int, policy: Policy, nodes: [Int], move: Bool = false) throws(Failure) {
        try requireAvailable()
        let maxNode = 64
        var mask: UInt = 0
        for n in nodes {
            guard n >= 0 && n < maxNode else { throw .unavailable("node \(n) outside the supported mask of \(maxNode)") }
            mask |= 1 << UInt(n)
        }
        let rc = mbind(UnsafeMutableRawPointer(bitPattern: UInt(address)), UInt(length), policy.rawValue,
                       &mask, UInt(maxNode + 1), move ? UInt32(MPOL_MF_MOVE) : 0)
        if rc < 0 { throw .system(SystemError("mbind", .current)) }
    }
}
