/// The parts of a full test name, for formats that split names into a hierarchy (JUnit's
/// classname, KCIDB's dotted path).
///
/// A dot separates parts (`hmm.hmm_device_private.migrate`), except a dot between two
/// digits, which belongs to a version inside a part (`replay.gen-6.12-private-seed1` has the
/// parts `replay` and `gen-6.12-private-seed1`). Empty parts are dropped.
public enum TestPath {
    public static func components(_ name: String) -> [String] {
        let chars = Array(name)
        var parts: [String] = []
        var current = ""
        for (i, c) in chars.enumerated() {
            let inVersion = i > 0 && i + 1 < chars.count && chars[i - 1].isASCIIDigit && chars[i + 1].isASCIIDigit
            if c == "." && !inVersion {
                if !current.isEmpty { parts.append(current) }
                current = ""
            } else {
                current.append(c)
            }
        }
        if !current.isEmpty { parts.append(current) }
        return parts
    }

    /// A KCIDB v5 test path (`^([a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*)?$`): the parts, with every
    /// other character (a version's dot, a space, `:`) replaced by `_`.
    public static func kcidbPath(_ name: String) -> String {
        components(name).map { part in
            String(part.map { c in c.isASCII && (c.isLetter || c.isNumber || c == "_" || c == "-") ? c : "_" })
        }.joined(separator: ".")
    }

    /// JUnit's classname and name: everything before the last part, and the last part.
    /// A one-part name gets `fallbackClass` as its class.
    public static func junitNames(_ name: String, fallbackClass: String) -> (classname: String, name: String) {
        let parts = components(name)
        guard parts.count > 1, let last = parts.last else { return (fallbackClass, name) }
        return (parts.dropLast().joined(separator: "."), last)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
