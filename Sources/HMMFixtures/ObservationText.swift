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
    public static func decode(_ line: String) -> Observation? {
        var o = Observation()
        var sawErrno = false
        for part in line.split(separator: " ") {
            guard part.count >= 2, part.dropFirst().first == "=" else { return nil }
            let value = part.dropFirst(2)
            let items = value.isEmpty ? [] : value.split(separator: ",", omittingEmptySubsequences: false)
            switch part.first {
            case "e": guard let v = Int32(value) else { return nil }; o.errno = v; sawErrno = true
            case "c": guard let v = UInt64(value) else { return nil }; o.cpages = v
            case "f": guard let v = UInt64(value) else { return nil }; o.faults = v
            case "t":
                var tokens: [UInt64?] = []
                for item in items {
                    if item == "-" { tokens.append(nil); continue }
                    guard let v = UInt64(item, radix: 16) else { return nil }
                    tokens.append(v)
                }
                o.tokens = tokens
            case "s":
                var bytes: [UInt8] = []
                for item in items { guard let v = UInt8(item, radix: 16) else { return nil }; bytes.append(v) }
                o.snapshot = bytes
            case "n":
                var nodes: [Int32] = []
                for item in items { guard let v = Int32(item) else { return nil }; nodes.append(v) }
                o.nodes = nodes
            default: return nil
            }
        }
        return sawErrno ? o : nil
    }
}

/// Diagnostic lines a fixture replay prints that host-side tools read back from KTAP.
public enum ReplayDiagnostics {
    /// Prefix of the line naming a divergence's signature (step kind / fields that
    /// differed), which a fuzz campaign uses to collapse duplicates.
    public static let divergenceSignature = "divergence signature: "
}
