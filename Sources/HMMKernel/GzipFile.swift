import CZlib

/// Reads a gzip-compressed file whole, such as the running kernel's /proc/config.gz
/// (CONFIG_IKCONFIG_PROC): a kernel built outside hmmkit carries its config only there.
public enum GzipFile {
    /// The decompressed bytes, or nil when the file is missing or not gzip. At most `limit`
    /// bytes are read, so a hostile or corrupt file cannot exhaust memory.
    public static func read(_ path: String, limit: Int = 16 << 20) -> [UInt8]? {
        guard let file = gzopen(path, "rb") else { return nil }
        defer { gzclose(file) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while result.count < limit {
            let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if n < 0 { return nil }
            if n == 0 { break }
            result += chunk.prefix(Int(n))
        }
        return result
    }
}
