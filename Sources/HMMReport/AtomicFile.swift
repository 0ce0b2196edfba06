import Glibc

/// Writes a whole file or nothing: the text goes to a temporary file in the same directory,
/// is flushed to disk, and is renamed over the target. A reader never sees half a report,
/// and a failed write leaves any previous file in place.
///
/// A target that exists and is not a regular file (`/dev/stdout`, a pipe) is written in place;
/// a symbolic link is followed, so the file it names is replaced and the link stays.
public enum AtomicFile {
    public static func write(_ text: String, to requested: String) throws(ReportError) {
        try write([(text, requested)])
    }

    /// Writes several files all or nothing: every text is staged (written and flushed to a
    /// temporary file beside its target, or, for a target written in place, that target
    /// opened) before any target is replaced, so a failure while staging (a full disk, a
    /// missing directory, a directory in the way) leaves every target as it was. In-place
    /// targets are written before any rename, so one that fails replaces no file either.
    public static func write(_ files: [(text: String, path: String)]) throws(ReportError) {
        var staged: [Staged] = []
        defer { for s in staged where !s.committed { s.discard() } }
        for (text, path) in files { staged.append(try stage(text, to: path)) }
        for i in staged.indices where staged[i].inPlace != nil { try staged[i].commit() }
        for i in staged.indices where staged[i].inPlace == nil { try staged[i].commit() }
    }

    /// A text ready to replace its target: in a temporary file, or (for a target that is not
    /// a regular file, like `/dev/stdout` or a pipe) with the target open, written at commit.
    struct Staged {
        let requested: String
        let target: String
        let temporary: String?
        /// The open target and the text for it, for a target written in place.
        let inPlace: (fd: Int32, text: String)?
        var committed = false

        mutating func commit() throws(ReportError) {
            if let inPlace {
                defer { close(inPlace.fd) }
                committed = true
                guard AtomicFile.writeAll(inPlace.text, to: inPlace.fd) else { throw AtomicFile.failure("write", requested) }
            } else if let temporary {
                guard rename(temporary, target) == 0 else { throw AtomicFile.failure("rename", requested) }
                committed = true
            }
        }

        func discard() {
            if let temporary { unlink(temporary) }
            if let inPlace { close(inPlace.fd) }
        }
    }

    static func failure(_ what: String, _ requested: String) -> ReportError {
        ReportError(.io, "cannot write: \(what): \(String(cString: strerror(errno)))", file: requested)
    }

    /// A target that exists and is not a regular file is written in place at commit; a
    /// symbolic link is followed, so the file it names is replaced and the link stays.
    static func stage(_ text: String, to requested: String) throws(ReportError) -> Staged {
        var path = requested
        var info = stat()
        if stat(requested, &info) == 0 {
            if (info.st_mode & S_IFMT) == S_IFDIR {
                throw ReportError(.io, "cannot write: is a directory", file: requested)
            }
            if (info.st_mode & S_IFMT) != S_IFREG {
                let fd = open(requested, O_WRONLY | O_CLOEXEC)
                guard fd >= 0 else { throw failure("open", requested) }
                return Staged(requested: requested, target: requested, temporary: nil, inPlace: (fd, text))
            }
            if let resolved = realpath(requested, nil) {
                path = String(cString: resolved)
                free(resolved)
            }
        }

        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[...$0]) } ?? ""
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !base.isEmpty else { throw ReportError(.io, "not a file name", file: requested) }
        let temporary = directory + ".\(base).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("cannot create a file in '\(directory.isEmpty ? "." : directory)'", requested) }
        var kept = false
        defer { if !kept { unlink(temporary) } }
        guard writeAll(text, to: fd) else {
            let error = failure("write", requested)
            close(fd)
            throw error
        }
        guard fsync(fd) == 0 else {
            let error = failure("fsync", requested)
            close(fd)
            throw error
        }
        guard close(fd) == 0 else { throw failure("close", requested) }
        kept = true
        return Staged(requested: requested, target: path, temporary: temporary, inPlace: nil)
    }

    static func writeAll(_ text: String, to fd: Int32) -> Bool {
        // A native string's UTF-8 in place: no copy of a file that may be hundreds of MiB.
        if let done = text.utf8.withContiguousStorageIfAvailable({ writeAll($0, to: fd) }) { return done }
        return Array(text.utf8).withUnsafeBufferPointer { writeAll($0, to: fd) }
    }

    static func writeAll(_ bytes: UnsafeBufferPointer<UInt8>, to fd: Int32) -> Bool {
        var written = 0
        while written < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + written, bytes.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            written += n
        }
        return true
    }
}
