import FoundationEssentials

/// RFC 3339 timestamps: written in UTC with whole seconds (`2026-01-02T03:04:05Z`), read
/// with or without fractional seconds and at any offset.
///
/// FoundationEssentials' ISO 8601 style needs no ICU data (every `hmmkit run` prints a
/// timestamp, and loading ICU cost 0.1-0.4 s of a run under QEMU TCG). Its parser rolls
/// fields over (`25:00` becomes the next day, February 30 becomes March 2), which RFC 3339
/// does not allow, so ``parse(_:)`` also checks each field's range.
public enum Timestamp {
    public static func format(_ date: Date) -> String {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)).formatted(.iso8601)
    }

    public static func parse(_ text: String) -> Date? {
        guard fieldsInRange(Array(text.utf8)) else { return nil }
        if let date = try? Date.ISO8601FormatStyle().parse(text) { return date }
        return try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)
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
