import Foundation

/// One mail of a patch series, as `git format-patch` writes it or a list archive serves it.
public struct MailPatch: Sendable, Hashable {
    /// The whole mail, from its `From ` separator line on.
    public var text: String
    /// The Subject header, unfolded and decoded, with `[PATCH …]`-style prefixes removed
    /// (what `git am` makes the commit's subject).
    public var subject: String
    /// Whether the mail carries a diff; a cover letter (`[PATCH 0/N]`) does not.
    public var hasDiff: Bool
    /// The Message-ID header without its angle brackets (`20260101.1234-1-a@example.org`),
    /// when the mail has one (`git format-patch` writes none; mails from a list do).
    public var messageID: String?
    /// The mail's first line in its mbox file (1 when not read from one).
    public var line = 1

    public init(text: String) {
        self.text = text
        subject = Mbox.subject(of: text) ?? "(no subject)"
        hasDiff = Mbox.containsDiff(text)
        messageID = Mbox.messageID(of: text)
    }
}

/// Splitting an mbox into mails and reading what `hmmkit series` needs from each.
public enum Mbox {
    /// The mails of an mbox, in order. A new mail starts at a `From ` line that looks like
    /// an mbox separator (`From <sender> <date with a time and a year>`, as git writes
    /// `From 588f26c… Mon Sep 17 00:00:00 2001`), so a commit message line that happens to
    /// start with "From " does not split a mail. Text before the first separator counts
    /// only when the file has no separator at all (a single patch without one).
    public static func split(_ text: String) -> [MailPatch] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var mails: [[Substring]] = []
        var current: [Substring] = []
        var seenSeparator = false
        for line in lines {
            if isSeparator(line) {
                if seenSeparator { mails.append(current) }
                current = [line]
                seenSeparator = true
            } else {
                current.append(line)
            }
        }
        if seenSeparator {
            mails.append(current)
        } else if current.contains(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            mails.append(current)
        }
        return mails.map { mail in
            var body = mail
            while let last = body.last, last.isEmpty { body.removeLast() }
            return MailPatch(text: body.joined(separator: "\n") + "\n")
        }
    }

    /// `From SENDER DATE…` where the rest has a time (`hh:mm`) and a four-digit year.
    static func isSeparator(_ line: Substring) -> Bool {
        guard line.hasPrefix("From ") else { return false }
        let words = line.dropFirst(5).split(separator: " ")
        guard words.count >= 3 else { return false }
        let rest = words.dropFirst()
        let hasTime = rest.contains { word in
            let parts = word.split(separator: ":")
            return parts.count >= 2 && parts.count <= 3 && parts.allSatisfy { $0.count == 2 && $0.allSatisfy(\.isNumber) }
        }
        let hasYear = rest.contains { $0.count == 4 && $0.allSatisfy(\.isNumber) }
        return hasTime && hasYear
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

    /// The subject as `git am` would commit it, or nil when the mail has no Subject header.
    public static func subject(of mail: String) -> String? {
        guard let raw = headers(of: mail).first(where: { $0.name.lowercased() == "subject" })?.value else { return nil }
        return cleanSubject(decodeEncodedWords(raw))
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

    /// Decodes RFC 2047 encoded words (`=?UTF-8?q?caf=C3=A9?=`, `=?utf-8?b?Y2Fmw6k=?=`), as git
    /// writes subjects that are not plain ASCII. White space between two encoded words is
    /// dropped, as the RFC says; a word that does not decode stays as it is.
    public static func decodeEncodedWords(_ text: String) -> String {
        var out = ""
        var rest = Substring(text)
        var pendingSpace = ""
        var lastWasEncoded = false
        while !rest.isEmpty {
            if rest.hasPrefix("=?"), let (decoded, after) = decodeWord(rest) {
                if !lastWasEncoded { out += pendingSpace }
                out += decoded
                pendingSpace = ""
                lastWasEncoded = true
                rest = after
                continue
            }
            let c = rest.removeFirst()
            if c == " " || c == "\t" {
                pendingSpace.append(c)
            } else {
                out += pendingSpace
                pendingSpace = ""
                out.append(c)
                lastWasEncoded = false
            }
        }
        return out + pendingSpace
    }

    /// One `=?charset?encoding?text?=` at the start of `s`: the decoded text and what follows.
    private static func decodeWord(_ s: Substring) -> (String, Substring)? {
        let parts = s.dropFirst(2).split(separator: "?", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4, parts[3].hasPrefix("=") else { return nil }
        let charset = parts[0].lowercased()
        let encoding = parts[1].lowercased()
        let payload = parts[2]
        guard charset == "utf-8" || charset == "us-ascii" || charset == "iso-8859-1" else { return nil }
        var bytes: [UInt8] = []
        switch encoding {
        case "q":
            var i = payload.startIndex
            while i < payload.endIndex {
                let c = payload[i]
                if c == "_" {
                    bytes.append(0x20)
                } else if c == "=", let end = payload.index(i, offsetBy: 3, limitedBy: payload.endIndex),
                          let byte = UInt8(payload[payload.index(after: i)..<end], radix: 16) {
                    bytes.append(byte)
                    i = end
                    continue
                } else {
                    bytes += Array(String(c).utf8)
                }
                i = payload.index(after: i)
            }
        case "b":
            guard let data = Data(base64Encoded: String(payload)) else { return nil }
            bytes = Array(data)
        default:
            return nil
        }
        let decoded = charset == "iso-8859-1" ? String(bytes.map { Character(Unicode.Scalar($0)) })
            : String(decoding: bytes, as: UTF8.self)
        return (decoded, parts[3].dropFirst())
    }
}
