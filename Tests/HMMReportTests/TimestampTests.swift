import Foundation
import HMMReport
import Testing

/// `Timestamp.format` computes the calendar itself (no ICU at start-up); it must agree
/// with Foundation's RFC 3339 formatter and read back through `Timestamp.parse`.
@Suite struct TimestampTests {
    @Test func agreesWithFoundationsFormatter() {
        let reference = ISO8601DateFormatter()
        reference.formatOptions = [.withInternetDateTime]
        reference.timeZone = TimeZone(identifier: "UTC")
        var rng = SystemRandomNumberGenerator()
        // 951_782_400 is 2000-02-29.
        let fixed: [Double] = [0, -1, 86_399, 86_400, 951_782_400, 4_107_542_399, 1_795_305_600, -2_208_988_800]
        for t in fixed + (0..<2000).map({ _ in Double(Int64.random(in: -3_000_000_000...6_000_000_000, using: &rng)) }) {
            let date = Date(timeIntervalSince1970: t)
            #expect(Timestamp.format(date) == reference.string(from: date), "t = \(t)")
            #expect(Timestamp.parse(Timestamp.format(date)) == date)
        }
    }
}
