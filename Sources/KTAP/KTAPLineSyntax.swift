/// The spelling of individual lines, shared by the writer and the parser so they cannot drift.
///
/// Spacing follows `kselftest_harness.h` (6.12): `ksft_print_msg(" RUN           %s ...")`,
/// `ksft_print_msg("         %4s  %s", "OK"|"FAIL", name)` and `"#      SKIP      %s"`.
public enum KTAPLineSyntax {
    static func runLine(_ name: String) -> String { "#  RUN           \(name) ..." }

    static func verdictLine(passed: Bool, _ name: String) -> String {
        "#          " + (passed ? "  OK" : "FAIL") + "  " + name
    }

    static func skipNoticeLine(_ reason: String) -> String { "#      SKIP      " + reason }

    static func durationText(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let millis = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        let fraction = String(millis % 1000)
        return "duration: \(millis / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)s"
    }

    // MARK: Recognising lines (input has trailing whitespace removed)

    /// `KTAP version N` or `TAP version N`.
    static func version(_ line: Substring) -> (KTAPDocument.Version, supported: Bool)? {
        for (keyword, make) in [("KTAP version ", KTAPDocument.Version.ktap), ("TAP version ", KTAPDocument.Version.tap)] {
            guard line.hasPrefix(keyword), let n = Int(line.dropFirst(keyword.count)) else { continue }
            let version = make(n)
            return (version, version == .ktap(1) || version == .tap(13) || version == .tap(14))
        }
        return nil
    }

    /// `1..N`, optionally followed by ` # SKIP <reason>` (`ksft_exit_skip` prints `1..0 # SKIP …`).
    static func plan(_ line: Substring) -> (count: Int, skipReason: String?)? {
        guard line.hasPrefix("1..") else { return nil }
        let rest = line.dropFirst(3)
        let digits = rest.prefix(while: \.isASCIIDigit)
        guard let count = Int(digits) else { return nil }
        let tail = rest.dropFirst(digits.count).trimmed
        if tail.isEmpty { return (count, nil) }
        guard tail.hasPrefix("#") else { return nil }
        let directive = tail.dropFirst().trimmed
        guard directive.uppercased().hasPrefix("SKIP") else { return (count, nil) }
        let reason = directive.drop { !$0.isWhitespace }.trimmed
        return (count, reason.isEmpty ? nil : String(reason))
    }

    /// `ok|not ok [N] [- ][description][ # [directive] [reason]]`.
    static func result(_ line: Substring) -> (number: Int?, test: KTAPTestCase)? {
        let ok: Bool
        var rest: Substring
        if line.hasPrefix("not ok") {
            ok = false
            rest = line.dropFirst(6)
        } else if line.hasPrefix("ok") {
            ok = true
            rest = line.dropFirst(2)
        } else {
            return nil
        }
        guard rest.isEmpty || rest.first == " " else { return nil }
        rest = rest.drop { $0 == " " }
        let digits = rest.prefix(while: \.isASCIIDigit)
        let number = Int(digits)
        rest = rest.dropFirst(digits.count)

        let hash = rest.firstIndex(of: "#")
        var description = (hash.map { rest[..<$0] } ?? rest).trimmed
        if description == "-" { description = "" }
        if description.hasPrefix("- ") { description = description.dropFirst(2).trimmed }
        var test = KTAPTestCase(name: String(description), status: ok ? .pass : .fail)
        guard let hash else { return (number, test) }

        let data = rest[rest.index(after: hash)...]
        let text = data.trimmed
        // kselftest writes ` #  reason` (two spaces) when there is no directive.
        let rawWord = data.hasPrefix("  ") ? "" : text.prefix { !$0.isWhitespace }
        let word = rawWord.uppercased()
        let afterWord = text.dropFirst(rawWord.count).trimmed
        switch word {
        case _ where word.hasPrefix("SKIP"): test.status = .skip
        case "TODO": test.status = ok ? .xpass : .xfail
        case "XFAIL": test.status = .xfail
        case "XPASS": test.status = .xpass
        case "TIMEOUT" where !ok: test.status = .timeout
        case "ERROR" where !ok: test.status = .error
        default:  // no or unknown directive: the plain ok/not ok stands, keep all text
            test.reason = text.isEmpty ? nil : String(text)
            return (number, test)
        }
        test.reason = afterWord.isEmpty ? nil : String(afterWord)
        return (number, test)
    }

    static func bailOut(_ line: Substring) -> String? {
        line.hasPrefix("Bail out!") ? String(line.dropFirst(9).trimmed) : nil
    }

    /// The text of a `# ` diagnostic, without `#` and one following space.
    static func diagnostic(_ line: Substring) -> Substring? {
        guard line.first == "#" else { return nil }
        let text = line.dropFirst()
        return text.first == " " ? text.dropFirst() : text
    }

    // MARK: Recognising diagnostic text

    /// Name from the harness's ` RUN           <name> ...`.
    static func runMarker(_ text: Substring) -> String? {
        guard text.hasPrefix(" RUN "), text.hasSuffix(" ...") else { return nil }
        return String(text.dropFirst(5).dropLast(4).trimmed)
    }

    /// The harness's `OK`/`FAIL` decoration, redundant with the result line that follows.
    static func isVerdictMarker(_ text: Substring) -> Bool {
        let body = text.drop { $0 == " " }
        return text.count - body.count >= 4 && (body.hasPrefix("OK  ") || body.hasPrefix("FAIL  "))
    }

    /// Reason from the harness's `     SKIP      <reason>` notice.
    static func skipNotice(_ text: some StringProtocol) -> String? {
        let body = text.drop { $0 == " " }
        guard text.count - body.count >= 4, body.hasPrefix("SKIP") else { return nil }
        let rest = body.dropFirst(4)
        guard rest.isEmpty || rest.hasPrefix("  ") else { return nil }
        return String(rest.trimmed)
    }

    static func subtestHeader(_ text: Substring) -> String? {
        text.hasPrefix("Subtest: ") ? String(text.dropFirst(9).trimmed) : nil
    }

    /// `Totals: pass:P fail:F xfail:X xpass:Y skip:S error:E` (all six required).
    static func totals(_ text: Substring) -> KTAPTotals? {
        guard text.hasPrefix("Totals:") else { return nil }
        var values: [Substring: Int] = [:]
        for field in text.dropFirst(7).split(separator: " ") {
            let pair = field.split(separator: ":", maxSplits: 1)
            guard pair.count == 2, let value = Int(pair[1]) else { return nil }
            values[pair[0]] = value
        }
        guard let pass = values["pass"], let fail = values["fail"], let xfail = values["xfail"],
              let xpass = values["xpass"], let skip = values["skip"], let error = values["error"]
        else { return nil }
        return KTAPTotals(pass: pass, fail: fail, xfail: xfail, xpass: xpass, skip: skip, error: error)
    }

    /// The longest duration read as one (a year); longer ones, which would overflow the
    /// milliseconds, are not durations but plain diagnostics.
    public static let longestDurationSeconds: Double = 366 * 86_400

    /// hmmkit's optional `duration: 1.234s` diagnostic.
    static func duration(_ text: Substring) -> Duration? {
        guard text.hasPrefix("duration: "), text.hasSuffix("s"),
              let seconds = Double(text.dropFirst(10).dropLast()), seconds.isFinite, seconds >= 0,
              seconds <= longestDurationSeconds
        else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension StringProtocol {
    /// Without leading and trailing whitespace.
    var trimmed: SubSequence {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map { index(after: $0) } ?? start
        return self[start..<end]
    }
}
