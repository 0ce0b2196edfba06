import HMMSystem

#if canImport(Glibc)
import Glibc
#endif

/// The kernel's taint mask (/proc/sys/kernel/tainted).
public struct Taint: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let proprietaryModule = Taint(rawValue: 1 << 0)
    public static let forcedModule = Taint(rawValue: 1 << 1)
    public static let badPage = Taint(rawValue: 1 << 5)
    public static let died = Taint(rawValue: 1 << 7)          // D: an oops happened
    public static let warn = Taint(rawValue: 1 << 9)          // W: a WARN fired
    public static let outOfTree = Taint(rawValue: 1 << 12)
    public static let unsignedModule = Taint(rawValue: 1 << 13)
    public static let softLockup = Taint(rawValue: 1 << 14)
    public static let test = Taint(rawValue: 1 << 18)

    /// Taints a test can cause in mm/: any of these appearing during a test fails it.
    public static let faults: Taint = [.badPage, .died, .warn, .softLockup]

    public static let path = "/proc/sys/kernel/tainted"

    /// The current mask; nil when `path` cannot be read (then no taint check can run).
    public static func current(path: String = Taint.path) -> Taint? {
        guard let text = try? readTextFile(path),
              let value = UInt64(text.trimmed) else { return nil }
        return Taint(rawValue: value)
    }

    public var description: String { "0x" + String(rawValue, radix: 16) }
}

/// One record of the kernel log (/dev/kmsg: "prio,seq,usec,flags;text").
public struct KernelLogRecord: Sendable, Equatable {
    public var priority: Int
    public var sequence: UInt64
    public var microseconds: UInt64
    public var text: String

    public init?(line: String) {
        guard let semi = line.firstIndex(of: ";") else { return nil }
        let head = line[..<semi].split(separator: ",")
        guard head.count >= 3, let p = Int(head[0]), let s = UInt64(head[1]), let u = UInt64(head[2]) else { return nil }
        priority = p & 7
        sequence = s
        microseconds = u
        // Continuation lines (" KEY=value") follow after a newline; keep the message only.
        text = String(line[line.index(after: semi)...].prefix { $0 != "\n" })
    }

    /// Lines that mean the kernel detected a fault of its own.
    public var isFault: Bool { KernelLogRecord.isFaultText(text) }

    public static func isFaultText(_ text: String) -> Bool {
        let markers = ["WARNING:", "BUG:", "kernel BUG at", "Oops", "general protection fault",
                       "Kernel panic", "Unable to handle kernel", "page dumped because", "refcount_t:",
                       "list_add corruption", "list_del corruption", "watchdog: BUG", "rcu_sched self-detected",
                       "INFO: task", "bad page state", "Bad page"]
        return markers.contains { text.contains($0) }
    }
}

/// A position in the kernel log; `records()` returns what was logged after it.
public struct KernelLogMark: ~Copyable {
    private let fd: FileDescriptor

    public static let path = "/dev/kmsg"

    /// Opens /dev/kmsg (or `path`) at its end. Needs CAP_SYSLOG (root) or dmesg_restrict=0.
    public init(path: String = KernelLogMark.path) throws(SystemError) {
        let raw = try Sys.open(path, O_RDONLY | O_NONBLOCK)
        let opened = FileDescriptor(adopting: raw)
        _ = try Sys.lseek(raw, 0, SEEK_END)
        fd = opened
    }

    /// Everything logged since the mark (or the last call).
    public func records() -> [KernelLogRecord] {
        var out: [KernelLogRecord] = []
        while true {
            let chunk: [UInt8]
            do { chunk = try Sys.readBytes(fd.rawValue, count: 8192) } catch {
                if error.errno == .EPIPE { continue }  // records overwritten: skip ahead
                break  // EAGAIN: caught up
            }
            if chunk.isEmpty { break }
            if let r = KernelLogRecord(line: String(decoding: chunk, as: UTF8.self)) { out.append(r) }
        }
        return out
    }
}

/// A `/proc/self/pagemap` entry.
public struct PagemapEntry: Sendable, Equatable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public var present: Bool { rawValue & (1 << 63) != 0 }
    /// Swapped, or a swap-type entry such as a device-private or migration entry.
    public var swapped: Bool { rawValue & (1 << 62) != 0 }
    public var fileOrSharedAnon: Bool { rawValue & (1 << 61) != 0 }
    public var exclusivelyMapped: Bool { rawValue & (1 << 56) != 0 }
    public var softDirty: Bool { rawValue & (1 << 55) != 0 }
    /// Page frame number when present (zero without CAP_SYS_ADMIN).
    public var pfn: UInt64 { rawValue & ((1 << 55) - 1) }

    public var description: String {
        "pagemap(present:\(present) swap:\(swapped) file:\(fileOrSharedAnon) excl:\(exclusivelyMapped) pfn:0x\(String(pfn, radix: 16)))"
    }

    /// Entries for `count` pages from `address` in this process.
    public static func read(address: UInt64, count: Int) throws(SystemError) -> [PagemapEntry] {
        let fd = FileDescriptor(adopting: try Sys.open("/proc/self/pagemap", O_RDONLY))
        let offset = Int(address / UInt64(Sys.pageSize)) * 8
        let bytes = try Sys.readBytes(fd.rawValue, count: count * 8, offset: offset)
        if bytes.count != count * 8 { throw SystemError("pread(/proc/self/pagemap)", .EIO) }
        return (0..<count).map { i in
            PagemapEntry(rawValue: (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[i * 8 + $1]) << (8 * UInt64($1)) })
        }
    }
}
