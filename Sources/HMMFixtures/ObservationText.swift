import HMMModel
import HMMSystem

/// Observations as text: one line for people (in divergence reports, like an
/// expectation: `ok cpages=4 faults=1 data=[0x1,?]`) and one compact line for the pipe
/// between a replay's driver and its kernel-side worker.
public enum ObservationText {
    /// Human form; undecodable pages print as `?`.
    public static func render(_ o: Observation) -> String {
        var parts = [Errno.name(o.errno)]
        if let c = o.cpages { parts.append("cpages=\(c)") }
        if let f = o.faults { parts.append("faults=\(f)") }
        if let t = o.tokens { parts.append("data=[" + runs(t.map { $0.map { "0x" + String($0, radix: 16) } ?? "?" }) + "]") }
        if let s = o.snapshot {
            parts.append("snap=[" + runs(s.map { v in
                let h = String(v, radix: 16, uppercase: true)
                return h.count < 2 ? "0" + h : h
            }) + "]")
        }
        if let n = o.nodes { parts.append("nodes=[" + runs(n.map { $0 >= 0 ? "\($0)" : "-" + Errno.name(-$0) }) + "]") }
        return parts.joined(separator: " ")
    }

    /// `a,a,a,b` → `a*3,b`.
    static func runs(_ items: [String]) -> String {
        var out: [String] = []
        var i = 0
        while i < items.count {
            var j = i + 1
            while j < items.count && items[j] == items[i] { j += 1 }
            out.append(j - i > 1 ? "\(items[i])*\(j - i)" : items[i])
            i = j
        }
        return out.joined(separator: ",")
    }

    // MARK: Wire form: `e=22 c=4 f=1 t=1a,-,3 s=01,02 n=0,-14` (hex tokens, `-` undecodable)

    public static func encode(_ o: Observation) -> String {
        var parts = ["e=\(o.errno)"]
        if let c = o.cpages { parts.append("c=\(c)") }
        if let f = o.faults { parts.append("f=\(f)") }
        if let t = o.tokens { parts.append("t=" + t.map { $0.map { String($0, radix: 16) } ?? "-" }.joined(separator: ",")) }
        if let s = o.snapshot { parts.append("s=" + s.map { String($0, radix: 16) }.joined(separator: ",")) }
        if let n = o.nodes { parts.append("n=" + n.map(String.init).joined(separator: ",")) }
        return parts.joined(separator: " ")
    }

    /// Inverse of ``encode(_:)``; nil for a line that is not an encoded observation.
    ///
    /// Reads UTF-8 bytes, not Characters: a forked child's 1,024-page answers come through
    /// here, and the Character-based split was 9% of hmmkit's user time in a suite run.
    public static func decode(_ line: String) -> Observation? {
        var line = line
        return line.withUTF8 { WireReader(bytes: $0).observation() }
    }

    /// Several encoded observations joined by `;` (a forked child's batch of answers), in
    /// order; nil when any of them cannot be decoded.
    public static func decodeBatch(_ text: String) -> [Observation]? {
        var text = text
        return text.withUTF8 { all -> [Observation]? in
            var out: [Observation] = []
            var start = 0
            for end in 0...all.count where end == all.count || all[end] == UInt8(ascii: ";") {
                guard let o = WireReader(bytes: UnsafeBufferPointer(rebasing: all[start..<end])).observation() else { return nil }
                out.append(o)
                start = end + 1
            }
            return out
        }
    }
}

/// A reader of the wire form over UTF-8 bytes.
private struct WireReader {
    let bytes: UnsafeBufferPointer<UInt8>

    func observation() -> Observation? {
        var o = Observation()
        var sawErrno = false
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: " ") { i += 1; continue }
            var end = i
            while end < bytes.count && bytes[end] != UInt8(ascii: " ") { end += 1 }
            guard end - i >= 2, bytes[i + 1] == UInt8(ascii: "=") else { return nil }
            let value = (i + 2)..<end
            switch bytes[i] {
            case UInt8(ascii: "e"):
                guard let v = signed(value), let e = Int32(exactly: v) else { return nil }
                o.errno = e
                sawErrno = true
            case UInt8(ascii: "c"): guard let v = unsigned(value, radix: 10) else { return nil }; o.cpages = v
            case UInt8(ascii: "f"): guard let v = unsigned(value, radix: 10) else { return nil }; o.faults = v
            case UInt8(ascii: "t"):
                var tokens: [UInt64?] = []
                for item in items(value) {
                    if item.count == 1 && bytes[item.lowerBound] == UInt8(ascii: "-") { tokens.append(nil); continue }
                    guard let v = unsigned(item, radix: 16) else { return nil }
                    tokens.append(v)
                }
                o.tokens = tokens
            case UInt8(ascii: "s"):
                var snapshot: [UInt8] = []
                for item in items(value) {
                    guard let v = unsigned(item, radix: 16), let b = UInt8(exactly: v) else { return nil }
                    snapshot.append(b)
                }
                o.snapshot = snapshot
            case UInt8(ascii: "n"):
                var nodes: [Int32] = []
                for item in items(value) {
                    guard let v = signed(item), let n = Int32(exactly: v) else { return nil }
                    nodes.append(n)
                }
                o.nodes = nodes
            default: return nil
            }
            i = end
        }
        return sawErrno ? o : nil
    }

    /// The comma-separated items of `range`; none for an empty value, and an empty item
    /// where two commas meet (which then fails to parse, as a number must have digits).
    func items(_ range: Range<Int>) -> [Range<Int>] {
        guard !range.isEmpty else { return [] }
        var result: [Range<Int>] = []
        var start = range.lowerBound
        for i in range where bytes[i] == UInt8(ascii: ",") {
            result.append(start..<i)
            start = i + 1
        }
        result.append(start..<range.upperBound)
        return result
    }

    /// Digits with an optional leading `+`, as the integer initialisers from text take them;
    /// nil when empty, not a digit of `radix`, or past UInt64.
    func unsigned(_ range: Range<Int>, radix: UInt64) -> UInt64? {
        var i = range.lowerBound
        if i < range.upperBound && bytes[i] == UInt8(ascii: "+") { i += 1 }
        guard i < range.upperBound else { return nil }
        var value: UInt64 = 0
        while i < range.upperBound {
            let b = bytes[i]
            let digit: UInt64
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt64(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt64(b - UInt8(ascii: "A") + 10)
            default: return nil
            }
            guard digit < radix else { return nil }
            let (scaled, o1) = value.multipliedReportingOverflow(by: radix)
            let (sum, o2) = scaled.addingReportingOverflow(digit)
            guard !o1, !o2 else { return nil }
            value = sum
            i += 1
        }
        return value
    }

    /// A decimal with an optional sign, within Int64.
    func signed(_ range: Range<Int>) -> Int64? {
        guard !range.isEmpty else { return nil }
        if bytes[range.lowerBound] == UInt8(ascii: "-") {
            let rest = (range.lowerBound + 1)..<range.upperBound
            guard !rest.isEmpty, bytes[rest.lowerBound] != UInt8(ascii: "+"),
                  let magnitude = unsigned(rest, radix: 10), magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard let magnitude = unsigned(range, radix: 10), magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }
}

/// Diagnostic lines a fixture replay prints that host-side tools read back from KTAP.
public enum ReplayDiagnostics {
    /// Prefix of the line naming a divergence's signature (step kind / fields that
    /// differed), which a fuzz campaign uses to collapse duplicates.
    public static let divergenceSignature = "divergence signature: "
}
