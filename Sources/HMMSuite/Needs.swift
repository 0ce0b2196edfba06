import HMMKernel
import HMMModel
import HMMSystem
import HMMUAPI

#if canImport(Glibc)
import Glibc
#endif

/// What a test needs from the machine, declared as data (LTP's tst_test style).
/// An unmet need turns the test into a SKIP with the need's reason, never a failure.
public enum TestNeed: Hashable, Sendable, CustomStringConvertible {
    case root
    /// `/dev/hmm_dmirrorN` exists (the module is loaded; coherent minors need SPM parameters).
    case device(minor: Int)
    /// The running kernel's test_hmm UAPI has this command.
    case operation(DmirrorOperation)
    /// At least this many free default-size huge pages.
    case freeHugePages(Int)
    /// A kernel config option is set (y or m), read from the running kernel's config.
    case config(String)
    /// At least this many NUMA nodes with memory.
    case numaNodes(Int)
    /// A NUMA node with memory and no CPUs.
    case memoryOnlyNode
    /// /sys/kernel/debug/gup_test can be opened.
    case gupTest

    public var description: String {
        switch self {
        case .root: "root"
        case let .device(m): DmirrorDevice.path(minor: m)
        case let .operation(op): op.uapiName
        case let .freeHugePages(n): "\(n) free huge page(s)"
        case let .config(o): o
        case let .numaNodes(n): "\(n) NUMA nodes"
        case .memoryOnlyNode: "a memory-only NUMA node"
        case .gupTest: "gup_test"
        }
    }
}

/// Facts about the running system that needs are checked against; gathered once per run.
public struct SystemFacts: Sendable {
    public var isRoot: Bool
    public var devices: Set<Int>
    public var generation: UAPIGeneration
    public var generationReason: String
    public var freeHugePages: Int
    public var kernelConfig: [String: String]?
    public var numaNodes: [NumaNode]
    public var numaUnavailableReason: String?
    public var hasGupTest: Bool

    public static func gather(generation: UAPIDetection? = nil) -> SystemFacts {
        let detection = generation ?? UAPIDetection.detect()
        var devices: Set<Int> = []
        // Only look at the nodes: opening one and closing it again evicts the device's memory.
        for minor in 0..<4 where fileExists(DmirrorDevice.path(minor: minor)) {
            devices.insert(minor)
        }
        var numaNodes: [NumaNode] = []
        var numaReason: String?
        do { numaNodes = try Numa.nodes() } catch { numaReason = error.description }
        return SystemFacts(
            isRoot: Machine.isRoot, devices: devices, generation: detection.generation,
            generationReason: detection.reason, freeHugePages: Self.meminfo("HugePages_Free") ?? 0,
            kernelConfig: KernelConfig.load(), numaNodes: numaNodes, numaUnavailableReason: numaReason,
            hasGupTest: fileExists("/sys/kernel/debug/gup_test"))
    }

    /// The file system `file-create` makes its files on in `directory`; nil when statfs fails
    /// (the file steps then fail on their own).
    public static func fileBacking(of directory: String) -> FileBacking? {
        guard let tmpfs = try? Machine.isOnTmpfs(directory) else { return nil }
        return tmpfs ? .tmpfs : .pageMkwrite
    }

    /// CONFIG_SWAP, seen as /proc/swaps (present whenever swap support is built in, swap
    /// devices or not): it decides whether migration keeps a page's dirty bit.
    public static var runningKernelHasSwap: Bool { fileExists("/proc/swaps") }

    /// The machine facts the verdicts depend on, in one line for the run's header:
    /// `nodes 0 (CPUs 0 1, 2048 MiB) 1 (no CPUs, 512 MiB); THP madvise; CONFIG_SWAP no; ...`.
    public var summary: String {
        let nodes = numaNodes.isEmpty ? "no NUMA (\(numaUnavailableReason ?? "no nodes"))"
            : "nodes " + numaNodes.map { n in
                let cpus = n.cpus.isEmpty ? "no CPUs" : "CPUs " + n.cpus.map(String.init).joined(separator: " ")
                return "\(n.id) (\(cpus), \(n.memoryBytes >> 20) MiB)"
            }.joined(separator: " ")
        let thp = THPSetting.current()?.rawValue ?? "unknown"
        let balancing = (try? readTextFile("/proc/sys/kernel/numa_balancing"))?.trimmed ?? "absent"
        let files = Self.fileBacking(of: "/tmp")?.rawValue ?? "unknown"
        let swap = Self.runningKernelHasSwap ? "yes" : "no"
        let minors = devices.isEmpty ? "none" : devices.sorted().map(String.init).joined(separator: " ")
        return "\(nodes); THP \(thp); files in /tmp \(files); CONFIG_SWAP \(swap); NUMA balancing \(balancing); "
            + "free huge pages \(freeHugePages); devices " + minors
    }

