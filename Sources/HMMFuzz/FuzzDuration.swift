/// A campaign length as people write it: `90s`, `10m`, `1h`, `1h30m`, or bare seconds.
public struct FuzzDuration: Sendable, Hashable, CustomStringConvertible {
    public var seconds: Double
    /// A week: longer is a typo, and larger numbers would overflow date arithmetic.
    public static let longest = 7 * 24 * 3600.0

    public init(seconds: Double) { self.seconds = seconds }

    public init?(parsing text: String) {
        if let plain = Double(text), plain.isFinite, plain > 0, plain <= Self.longest {
            seconds = plain
            return
        }
        var total = 0.0
        var number = ""
        for c in text {
            if c.isASCII && c.isNumber { number.append(c); continue }
            let unit: Double
            switch c {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d": unit = 86400
            default: return nil
            }
            guard !number.isEmpty, number.count <= 9, let n = Double(number) else { return nil }
            total += n * unit
            number = ""
        }
        guard number.isEmpty, total > 0, total <= Self.longest else { return nil }
        seconds = total
    }

    public var description: String { FuzzCampaign.clock(seconds) }
}
