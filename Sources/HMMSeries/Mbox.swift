import Foundation

/// One mail of a patch series, as `git format-patch` writes it or a list archive serves it.
/// Its subject is not read here: `git mailinfo` gives it exactly as `git am` commits it
/// (``ScratchTree/apply(mails:progress:)``).
public struct MailPatch: Sendable, Hashable {
    /// The whole mail, from its `From ` separator line on.
    public var text: String
    /// Whether the mail carries a diff; a cover letter (`[PATCH 0/N]`) does not.
    public var hasDiff: Bool
    /// The Message-ID header without its angle brackets (`20260101.1234-1-a@example.org`),
    /// when the mail has one (`git format-patch` writes none; mails from a list do).
    public var messageID: String?
    /// The mail's first line in its mbox file (1 when not read from one).
    public var line = 1

    public init(text: String) {
        self.text = text
        hasDiff = Mbox.containsDiff(text)
        messageID = Mbox.messageID(of: text)
    }
}

/// Reading what `hmmkit series` needs from an mbox's mails. The split itself is checked
/// against `git mailsplit` when the mails are applied.
public enum Mbox {
    /// Whether `line` starts a new mail, by `git mailsplit`'s rule: `From `, at least 19
    /// bytes (20 with its newline), and the line's last colon sits in a `hh:mm` time (digits two and one before it,
    /// two after, and one four before, as in `00:00:00`) followed by a year above 90.
    /// git writes `From 588f26c… Mon Sep 17 00:00:00 2001`; a commit message line that starts
    /// with "From " does not split a mail.
    static func isSeparator(_ line: Substring) -> Bool {
        let bytes = Array(line.utf8)
        guard bytes.count >= 19, line.hasPrefix("From ") else { return false }
        guard let colon = bytes[5..<(bytes.count - 1)].lastIndex(of: UInt8(ascii: ":")) else { return false }
        func digit(_ i: Int) -> Bool { i >= 0 && i < bytes.count && bytes[i] >= 0x30 && bytes[i] <= 0x39 }
        guard digit(colon - 4), digit(colon - 2), digit(colon - 1), digit(colon + 1), digit(colon + 2) else { return false }
        // The year: strtol's reading of what follows the time (leading blanks, then digits).
        var i = colon + 3
        while i < bytes.count, [0x20, 0x09, 0x0B, 0x0C, 0x0D].contains(bytes[i]) { i += 1 }
        var year = 0
        while digit(i), year <= 90 { year = year * 10 + Int(bytes[i] - 0x30); i += 1 }
        return year > 90
    }

    /// The mail's headers: everything before the first empty line, continuation lines
    /// (starting with white space) joined to the header they continue.
    static func headers(of mail: String) -> [(name: String, value: String)] {
        var result: [(name: String, value: String)] = []
        for line in mail.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(mail.hasPrefix("From ") ? 1 : 0) {
            if line.trimmingCharacters(in: .whitespaces).isEmpty { break }
            if let first = line.first, first == " " || first == "\t", !result.isEmpty {
                result[result.count - 1].value += " " + line.trimmingCharacters(in: .whitespaces)
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            result.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        return result
    }

    /// The first Message-ID header's `<id>` without the brackets; nil when absent or empty.
    public static func messageID(of mail: String) -> String? {
        guard var value = headers(of: mail).first(where: { $0.name.lowercased() == "message-id" })?.value else { return nil }
        if let open = value.firstIndex(of: "<"), let close = value[open...].firstIndex(of: ">") {
            value = String(value[value.index(after: open)..<close])
        }
        value = value.trimmingCharacters(in: .whitespaces)
        return value.isEmpty ? nil : value
    }

    /// Drops leading `Re:` and bracketed prefixes (`[PATCH v2 3/7]`, `[RFC]`) and folds white space.
    public static func cleanSubject(_ subject: String) -> String {
        var s = Substring(subject)
        while true {
            s = s.drop { $0 == " " || $0 == "\t" }
            if s.lowercased().hasPrefix("re:") {
                s = s.dropFirst(3)
            } else if s.hasPrefix("["), let close = s.firstIndex(of: "]") {
                s = s[s.index(after: close)...]
            } else {
                break
            }
        }
        return s.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    /// Whether the mail holds a patch git can apply (a `diff --git` or a `---`/`+++` pair).
    static func containsDiff(_ mail: String) -> Bool {
        var previousWasMinus = false
        for line in mail.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("diff --git ") { return true }
            if previousWasMinus && line.hasPrefix("+++ ") { return true }
            previousWasMinus = line.hasPrefix("--- ")
        }
        return false
    }
}
