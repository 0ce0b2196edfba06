#if canImport(Glibc)
import Glibc
#endif

/// hmmkit's one way to replace a file: whole or not at all, and durable once it returns.
///
/// Each text goes to a temporary file beside its target, which is written, fsync'ed and
/// closed, then renamed over the target; after the renames each directory involved is
/// fsync'ed, so the new name survives a crash too (rename(2) alone orders nothing on disk).
/// A reader never sees half a file, and a failure leaves any previous file in place.
///
/// A target that exists and is not a regular file (`/dev/stdout`, a pipe) is written in
/// place; a symbolic link is followed, so the file it names is replaced and the link stays.
public enum AtomicWriter {
    public static func write(_ text: String, to path: String) throws(AtomicWriteError) {
        try write([(text, path)])
    }

    /// Writes several files all or nothing: every text is staged (written and flushed to a
    /// temporary file beside its target, or, for a target written in place, that target
    /// opened) before any target is replaced, so a failure while staging (a full disk, a
    /// missing directory, a directory in the way) leaves every target as it was. In-place
    /// targets are written before any rename, so one that fails replaces no file either.
    public static func write(_ files: [(text: String, path: String)]) throws(AtomicWriteError) {
        var staged: [Staged] = []
        defer { for s in staged where !s.committed { s.discard() } }
        for (text, path) in files { staged.append(try stage(text, to: path)) }
        for i in staged.indices where staged[i].inPlace != nil { try staged[i].commit() }
        for i in staged.indices where staged[i].inPlace == nil { try staged[i].commit() }
        var synced: Set<String> = []
        for s in staged where s.temporary != nil && synced.insert(s.directory).inserted {
            try syncDirectory(s.directory, for: s.requested)
        }
    }

    /// Replaces `path` with `temporary`, a complete file written by other means (an archive
    /// streamed to disk): fsync of the file, rename, fsync of the directory.
    public static func commit(_ temporary: String, to path: String) throws(AtomicWriteError) {
        do {
            let fd = try Sys.open(temporary, O_RDONLY)
            defer { try? Sys.close(fd) }
            try Sys.fsync(fd)
        } catch { throw AtomicWriteError(path, .fsync, error.errno) }
        do { try Sys.rename(temporary, path) } catch { throw AtomicWriteError(path, .rename, error.errno) }
        try syncDirectory(directory(of: path), for: path)
    }

    /// A text ready to replace its target: in a temporary file, or (for a target that is not
    /// a regular file, like `/dev/stdout` or a pipe) with the target open, written at commit.
    struct Staged {
        let requested: String
        let target: String
        let directory: String
        let temporary: String?
        /// The open target and the text for it, for a target written in place.
        let inPlace: (fd: Int32, text: String)?
        var committed = false

        mutating func commit() throws(AtomicWriteError) {
            if let inPlace {
                defer { try? Sys.close(inPlace.fd) }
                committed = true
                do { try AtomicWriter.writeAll(inPlace.text, to: inPlace.fd) } catch {
                    throw AtomicWriteError(requested, .write, error.errno)
                }
            } else if let temporary {
                do { try Sys.rename(temporary, target) } catch { throw AtomicWriteError(requested, .rename, error.errno) }
                committed = true
            }
        }

        func discard() {
            if let temporary { try? Sys.unlink(temporary) }
            if let inPlace { try? Sys.close(inPlace.fd) }
        }
    }

    /// The directory part of `path` with its slash ("" for a bare name).
    static func directory(of path: String) -> String {
        path.lastIndex(of: "/").map { String(path[...$0]) } ?? ""
    }