    /// The model's profile for the running kernel: its release's, with what depends on the
    /// kernel's config read from the running system. Nil for releases no profile covers.
    public static func runningKernelProfile(release: String = Machine.kernelRelease) -> KernelProfile? {
        KernelProfile.forRelease(release)?.withSwap(runningKernelHasSwap)
    }

    static func meminfo(_ key: String) -> Int? {
        guard let text = try? readTextFile("/proc/meminfo") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            return Int(line.dropFirst(key.count + 1).split(separator: " ").first ?? "")
        }
        return nil
    }

    /// nil when met; otherwise the SKIP reason.
    public func unmet(_ need: TestNeed) -> String? {
        switch need {
        case .root:
            return isRoot ? nil : "must be run as root"
        case let .device(minor):
            if devices.contains(minor) { return nil }
            if DeviceMemoryType.forMinor(minor) == .deviceCoherent {
                return "DEVICE_COHERENT not available (\(DmirrorDevice.path(minor: minor)) missing: load test_hmm with spm_addr_dev0/1)"
            }
            return "\(DmirrorDevice.path(minor: minor)) missing: test_hmm is not loaded"
        case let .operation(op):
            return generation.unavailableReason(for: op).map { "\($0) (\(generationReason))" }
        case let .freeHugePages(n):
            return freeHugePages >= n
                ? nil : "needs \(n) free huge page(s), \(freeHugePages) free (reserve with hugepages= or /proc/sys/vm/nr_hugepages)"
        case let .config(option):
            guard let config = kernelConfig else { return "kernel config unknown, cannot check \(option)" }
            return ["y", "m"].contains(config[option] ?? "") ? nil : "\(option) is not set in this kernel"
        case let .numaNodes(n):
            if let numaUnavailableReason { return numaUnavailableReason }
            let withMemory = numaNodes.filter { $0.memoryBytes > 0 }.count
            return withMemory >= n ? nil : "needs \(n) NUMA nodes with memory, found \(withMemory)"
        case .memoryOnlyNode:
            if let numaUnavailableReason { return numaUnavailableReason }
            return numaNodes.contains(where: \.isMemoryOnly) ? nil : "no NUMA node with memory and no CPUs"
        case .gupTest:
            return hasGupTest ? nil : "Skipping test, could not find gup_test driver (CONFIG_GUP_TEST and debugfs)"
        }
    }
}

/// The running kernel's configuration: $HMMKIT_KERNEL_CONFIG (the VM passes the build's),
/// else the kernel's own /proc/config.gz, else /boot/config-$(uname -r).
public enum KernelConfig {
    public static func load() -> [String: String]? {
        if let p = getenvString("HMMKIT_KERNEL_CONFIG"), let text = try? readTextFile(p) { return parse(text) }
        if let bytes = GzipFile.read("/proc/config.gz") { return parse(String(decoding: bytes, as: UTF8.self)) }
        if let text = try? readTextFile("/boot/config-\(Machine.kernelRelease)") { return parse(text) }
        return nil
    }

    /// Scans UTF-8 bytes, not Characters: a distribution's config has 10,000 lines, and under
    /// TCG the Character-by-Character split was most of hmmkit's start-up work.
    public static func parse(_ text: String) -> [String: String] {
        var text = text
        return text.withUTF8 { bytes in
            var result: [String: String] = [:]
            let prefix = Array("CONFIG_".utf8)
            var lineStart = 0
            while lineStart < bytes.count {
                var lineEnd = lineStart
                while lineEnd < bytes.count && bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
                if lineEnd - lineStart > prefix.count,
                   prefix.indices.allSatisfy({ bytes[lineStart + $0] == prefix[$0] }),
                   let equals = (lineStart..<lineEnd).first(where: { bytes[$0] == UInt8(ascii: "=") }) {
                    let name = String(decoding: UnsafeBufferPointer(rebasing: bytes[lineStart..<equals]), as: UTF8.self)
                    result[name] = String(decoding: UnsafeBufferPointer(rebasing: bytes[(equals + 1)..<lineEnd]), as: UTF8.self)
                }
                lineStart = lineEnd + 1
            }
            return result
        }
    }
}

func getenvString(_ name: String) -> String? {
    guard let p = getenv(name) else { return nil }
    return String(cString: p)
}
