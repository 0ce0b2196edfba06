/// Reading `/proc/version`, which the kernel writes as
///
///     Linux version <release> (<user>@<host>) (<compiler>, <linker>) #<n> <flags> <date>
///
/// (`(gcc (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40)`; before 5.8
/// the second group held the compiler alone, `(gcc version 9.3.0 (Ubuntu 9.3.0-17ubuntu1))`).
public enum ProcVersion {
    /// The compiler of the toolchain group: its text up to the first top-level `, `, or the
    /// whole group. Nil when the text has no second parenthesised group after the release.
    public static func compiler(in text: String) -> String? {
        let groups = topLevelGroups(text)
        guard groups.count >= 2 else { return nil }
        let toolchain = groups[1]
        var depth = 0
        var end = toolchain.endIndex
        scan: for index in toolchain.indices {
            switch toolchain[index] {
            case "(": depth += 1
            case ")": depth -= 1
            case "," where depth == 0:
                end = index
                break scan
            default: break
            }
        }
        let compiler = toolchain[..<end].trimmingSpaces
        return compiler.isEmpty ? nil : compiler
    }

    /// The contents of the parenthesised groups at the top level of the first line, in order;
    /// an unbalanced group ends the list.
    static func topLevelGroups(_ text: String) -> [Substring] {
        let line = text.prefix { $0 != "\n" }
        var groups: [Substring] = []
        var depth = 0
        var start = line.startIndex
        for index in line.indices {
            switch line[index] {
            case "(":
                if depth == 0 { start = line.index(after: index) }
                depth += 1
            case ")":
                guard depth > 0 else { return groups }
                depth -= 1
                if depth == 0 { groups.append(line[start..<index]) }
            default:
                break
            }
        }
        return groups
    }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
