import Foundation

/// Writes a cpio archive in the "newc" format the kernel unpacks as an initramfs
/// (Documentation/driver-api/early-userspace/buffer-format.rst). Entries are owned by root
/// with time 0, so the same inputs give the same bytes; a device node needs no privilege.
/// Missing parent directories are added first, as the kernel does not create them.
public struct CPIOArchive: ~Copyable {
    private let output: FileHandle
    private var inode: UInt32 = 1
    private var directories: Set<String> = []
    public private(set) var bytesWritten = 0

    /// Starts an archive at `path` (replacing it).
    public init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw HMMKitError("\(path): cannot create the archive")
        }
        output = handle
    }

    public mutating func directory(_ path: String, mode: UInt32 = 0o755) throws {
        let name = Self.relative(path)
        guard !name.isEmpty, !directories.contains(name) else { return }
        try parents(of: name)
        directories.insert(name)
        try entry(name, mode: 0o040000 | mode, data: [])
    }

    public mutating func file(_ path: String, bytes: [UInt8], mode: UInt32 = 0o644) throws {
        let name = Self.relative(path)
        try parents(of: name)
        try entry(name, mode: 0o100000 | mode, data: bytes)
    }

    /// A regular file copied from the host (read whole: payload files are at most tens of MiB).
    public mutating func file(_ path: String, copying hostPath: String) throws {
        guard let data = FileManager.default.contents(atPath: hostPath) else {
            throw HMMKitError("\(hostPath): cannot read it into the archive")
        }
        let attributes = try? FileManager.default.attributesOfItem(atPath: hostPath)
        let permissions = (attributes?[.posixPermissions] as? NSNumber)?.uint32Value ?? 0o644
        try file(path, bytes: [UInt8](data), mode: permissions & 0o777)
    }

    public mutating func symlink(_ path: String, to target: String) throws {
        let name = Self.relative(path)
        try parents(of: name)
        try entry(name, mode: 0o120000 | 0o777, data: Array(target.utf8))
    }

    public mutating func characterDevice(_ path: String, major: UInt32, minor: UInt32, mode: UInt32 = 0o600) throws {
        let name = Self.relative(path)
        try parents(of: name)
        try entry(name, mode: 0o020000 | mode, data: [], rdev: (major, minor))
    }

    /// Writes the trailer and closes the file.
    public consuming func finish() throws {
        try entry("TRAILER!!!", mode: 0, data: [], countsAsInode: false)
        try output.synchronize()
        try output.close()
    }

    // MARK: format

    private mutating func parents(of name: String) throws {
        var components = name.split(separator: "/").dropLast()
        var prefix: [Substring] = []
        while !components.isEmpty {
            prefix.append(components.removeFirst())
            try directory(prefix.joined(separator: "/"))
        }
    }

    private mutating func entry(_ name: String, mode: UInt32, data: [UInt8], rdev: (UInt32, UInt32) = (0, 0),
                                countsAsInode: Bool = true) throws {
        guard data.count <= UInt32.max else { throw HMMKitError("\(name): \(data.count) bytes is more than a cpio entry holds") }
        var header = Self.header(name: name, inode: countsAsInode ? inode : 0, mode: mode, size: data.count, rdev: rdev)
        header += Array(name.utf8) + [0]
        header += Self.padding(header.count)
        var body = data
        body += Self.padding(data.count)
        try output.write(contentsOf: header + body)
        bytesWritten += header.count + body.count
        if countsAsInode { inode += 1 }
    }

    static func header(name: String, inode: UInt32, mode: UInt32, size: Int, rdev: (UInt32, UInt32)) -> [UInt8] {
        let fields: [UInt32] = [inode, mode, 0, 0, mode & 0o040000 != 0 ? 2 : 1, 0, UInt32(size), 0, 0,
                                rdev.0, rdev.1, UInt32(name.utf8.count + 1), 0]
        let hex = fields.map { value -> String in
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 8 - digits.count) + digits
        }
        return Array(("070701" + hex.joined()).utf8)
    }

    static func padding(_ count: Int) -> [UInt8] { [UInt8](repeating: 0, count: (4 - count % 4) % 4) }

    static func relative(_ path: String) -> String {
        path.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
    }
}
