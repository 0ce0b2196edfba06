import HMMSystem

/// Writes a whole file or nothing, through HMMSystem's ``AtomicWriter`` (temporary file
/// beside the target, fsync, rename, fsync of the directory), with the report writers'
/// errors: a failure is a ``ReportError`` of kind `.io` naming the file as the user gave it.
///
/// A target that exists and is not a regular file (`/dev/stdout`, a pipe) is written in place;
/// a symbolic link is followed, so the file it names is replaced and the link stays.
public enum AtomicFile {
    public static func write(_ text: String, to requested: String) throws(ReportError) {
        try write([(text, requested)])
    }

    /// Writes several files all or nothing (``AtomicWriter/write(_:)-([(String,String)])``):
    /// every text is staged before any target is replaced.
    public static func write(_ files: [(text: String, path: String)]) throws(ReportError) {
        do { try AtomicWriter.write(files) } catch { throw ReportError(.io, error.message, file: error.path) }
    }
}
