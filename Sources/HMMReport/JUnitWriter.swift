/// JUnit XML as CI servers read it (Jenkins, GitLab, junitparser): one `<testsuite>` for the
/// run inside `<testsuites>`, one `<testcase>` per test.
///
/// - `classname` and `name` split the test's name at its last part
///   (`hmm.hmm_device_private` + `migrate`; see ``TestPath/junitNames(_:fallbackClass:)``).
/// - fail → `<failure>`, timeout and error → `<error>` (`type` says which), skip →
///   `<skipped>`; pass, xfail, xpass are passes. The reason is the `message`; the diagnostics
///   are the element's text (or `<system-out>` for a passing test).
/// - Text is escaped for XML 1.0, and characters XML 1.0 cannot hold at all (control
///   characters other than tab, newline and carriage return, U+FFFE, U+FFFF) are written as
///   a visible `\xNN`; kernel logs do contain them (colour escapes, stray bytes).
public struct JUnitWriter: Sendable {
    public init() {}

    public func text(for set: ResultSet) -> String {
        let counts = set.counts
        let failures = counts[.fail] ?? 0
        let errors = (counts[.timeout] ?? 0) + (counts[.error] ?? 0)
        let skipped = counts[.skip] ?? 0
        let time = set.totalDuration.map { Self.seconds($0) }

        func totals(_ name: String) -> String {
            var attributes = [("name", name), ("tests", String(set.tests.count)), ("failures", String(failures)),
                              ("errors", String(errors)), ("skipped", String(skipped))]
            if let time { attributes.append(("time", time)) }
            return Self.attributes(attributes)
        }

        var out = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?>"]
        out.append("<testsuites\(totals("hmmkit"))>")
        var suite = totals(set.label)
        if let started = set.startedAt { suite += Self.attributes([("timestamp", Timestamp.format(started))]) }
        out.append("  <testsuite\(suite)>")

        let properties: [(String, String?)] = [
            ("tool", set.tool.rawValue), ("hmmkit_version", set.hmmkitVersion), ("kernel_release", set.kernelRelease),
            ("profile", set.profile),
            ("skip_reason", set.skipReason),
        ] + set.warnings.map { ("warning", $0) }
        out.append("    <properties>")
        for case let (name, value?) in properties {
            out.append("      <property\(Self.attributes([("name", name), ("value", value)]))/>")
        }
        out.append("    </properties>")

        for test in set.tests {
            let names = TestPath.junitNames(test.name, fallbackClass: set.tool.rawValue)
            var attributes = [("classname", names.classname), ("name", names.name)]
            if let duration = test.duration { attributes.append(("time", Self.seconds(duration))) }
            let open = "    <testcase\(Self.attributes(attributes))"
            let diagnostics = test.diagnostics.joined(separator: "\n")
            let message = test.reason ?? test.diagnostics.last ?? test.status.rawValue

            func element(_ tag: String, type: String?) -> String {
                var attributes = [("message", message)]
                if let type { attributes.append(("type", type)) }
                let body = diagnostics.isEmpty ? "/>" : ">" + Self.escapeText(diagnostics) + "</\(tag)>"
                return "      <\(tag)\(Self.attributes(attributes))\(body)"
            }
            switch test.status {
            case .fail:
                out += [open + ">", element("failure", type: "fail"), "    </testcase>"]
            case .timeout, .error:
                out += [open + ">", element("error", type: test.status.rawValue), "    </testcase>"]
            case .skip:
                let reason = test.reason.map { [("message", $0)] } ?? []
                out += [open + ">", "      <skipped\(Self.attributes(reason))/>", "    </testcase>"]
            case .pass, .xfail, .xpass:
                var notes = test.status == .pass ? [] : [test.status.rawValue.uppercased() + (test.reason.map { ": " + $0 } ?? "")]
                notes += test.diagnostics
                if notes.isEmpty {
                    out.append(open + "/>")
                } else {
                    out += [open + ">", "      <system-out>" + Self.escapeText(notes.joined(separator: "\n")) + "</system-out>",
                            "    </testcase>"]
                }
            }
        }
        out.append("  </testsuite>")
        out.append("</testsuites>")
        return out.joined(separator: "\n") + "\n"
    }

    static func seconds(_ value: Double) -> String {
        let millis = Int64((value * 1000).rounded())
        let fraction = String(millis % 1000)
        return "\(millis / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }

    static func attributes(_ pairs: [(String, String)]) -> String {
        pairs.map { " \($0.0)=\"\(escapeAttribute($0.1))\"" }.joined()
    }

    /// Element text: `&`, `<`, `>` escaped, a carriage return kept as `&#13;` (a parser would
    /// turn it into a newline), forbidden characters made visible.
    public static func escapeText(_ s: String) -> String {
        escape(s) { scalar in
            switch scalar {
            case "&": "&amp;"
            case "<": "&lt;"
            case ">": "&gt;"
            case "\r": "&#13;"
            default: nil
            }
        }
    }

    /// Attribute values: also quotes, and tab/newline/carriage return as references (a parser
    /// would turn them into spaces).
    public static func escapeAttribute(_ s: String) -> String {
        escape(s) { scalar in
            switch scalar {
            case "&": "&amp;"
            case "<": "&lt;"
            case ">": "&gt;"
            case "\"": "&quot;"
            case "'": "&apos;"
            case "\t": "&#9;"
            case "\n": "&#10;"
            case "\r": "&#13;"
            default: nil
            }
        }
    }

    private static func escape(_ s: String, _ entity: (Unicode.Scalar) -> String?) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(s.unicodeScalars.count)
        for scalar in s.unicodeScalars {
            if let replacement = entity(scalar) {
                out += replacement
            } else if isForbidden(scalar) {
                let hex = String(scalar.value, radix: 16)
                out += scalar.value <= 0xFF ? "\\x" + (hex.count == 1 ? "0" : "") + hex : "\\u{\(hex)}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Not a `Char` of XML 1.0 (`#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]`).
    static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v < 0x20 { return v != 0x09 && v != 0x0A && v != 0x0D }
        return v == 0xFFFE || v == 0xFFFF
    }
}
