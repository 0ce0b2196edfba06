import Foundation
import HMMReport
import Testing

/// `Timestamp` uses FoundationEssentials' ISO 8601 style (no ICU at start-up); it must agree
/// with Foundation's RFC 3339 formatter, read back through `Timestamp.parse`, and refuse what
/// RFC 3339 does not allow even where that parser would roll a field over.
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

    @Test(arguments: ["2026-01-01T25:00:00Z", "2026-02-30T00:00:00Z", "2026-01-02T03:04:60Z", "2026-01-02T03:60:00Z",
                      "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-01-00T00:00:00Z", "2025-02-29T00:00:00Z",
                      "2026-01-01", "2026-01-02 03:04:05Z", "2026-01-02T03:04:05", "now", "", "2026-01-02T03:04:0"])
    func refusesWhatRFC3339DoesNotAllow(text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test func readsFractionsAndOffsets() {
        #expect(Timestamp.parse("2024-02-29T23:59:59Z") == Date(timeIntervalSince1970: 1_709_251_199))
        #expect(Timestamp.parse("2026-01-02T03:04:05.5Z") == Date(timeIntervalSince1970: 1_767_323_045.5))
        #expect(Timestamp.parse("2026-01-02T05:04:05+02:00") == Date(timeIntervalSince1970: 1_767_323_045))
    }
}
