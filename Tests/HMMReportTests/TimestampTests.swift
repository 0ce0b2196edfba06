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
                      "2026-01-01", "2026-01-02 03:04:05Z", "2026-01-02T03:04:05", "now", "", "2026-01-02T03:04:0",
                      // Offsets RFC 3339 does not allow, and text after the time.
                      "2026-01-02T03:04:05+24:00", "2026-01-02T03:04:05+00:60", "2026-01-02T03:04:05+05:3",
                      "2026-01-02T03:04:05+0530", "2026-01-02T03:04:05Z x", "2026-01-02T03:04:05.Z",
                      // An offset that carries the time out of the four-digit years.
                      "9999-12-31T23:59:59-00:01", "0000-01-01T00:00:00+00:01"])
    func refusesWhatRFC3339DoesNotAllow(text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test func readsFractionsAndOffsets() {
        #expect(Timestamp.parse("2024-02-29T23:59:59Z") == Date(timeIntervalSince1970: 1_709_251_199))
        #expect(Timestamp.parse("2026-01-02T03:04:05.5Z") == Date(timeIntervalSince1970: 1_767_323_045.5))
        #expect(Timestamp.parse("2026-01-02T05:04:05+02:00") == Date(timeIntervalSince1970: 1_767_323_045))
        #expect(Timestamp.parse("2026-01-02T05:04:05.5+02:00") == Date(timeIntervalSince1970: 1_767_323_045.5))
        #expect(Timestamp.parse("2026-01-02T03:04:05-00:00") == Date(timeIntervalSince1970: 1_767_323_045))
    }

    /// RFC 3339's offsets go to ±23:59; FoundationEssentials' parser stops at ±18:00. hmmkit
    /// before issue 14 (ISO8601DateFormatter) read them all, and still does.
    @Test func readsOffsetsBeyondEighteenHours() {
        let t: Double = 1_767_323_045  // 2026-01-02T03:04:05Z
        #expect(Timestamp.parse("2026-01-02T03:04:05+18:00") == Date(timeIntervalSince1970: t - 18 * 3600))
        #expect(Timestamp.parse("2026-01-02T03:04:05+18:01") == Date(timeIntervalSince1970: t - 18 * 3600 - 60))
        #expect(Timestamp.parse("2026-01-02T03:04:05-19:00") == Date(timeIntervalSince1970: t + 19 * 3600))
        #expect(Timestamp.parse("2026-01-02T03:04:05+23:59").map(Timestamp.format) == "2026-01-01T03:05:05Z")
        #expect(Timestamp.parse("2026-01-02T03:04:05-23:59").map(Timestamp.format) == "2026-01-03T03:03:05Z")
    }

    /// Years before 1000 and the ends of the four-digit range read back as written. hmmkit
    /// before issue 14 wrote 0001-01-01T00:00:00Z read from a file as `0-12-30T00:00:00Z` (its
    /// reader, ISO8601DateFormatter, counted Julian years before October 1582, its writer
    /// Gregorian ones): a bug, so the files rendered from such a time differ on purpose.
    /// FoundationEssentials reads and writes the same calendar, so every time round-trips.
    @Test(arguments: ["0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "0999-12-31T23:59:59Z", "1582-10-04T12:00:00Z",
                      "1582-10-15T12:00:00Z", "9999-12-31T23:59:59Z"])
    func fourDigitYearsRoundTrip(text: String) {
        #expect(Timestamp.parse(text).map(Timestamp.format) == text)
    }

    @Test func theFourDigitRangeIsReadToItsEnds() {
        #expect(Timestamp.parse("9999-12-31T23:59:59.999Z") != nil)
        #expect(Timestamp.parse("0000-01-01T01:00:00+01:00").map(Timestamp.format) == "0000-01-01T00:00:00Z")
        #expect(Timestamp.parse("9999-12-31T22:59:59-01:00").map(Timestamp.format) == "9999-12-31T23:59:59Z")
    }
}
