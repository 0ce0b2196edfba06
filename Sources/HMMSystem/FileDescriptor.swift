#if canImport(Glibc)
import Glibc
#endif

/// An owned file descriptor, closed when its owner goes away.
public struct FileDescriptor: ~Copyable {
    public let rawValue: Int32

    public init(adopting fd: Int32) { rawValue = fd }

    public static func open(_ path: String, writable: Bool = true) throws(SystemError) -> FileDescriptor {
        FileDescriptor(adopting: try Sys.open(path, writable ? O_RDWR : O_RDONLY))
    }

    /// An unnamed temporary file (O_TMPFILE) of `size` bytes, as hmm-tests uses for file mappings.
    public static func temporaryFile(in directory: String = "/tmp", size: Int) throws(SystemError) -> FileDescriptor {
        let fd = FileDescriptor(adopting: try Sys.open(directory, Sys.O_TMPFILE | O_EXCL | O_RDWR, 0o600))
        try Sys.ftruncate(fd.rawValue, size)
        return fd
    }

    public func pread(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(SystemError) -> Int {
        try Sys.pread(rawValue, buffer, offset)
    }

    public func pwrite(_ buffer: UnsafeRawBufferPointer, at offset: Int) throws(SystemError) -> Int {
        try Sys.pwrite(rawValue, buffer, offset)
    }

    public func truncate(to length: Int) throws(SystemError) { try Sys.ftruncate(rawValue, length) }

    /// Writes all of `bytes` at the current position (a pipe, a tty, a file).
    public func write(_ bytes: some Collection<UInt8>) throws(SystemError) {
        let fd = rawValue
        var failure: SystemError?
        Array(bytes).withUnsafeBytes { buffer in
            do throws(SystemError) { try Sys.writeAll(fd, buffer) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// fsync(2).
    public func synchronize() throws(SystemError) { try Sys.fsync(rawValue) }

    /// Deallocates [offset, offset+length) keeping the size (FALLOC_FL_PUNCH_HOLE|KEEP_SIZE).
    public func punchHole(offset: Int, length: Int) throws(SystemError) {
        try Sys.fallocate(rawValue, 0x02 | 0x01, offset, length)
    }

    /// Closes now and reports the error, which `deinit` cannot.
    public consuming func close() throws(SystemError) {
        let fd = rawValue
        discard self
        try Sys.close(fd)
    }

    deinit { try? Sys.close(rawValue) }
}

/// Reads a whole small file (procfs, sysfs) as text.
public func readTextFile(_ path: String, limit: Int = .max) throws(SystemError) -> String {
    String(decoding: try readFileBytes(path, limit: limit), as: UTF8.self)
}

/// Writes text to a procfs/sysfs file (e.g. the THP `enabled` knob).
public func writeTextFile(_ path: String, _ text: String) throws(SystemError) {
    let fd = FileDescriptor(adopting: try Sys.open(path, O_WRONLY))
    _ = try Sys.writeBytes(fd.rawValue, Array(text.utf8))
}

extension StringProtocol {
    /// The text without leading and trailing whitespace (procfs values end in a newline).
    public var trimmed: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}

/// Whether a path exists (access(2), F_OK); opens nothing.
public func fileExists(_ path: String) -> Bool { Sys.exists(path) }

/// Creates or replaces a file with `text`, atomically and durably (``AtomicWriter``).
public func createTextFile(_ path: String, _ text: String) throws(AtomicWriteError) {
    try AtomicWriter.write(text, to: path)
}

/// A new, private (mode 0700), unpredictably named directory `<parent>/<prefix>XXXXXX`
/// (mkdtemp(3)): never a directory someone else created first.
public func makeTemporaryDirectory(in parent: String, prefix: String) throws(SystemError) -> String {
    try Sys.mkdtemp(parent + "/" + prefix + "XXXXXX")
}

/// mkdir -p.
public func makeDirectory(_ path: String) throws(SystemError) {
    var prefix = path.hasPrefix("/") ? "/" : ""
    for part in path.split(separator: "/") {
        prefix += part
        try Sys.mkdir(prefix, 0o755)
        prefix += "/"
    }
}

public func isDirectory(_ path: String) -> Bool { Sys.isDirectory(path) }

/// Names in a directory (without `.` and `..`), unsorted.
public func listDirectory(_ path: String) throws(SystemError) -> [String] { try Sys.listDirectory(path) }

/// Reads a file's bytes, but at most `limit + 1` of them: a caller that sees more than
/// `limit` knows the file is too big without reading it whole.
public func readFileBytes(_ path: String, limit: Int = .max) throws(SystemError) -> [UInt8] {
    let fd = FileDescriptor(adopting: try Sys.open(path, O_RDONLY))
    var bytes: [UInt8] = []
    var sizes = ReadSizes()
    while bytes.count <= limit {
        let left = limit - bytes.count
        let request = left < sizes.next ? left + 1 : sizes.next
        let chunk = try Sys.readBytes(fd.rawValue, count: request)
        if chunk.isEmpty { break }
        bytes += chunk
        sizes.update(requested: request, got: chunk.count)
    }
    return bytes
}

/// How much each read of one file asks for: one page first, doubling only while reads come
/// back full, up to 1 MiB. A procfs sysctl (/proc/sys/kernel/tainted, read twice per test)
/// allocates and zeroes a kernel buffer as large as the request, the read that finds its end
/// included: asking 1 MiB there cost more than all the runner's other reads in a TCG guest.
struct ReadSizes {
    private(set) var next = 4096

    mutating func update(requested: Int, got: Int) {
        if got == requested { next = min(next * 2, 1 << 20) }
    }
}

/// The process's standard output and error, written unbuffered (one write per call): KTAP
/// streams line by line, to a serial port in a VM, so a crash loses nothing already
/// reported. A write that fails (a closed pipe) is dropped: there is nowhere to report it.
public enum StandardStream {
    case output, error

    public func write(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in try? Sys.writeAll(self == .output ? 1 : 2, UnsafeRawBufferPointer(utf8)) }
    }
}

/// Sleeps for whole seconds (sleep(3)); a signal only shortens it.
public func sleepSeconds(_ seconds: UInt32) { _ = Glibc.sleep(seconds) }

/// The running executable's path (/proc/self/exe), else argv[0].
public var currentExecutablePath: String { (try? Sys.readLink("/proc/self/exe")) ?? CommandLine.arguments.first ?? "" }
