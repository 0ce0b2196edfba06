#if canImport(Glibc)
import Glibc
#endif

extension Double {
    /// The value with `digits` digits after the point, exactly as printf's `%.Nf` writes it
    /// (Foundation's `String(format:)` without Foundation: the guest executable links none).
    public func fixed(_ digits: Int) -> String {
        let precision = Int32(clamping: Swift.max(0, Swift.min(digits, 30)))
        var buffer = [CChar](repeating: 0, count: 64)
        let needed = withVaList([precision, self]) { arguments in
            buffer.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, $0.count, "%.*f", arguments) }
        }
        if needed >= buffer.count {
            buffer = [CChar](repeating: 0, count: Int(needed) + 1)
            _ = withVaList([precision, self]) { arguments in
                buffer.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, $0.count, "%.*f", arguments) }
            }
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
