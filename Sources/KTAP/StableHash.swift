/// 64-bit FNV-1a over a string's UTF-8 bytes: the same value in every process, on every
/// machine and in every Swift version (unlike `Hasher`, which is seeded per process).
///
/// hmmkit uses it wherever a name must map to the same place every time: the shard a test
/// belongs to (`run --shard K/N`), cache keys, the run key in KCIDB IDs.
public enum StableHash {
    /// The FNV-1a 64 offset basis: the hash of the empty string.
    public static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    /// The FNV-1a 64 prime.
    public static let prime: UInt64 = 0x0000_0100_0000_01b3

    public static func fnv1a64(_ text: String) -> UInt64 {
        var hash = offsetBasis
        for byte in text.utf8 {
            hash = (hash ^ UInt64(byte)) &* prime
        }
        return hash
    }

    /// The hash as 16 lower-case hex digits.
    public static func hex(_ text: String) -> String {
        let digits = String(fnv1a64(text), radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
