/// Page contents as 64-bit tokens.
///
/// The model never stores bytes. Every page holds a *token*; `0` means "all bytes zero"
/// (unpopulated, the shared zero page, or a freshly zero-filled page). A runner that
/// writes real memory expands a token into bytes with ``PageContent/fill(_:token:)`` and
/// turns bytes it reads back into a token with ``PageContent/decode(_:)``.
///
/// Encoding: the page is an array of little-endian 64-bit words; word `i` of token `t`
/// is `mix(t &+ i &* 0x9E3779B97F4A7C15)` for `t != 0`, where `mix` is the splitmix64
/// finaliser (a bijection on `UInt64`), and `0` for `t == 0`. Because `mix` is invertible,
/// word 0 identifies the token and the other words check it.
public enum PageContent {
    static let step: UInt64 = 0x9E37_79B9_7F4A_7C15

    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static func unmix(_ x: UInt64) -> UInt64 {
        var z = x
        z = z ^ (z >> 31) ^ (z >> 62)
        z = z &* 0x3196_42B2_D24D_8EC3 // inverse of 0x94D049BB133111EB
        z = z ^ (z >> 27) ^ (z >> 54)
        z = z &* 0x96DE_1B17_3F11_9089 // inverse of 0xBF58476D1CE4E5B9
        z = z ^ (z >> 30) ^ (z >> 60)
        return z
    }

    /// Word `index` (0-based, 8 bytes each) of a page holding `token`.
    @inline(__always)
    public static func word(token: UInt64, index: Int) -> UInt64 {
        token == 0 ? 0 : mix(token &+ UInt64(truncatingIfNeeded: index) &* step)
    }

    /// Fills `buffer` (a page; its length should be a multiple of 8) with `token`'s bytes.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer, token: UInt64) {
        let words = buffer.count / 8
        for i in 0..<words {
            buffer.storeBytes(of: word(token: token, index: i).littleEndian, toByteOffset: i * 8, as: UInt64.self)
        }
    }

    /// The bytes of a page of `pageSize` bytes holding `token`.
    public static func bytes(token: UInt64, pageSize: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: pageSize)
        out.withUnsafeMutableBytes { fill($0, token: token) }
        return out
    }

    /// The token whose expansion equals `page`, or nil if the bytes are no token's
    /// expansion (corruption, a torn write, foreign data).
    public static func decode(_ page: UnsafeRawBufferPointer) -> UInt64? {
        let words = page.count / 8
        guard words > 0 else { return nil }
        let w0 = UInt64(littleEndian: page.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        let token = w0 == 0 ? 0 : unmix(w0) &- 0
        for i in 1..<words {
            let w = UInt64(littleEndian: page.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))
            if w != word(token: token, index: i) { return nil }
        }
        return token
    }

    /// ``decode(_:)-(UnsafeRawBufferPointer)`` for an array.
    public static func decode(_ page: [UInt8]) -> UInt64? {
        page.withUnsafeBytes { decode($0) }
    }
}