    /// fsync of a directory after a rename in it. A file system that cannot sync a directory
    /// (EINVAL) or one this process may not open for reading is no failure: the rename is done.
    static func syncDirectory(_ directory: String, for requested: String) throws(AtomicWriteError) {
        guard let fd = try? Sys.open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY) else { return }
        defer { try? Sys.close(fd) }
        do { try Sys.fsync(fd) } catch {
            if error.errno == .EINVAL || error.errno == Errno(rawValue: EROFS) { return }
            throw AtomicWriteError(requested, .fsyncDirectory, error.errno)
        }
    }

    /// A target that exists and is not a regular file is written in place at commit; a
    /// symbolic link is followed, so the file it names is replaced and the link stays.
    static func stage(_ text: String, to requested: String) throws(AtomicWriteError) -> Staged {
        var path = requested
        if let type = Sys.fileType(requested) {
            if type == S_IFDIR { throw AtomicWriteError(requested, .isDirectory, nil) }
            if type != S_IFREG {
                let fd: Int32
                do { fd = try Sys.open(requested, O_WRONLY) } catch { throw AtomicWriteError(requested, .open, error.errno) }
                return Staged(requested: requested, target: requested, directory: directory(of: requested), temporary: nil,
                              inPlace: (fd, text))
            }
            if let resolved = Sys.realpath(requested) { path = resolved }
        }

        let directory = directory(of: path)
        let base = String(path.dropFirst(directory.count))
        guard !base.isEmpty else { throw AtomicWriteError(requested, .notAFileName, nil) }
        let temporary = directory + ".\(base).tmp-\(Sys.getpid())-\(UInt32.random(in: 0...UInt32.max))"

        let fd: Int32
        do { fd = try Sys.open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o644) } catch {
            throw AtomicWriteError(requested, .create(directory: directory.isEmpty ? "." : directory), error.errno)
        }
        var kept = false
        defer { if !kept { try? Sys.unlink(temporary) } }
        do { try writeAll(text, to: fd) } catch {
            try? Sys.close(fd)
            throw AtomicWriteError(requested, .write, error.errno)
        }
        do { try Sys.fsync(fd) } catch {
            try? Sys.close(fd)
            throw AtomicWriteError(requested, .fsync, error.errno)
        }
        do { try Sys.close(fd) } catch { throw AtomicWriteError(requested, .close, error.errno) }
        kept = true
        return Staged(requested: requested, target: path, directory: directory, temporary: temporary, inPlace: nil)
    }

    static func writeAll(_ text: String, to fd: Int32) throws(SystemError) {
        // A native string's UTF-8 in place: no copy of a file that may be hundreds of MiB.
        let done = text.utf8.withContiguousStorageIfAvailable { bytes in
            Result { () throws(SystemError) in try Sys.writeAll(fd, UnsafeRawBufferPointer(bytes)) }
        }
        if let done { return try done.get() }
        try Array(text.utf8).withUnsafeBytes { bytes in Result { () throws(SystemError) in try Sys.writeAll(fd, bytes) } }.get()
    }
}

/// Why ``AtomicWriter`` wrote nothing: the target as the caller named it, the step that
/// failed and its errno. The messages are the ones hmmkit's report writers always gave.
public struct AtomicWriteError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Step: Sendable, Equatable {
        case isDirectory, notAFileName, open, write, fsync, close, rename, fsyncDirectory
        /// The temporary file could not be made in the target's directory.
        case create(directory: String)
    }

    public var path: String
    public var step: Step
    public var errno: Errno?

    public init(_ path: String, _ step: Step, _ errno: Errno?) {
        self.path = path
        self.step = step
        self.errno = errno
    }

    /// What went wrong, without the path: `cannot write: rename: No such file or directory`.
    public var message: String {
        let what: String
        switch step {
        case .isDirectory: return "cannot write: is a directory"
        case .notAFileName: return "not a file name"
        case .open: what = "open"
        case .write: what = "write"
        case .fsync: what = "fsync"
        case .close: what = "close"
        case .rename: what = "rename"
        case .fsyncDirectory: what = "fsync of the directory"
        case let .create(directory): what = "cannot create a file in '\(directory)'"
        }
        return "cannot write: \(what): \(errno?.message ?? "unknown error")"
    }

    public var description: String { "\(path): \(message)" }
}
