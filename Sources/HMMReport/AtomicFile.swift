import Glibc

/// Writes a whole file or nothing: the text goes to a temporary file in the same directory,
/// is flushed to disk, and is renamed over the target. A reader never sees half a report,
/// and a failed write leaves any previous file in place.
///
/// A target that exists and is not a regular file (`/dev/stdout`, a pipe) is written in place;
/// a symbolic link is followed, so the file it names is replaced and the link stays.
public enum AtomicFile {
    public static func write(_ text: String, to requested: String) throws(ReportError) {
        func failure(_ what: String) -> ReportError {
            ReportError(.io, "cannot write: \(what): \(String(cString: strerror(errno)))", file: requested)
        }
        var path = requested
        var info = stat()
        if stat(requested, &info) == 0 {
            if (info.st_mode & S_IFMT) != S_IFREG {
                let fd = open(requested, O_WRONLY | O_CLOEXEC)
                guard fd >= 0 else { throw failure("open") }
                defer { close(fd) }
                guard writeAll(text, to: fd) else { throw failure("write") }
                return
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
        guard fd >= 0 else { throw failure("cannot create a file in '\(directory.isEmpty ? "." : directory)'") }
        var renamed = false
        defer { if !renamed { unlink(temporary) } }
        guard writeAll(text, to: fd) else {
            let error = failure("write")
            close(fd)
            throw error
        }
        guard fsync(fd) == 0 else {
            let error = failure("fsync")
            close(fd)
            throw error
        }
        guard close(fd) == 0 else { throw failure("close") }
        guard rename(temporary, path) == 0 else { throw failure("rename") }
        renamed = true
    }

    private static func writeAll(_ text: String, to fd: Int32) -> Bool {
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            written += n
        }
        return true
    }
}
