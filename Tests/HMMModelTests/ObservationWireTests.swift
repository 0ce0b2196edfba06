import HMMFixtures
import HMMModel
import Testing

/// The byte-level wire decoder against the String-based one it replaced, kept here as the
/// oracle: same answer for canonical lines and for random near-misses.
@Suite struct ObservationWireTests {
    /// The decoder before it read bytes (Character splitting and the integer initialisers).
    static func reference(_ line: String) -> Observation? {
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

    @Test func canonicalLinesRoundTrip() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            var o = Observation(errno: Int32.random(in: -200...200, using: &rng))
            if Bool.random(using: &rng) { o.cpages = UInt64.random(in: 0...UInt64.max, using: &rng) }
            if Bool.random(using: &rng) { o.faults = UInt64.random(in: 0...3, using: &rng) }
            if Bool.random(using: &rng) {
                o.tokens = (0..<Int.random(in: 0...40, using: &rng)).map { _ in
                    Bool.random(using: &rng) ? nil : UInt64.random(in: 0...UInt64.max, using: &rng)
                }
            }
            if Bool.random(using: &rng) { o.snapshot = (0..<Int.random(in: 0...20, using: &rng)).map { _ in UInt8.random(in: 0...255) } }
            if Bool.random(using: &rng) { o.nodes = (0..<Int.random(in: 0...5, using: &rng)).map { _ in Int32.random(in: -40...3) } }
            let line = ObservationText.encode(o)
            #expect(ObservationText.decode(line) == o, "\(line)")
        }
    }

    @Test func edgeCasesAgreeWithTheReference() {
        let lines = [
            "", " ", "e=0", "e=-22", "e=+5", "e=2147483648", "e=-2147483648", "e=", "e=x", "x=1", "e", "e=0  c=1",
            "e=0 c=18446744073709551615", "e=0 c=18446744073709551616", "e=0 c=-1", "e=0 c=+1", "e=0 f=01",
            "e=0 t=", "e=0 t=-", "e=0 t=,", "e=0 t=a,", "e=0 t=FF,ff,-,0", "e=0 t=ffffffffffffffff", "e=0 t=10000000000000000",
            "e=0 s=ff,100", "e=0 s=0,1", "e=0 s=", "e=0 n=-14,0,+1", "e=0 n=--1", "e=0 n=-+1", "e=0 n=-", "c=1",
            "e=0 e=5", "e=0 t=g", "e=0 t=-1", "e=0\tc=1", "e=0 c=1 ", " e=0", "e=0 n=2147483647,-2147483648",
        ]
        for line in lines {
            #expect(ObservationText.decode(line) == Self.reference(line), "'\(line)'")
        }
    }

    @Test func randomNearMissesAgreeWithTheReference() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("ectsfn=,- +0129afAFgx")
        for _ in 0..<5000 {
            let line = String((0..<Int.random(in: 0...24, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            #expect(ObservationText.decode(line) == Self.reference(line), "'\(line)'")
        }
    }
}
