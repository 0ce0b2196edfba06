import FoundationEssentials

/// RFC 3339 timestamps: written in UTC with whole seconds (`2026-01-02T03:04:05Z`), read
/// with or without fractional seconds and at any offset RFC 3339 allows (`Z`, `±hh:mm` up
/// to `±23:59`).
///
/// FoundationEssentials' ISO 8601 style needs no ICU data (every `hmmkit run` prints a
/// timestamp, and loading ICU cost 0.1-0.4 s of a run under QEMU TCG). Its parser rolls
/// fields over (`25:00` becomes the next day, February 30 becomes March 2), which RFC 3339
/// does not allow, so ``parse(_:)`` also checks each field's range; and it refuses offsets
/// beyond ±18:00 (`TimeZone`'s range), which RFC 3339 allows (and ISO8601DateFormatter read),
/// so ``parse(_:)`` reads the local time as UTC and applies the offset itself.
public enum Timestamp {
    public static func format(_ date: Date) -> String {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)).formatted(.iso8601)
    }

    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard fieldsInRange(bytes), let zone = utcOffset(bytes) else { return nil }
        let local = String(decoding: bytes[..<zone.start], as: UTF8.self) + "Z"
        guard let date = (try? Date.ISO8601FormatStyle().parse(local))
            ?? (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(local))
        else { return nil }
        let utc = Date(timeIntervalSince1970: date.timeIntervalSince1970 - Double(zone.seconds))
        // An offset can carry the time out of the four-digit years (`9999-12-31T23:00:00-02:00`);
        // such a time could not be written back as RFC 3339.
        let written = Array(format(utc).utf8)
        guard written.count == 20, fieldsInRange(written) else { return nil }
        return utc
    }

    /// The offset from UTC the text ends with, in seconds, and the index where it starts:
    /// `Z`, or RFC 3339's `+hh:mm` / `-hh:mm` with hh 00-23 and mm 00-59.
    static func utcOffset(_ bytes: [UInt8]) -> (seconds: Int, start: Int)? {
        if bytes.last == UInt8(ascii: "Z") { return (0, bytes.count - 1) }
        let start = bytes.count - 6
        guard start >= 19 else { return nil }
        let zone = Array(bytes[start...])
        func digit(_ i: Int) -> Int? {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(zone[i]) ? Int(zone[i] - UInt8(ascii: "0")) : nil
        }
        let sign: Int
        switch zone[0] {
        case UInt8(ascii: "+"): sign = 1
        case UInt8(ascii: "-"): sign = -1
        default: return nil
        }
        guard let h1 = digit(1), let h2 = digit(2), zone[3] == UInt8(ascii: ":"), let m1 = digit(4), let m2 = digit(5),
              h1 * 10 + h2 <= 23, m1 * 10 + m2 <= 59
        else { return nil }
        return (sign * ((h1 * 10 + h2) * 3600 + (m1 * 10 + m2) * 60), start)
    }

    /// `YYYY-MM-DDThh:mm:ss` at the start of `bytes` names a real date and time. The shape
    /// itself (and what follows: fraction, `Z` or offset) is left to the parser.
    static func fieldsInRange(_ bytes: [UInt8]) -> Bool {
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), hour <= 23, minute <= 59, second <= 59
        else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return (1...days).contains(day)
    }
}
