import HMMSystem

#if canImport(Glibc)
import Glibc
#endif

/// A KCOV trace buffer (`/sys/kernel/debug/kcov`, CONFIG_KCOV): the PCs of instrumented
/// kernel code one task executes, in order, repeats included.
///
/// KCOV is per task: only the task that called ``enable()`` is traced, never the processes
/// or threads it creates (a fixture's `fork` blocks run uncovered). The buffer is a shared
/// mapping, so a process can set it up, fork a worker that enables it for itself, and read
/// the PCs after the worker has gone: the kernel disables the trace when its task exits and
/// the descriptor can be enabled again by the next worker.
///
/// Word 0 of the buffer is the number of PCs recorded; when the buffer is full the kernel
/// stops recording (``Sample/full``). ``drain()`` empties it into a set between steps.
public final class KCOVTrace {
    public static let path = "/sys/kernel/debug/kcov"
    /// `_IOR('c', 1, unsigned long)`, `_IO('c', 100)`, `_IO('c', 101)` from uapi/linux/kcov.h.
    static let initTrace: UInt = 0x8008_6301
    static let enableRequest: UInt = 0x6364
    static let disableRequest: UInt = 0x6365
    /// KCOV_TRACE_PC.
    static let tracePC: UInt = 0

    private let fd: Int32
    private let area: UnsafeMutableRawPointer
    /// Words in the buffer, the count word included.
    public let words: Int

    /// Opens the device and maps a buffer of `words` 64-bit words (the first is the count).
    public init(words: Int, path: String = KCOVTrace.path) throws(SystemError) {
        guard words >= 2 else { throw SystemError("KCOV_INIT_TRACE(\(words) words)", .EINVAL) }
        fd = try Sys.open(path, O_RDWR)
        do {
            try Sys.ioctl(fd, Self.initTrace, value: UInt(words), name: "KCOV_INIT_TRACE")
            area = try Sys.mmap(nil, words * 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        } catch {
            try? Sys.close(fd)
            throw error
        }
        self.words = words
    }

    deinit {
        try? Sys.munmap(area, words * 8)
        try? Sys.close(fd)
    }

    /// Starts tracing the calling task from an empty buffer (KCOV_ENABLE, KCOV_TRACE_PC).
    public func enable() throws(SystemError) {
        storeCount(0)
        try Sys.ioctl(fd, Self.enableRequest, value: Self.tracePC, name: "KCOV_ENABLE")
    }

    /// Stops tracing the calling task (KCOV_DISABLE); the PCs stay in the buffer.
    public func disable() throws(SystemError) {
        try Sys.ioctl(fd, Self.disableRequest, value: 0, name: "KCOV_DISABLE")
    }

    private func storeCount(_ value: UInt64) {
        area.storeBytes(of: value, as: UInt64.self)
    }

    /// What the buffer held, over every ``drain()`` so far.
    public struct Sample: Sendable, Equatable {
        /// Distinct PCs, sorted.
        public var pcs: [UInt64]
        /// PCs recorded, repeats included.
        public var recorded: Int
        /// The buffer filled up before a drain: some PCs were not recorded.
        public var full: Bool
    }

    private var seen = Set<UInt64>()
    /// A direct-mapped filter in front of `seen`: a loop records the same PCs over and over.
    private var recent = [UInt64](repeating: 0, count: 4096)
    private var recorded = 0
    private var full = false

    /// Moves the PCs recorded so far into this object and empties the buffer, so a long run
    /// can be read in parts (between a worker's steps) instead of filling it. A PC the kernel
    /// records while the count is reset may be lost.
    public func drain() {
        let count = Int(clamping: area.load(as: UInt64.self))
        let n = min(count, words - 1)
        if count >= words - 1 { full = true }
        for i in 0..<n {
            let pc = area.load(fromByteOffset: (i + 1) * 8, as: UInt64.self)
            let slot = Int(truncatingIfNeeded: (pc >> 1) & 4095)
            if recent[slot] != pc {
                recent[slot] = pc
                seen.insert(pc)
            }
        }
        recorded += n
        storeCount(0)
    }

    /// The distinct PCs recorded since the trace was opened (the buffer is drained first).
    public func sample() -> Sample {
        drain()
        return Sample(pcs: seen.sorted(), recorded: recorded, full: full)
    }
}

/// Where a loaded module's code sections start (`/sys/module/NAME/sections/`), so a PC in
/// module code can be named by section and offset: the same in every boot, wherever the
/// module was loaded.
public struct ModuleSections: Sendable, Equatable {
    public var module: String
    /// Code sections (names containing "text"), by start address.
    public var sections: [(name: String, start: UInt64)]

    public static func == (a: ModuleSections, b: ModuleSections) -> Bool {
        a.module == b.module && a.sections.map(\.name) == b.sections.map(\.name) && a.sections.map(\.start) == b.sections.map(\.start)
    }

    public init(module: String, sections: [(name: String, start: UInt64)]) {
        self.module = module
        self.sections = sections.sorted { $0.start < $1.start }
    }

    /// The module's code sections as sysfs shows them to root; nil when it is not loaded.
    public static func read(module: String, root: String = "/sys/module") -> ModuleSections? {
        let dir = root + "/" + module + "/sections"
        guard let names = try? listDirectory(dir) else { return nil }
        var found: [(String, UInt64)] = []
        for name in names where name.contains("text") {
            guard let text = try? readTextFile(dir + "/" + name) else { continue }
            let hex = text.trimmed.hasPrefix("0x") ? String(text.trimmed.dropFirst(2)) : text.trimmed
            if let start = UInt64(hex, radix: 16), start != 0 { found.append((name, start)) }
        }
        return found.isEmpty ? nil : ModuleSections(module: module, sections: found)
    }

    /// The section holding `pc` and the offset into it: the last section starting at or
    /// before `pc`, if `pc` is within `limit` bytes of its start.
    public func locate(_ pc: UInt64, limit: UInt64 = 1 << 24) -> (name: String, offset: UInt64)? {
        guard let section = sections.last(where: { $0.start <= pc }), pc - section.start < limit else { return nil }
        return (section.name, pc - section.start)
    }
}
