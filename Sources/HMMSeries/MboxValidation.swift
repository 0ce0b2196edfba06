import Foundation
import HMMReport

/// A problem in an mbox file: `file:line: problem` (a ``ReportError`` of kind `.badMbox`).
public typealias MboxError = ReportError

/// The limits an mbox must stay within; beyond them it is refused with `file:line: problem`.
public enum MboxLimits {
    /// Bytes in one mbox file.
    public static let fileBytes = 64 << 20
    /// Bytes on one line.
    public static let lineBytes = 1 << 20
    /// Patches in one series.
    public static let patches = 10_000

    public static var summary: String {
        "\(fileBytes) bytes per file, \(lineBytes) bytes per line, \(patches) patches"
    }
}

extension Mbox {
    /// Reads an mbox file of at most ``MboxLimits/fileBytes`` and checks it (``read(_:file:)``).
    public static func load(path: String) throws(MboxError) -> [MailPatch] {
        let text = try BoundedFile.read(path, limit: MboxLimits.fileBytes, expected: "expected an mbox of patches", kind: .badMbox)
        return try read(text, file: path)
    }

    /// The patches of an mbox, in order, after checking that it is a series git can apply:
    ///
    /// - every mail has a header block with `From:` and `Subject:` headers;
    /// - numbered mails (`[PATCH v2 3/7]`) are numbered 1…N in order, each once, all of the same
    ///   N; `[PATCH 0/N]` is a cover letter and carries no diff; every other patch does;
    /// - every hunk (`@@ -a,b +c,d @@`) has the lines its header counts.
    ///
    /// Replies (`Re: …`) and cover letters are left out. CRLF line ends (a mail saved on
    /// Windows) are read as LF, as `git am` does by default. Errors name the line.
    public static func read(_ text: String, file: String) throws(MboxError) -> [MailPatch] {
        func fail(_ line: Int, _ message: String) -> MboxError { MboxError(.badMbox, message, file: file, line: line) }
        guard text.utf8.count <= MboxLimits.fileBytes else {
            throw fail(1, "file is \(text.utf8.count) bytes, over the limit of \(MboxLimits.fileBytes)")
        }
        // Split by scalars: "\r\n" is one Character, so a split on "\n" Characters would miss it.
        var lines: [Substring] = []
        for piece in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = piece
            while line.last == "\r" { line = line.dropLast() }
            let n = lines.count + 1
            let text = Substring(line)
            guard text.utf8.count <= MboxLimits.lineBytes else {
                throw fail(n, "line is \(text.utf8.count) bytes, over the limit of \(MboxLimits.lineBytes)")
            }
            if line.contains("\0") { throw fail(n, "binary data (a NUL byte): not an mbox of patches") }
            lines.append(text)
        }

        // Mails: (first line index, lines).
        var starts: [Int] = []
        for (i, line) in lines.enumerated() where isSeparator(line) { starts.append(i) }
        if starts.isEmpty {
            guard let first = lines.firstIndex(where: { !$0.allSatisfy(\.isWhitespace) }) else {
                throw fail(1, "empty file: expected an mbox of patches (git format-patch --stdout)")
            }
            starts = [first]
        }
        var patches: [MailPatch] = []
        var numbered: [(number: Int, total: Int, line: Int)] = []
        var unnumbered: Int?
        for (m, start) in starts.enumerated() {
            let end = m + 1 < starts.count ? starts[m + 1] : lines.count
            var body = Array(lines[start..<end])
            while let last = body.last, last.isEmpty { body.removeLast() }
            let mail = try checkMail(body, firstLine: start + 1, fail: fail)
            switch mail.kind {
            case .reply, .cover: continue
            case .numbered(let n, let total):
                numbered.append((n, total, start + 1))
            case .unnumbered:
                if unnumbered == nil { unnumbered = start + 1 }
            }
            guard patches.count < MboxLimits.patches else { throw fail(start + 1, "more than \(MboxLimits.patches) patches") }
            var patch = MailPatch(text: body.joined(separator: "\n") + "\n")
            patch.line = start + 1
            patches.append(patch)
        }
        if let first = numbered.first, let loose = unnumbered {
            throw fail(max(first.line, loose), "numbered ([PATCH n/N]) and unnumbered ([PATCH]) patches mixed in one series")
        }
        for (i, p) in numbered.enumerated() {
            guard p.total == numbered[0].total else {
                throw fail(p.line, "patch \(p.number)/\(p.total) in a series of \(numbered[0].total) (line \(numbered[0].line))")
            }
            guard p.number == i + 1 else {
                let what = numbered[..<i].contains(where: { $0.number == p.number }) ? "patch \(p.number)/\(p.total) appears twice"
                    : p.number > i + 1 ? "patch \(i + 1)/\(p.total) is missing (found \(p.number)/\(p.total) next)"
                    : "patch \(p.number)/\(p.total) is out of order (expected \(i + 1)/\(p.total))"
                throw fail(p.line, what)
            }
        }
        if let last = numbered.last, last.number != last.total {
            throw fail(lines.count, "truncated series: patches \(last.number + 1)...\(last.total) of \(last.total) are missing")
        }
        guard !patches.isEmpty else { throw fail(1, "holds no patch (no mail with a diff)") }
        return patches
    }

    enum MailKind: Equatable {
        case reply, cover, unnumbered
        case numbered(Int, of: Int)
    }

    /// Checks one mail's headers, numbering and diff; `firstLine` is its line in the file.
    static func checkMail(_ mail: [Substring], firstLine: Int,
                          fail: (Int, String) -> MboxError) throws(MboxError) -> (kind: MailKind, hasDiff: Bool) {
        var i = isSeparator(mail.first ?? "") ? 1 : 0
        var names: Set<String> = []
        var subject: String?
        var subjectLine = firstLine
        var encoded = false
        let headerStart = i
        var lastName = ""
        while i < mail.count, !mail[i].allSatisfy({ $0 == " " || $0 == "\t" }) {
            let line = mail[i]
            if line.first == " " || line.first == "\t" {
                guard i > headerStart else { throw fail(firstLine + i, "a continuation line before any mail header") }
                if lastName == "subject", let folded = subject { subject = folded + " " + line.trimmingCharacters(in: .whitespaces) }
                i += 1
                continue
            }
            guard let colon = line.firstIndex(of: ":"), colon > line.startIndex,
                  line[..<colon].allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != ":" }) else {
                throw fail(firstLine + i, "not a mail header (expected 'Name: value'): '\(line.prefix(60))'")
            }
            let name = line[..<colon].lowercased()
            lastName = name
            names.insert(name)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name == "subject" {
                guard subject == nil else { throw fail(firstLine + i, "a second Subject header") }
                subject = value
                subjectLine = firstLine + i
            }
            if name == "content-transfer-encoding", !["7bit", "8bit", "binary", ""].contains(value.lowercased()) { encoded = true }
            i += 1
        }
        guard i > headerStart else { throw fail(firstLine + headerStart, "a mail without headers (expected From: and Subject:)") }
        guard names.contains("from") else { throw fail(firstLine, "a mail without a From: header") }
        // Read undecoded: the `[PATCH n/N]` prefixes are ASCII, and git mailinfo decodes the
        // rest (any charset) when the mail is applied.
        guard let subject else { throw fail(firstLine, "a mail without a Subject: header") }
        let hasDiff = try checkDiff(mail, from: i, firstLine: firstLine, skipHunks: encoded, fail: fail)
        let kind = try classify(subject, line: subjectLine, fail: fail)
        switch kind {
        case .reply: break
        case .cover:
            if hasDiff { throw fail(subjectLine, "a cover letter ([PATCH 0/N]) that carries a diff") }
        case .numbered(let n, let total):
            if !hasDiff { throw fail(subjectLine, "patch \(n)/\(total) has no diff") }
        case .unnumbered:
            if !hasDiff { throw fail(subjectLine, "a patch mail without a diff: '\(cleanSubject(subject).prefix(60))'") }
        }
        if case .cover = kind {} else if case .reply = kind {} else if cleanSubject(subject).isEmpty {
            throw fail(subjectLine, "a patch with an empty subject (git am needs one for the commit)")
        }
        return (kind, hasDiff)
    }

    /// What the subject's `[…]` prefixes say: a reply, a cover letter (0/N), patch n of N.
    static func classify(_ subject: String, line: Int, fail: (Int, String) -> MboxError) throws(MboxError) -> MailKind {
        var s = Substring(subject).drop { $0 == " " || $0 == "\t" }
        if s.lowercased().hasPrefix("re:") { return .reply }
        var counter: (Int, Int)?
        while s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else { throw fail(line, "subject: '[' without ']'") }
            for word in s[s.index(after: s.startIndex)..<close].split(separator: " ") where word.contains("/") {
                let parts = word.split(separator: "/", omittingEmptySubsequences: false)
                guard parts.count == 2, let n = Int(parts[0]), let total = Int(parts[1]) else {
                    throw fail(line, "subject: '\(word)' is not a patch counter like 3/7")
                }
                guard total >= 1, total <= MboxLimits.patches, n >= 0, n <= total else {
                    throw fail(line, "subject: patch counter \(word) is impossible (n/N needs 0 ≤ n ≤ N, 1 ≤ N ≤ \(MboxLimits.patches))")
                }
                guard counter == nil else { throw fail(line, "subject: two patch counters") }
                counter = (n, total)
            }
            s = s[s.index(after: close)...].drop { $0 == " " || $0 == "\t" }
        }
        guard let (n, total) = counter else { return .unnumbered }
        return n == 0 ? .cover : .numbered(n, of: total)
    }

    /// Whether the body from `start` holds a diff; every hunk must have the lines its header
    /// counts (skipped for a body in quoted-printable or base64, which git am decodes first).
    static func checkDiff(_ mail: [Substring], from start: Int, firstLine: Int, skipHunks: Bool,
                          fail: (Int, String) -> MboxError) throws(MboxError) -> Bool {
        var hasDiff = false
        var inFileHeader = false
        var binary = false
        var previousWasMinus = false
        var i = start
        while i < mail.count {
            let line = mail[i]
            if line.hasPrefix("diff --git ") {
                hasDiff = true
                inFileHeader = true
                binary = false
                i += 1
                continue
            }
            if previousWasMinus && line.hasPrefix("+++ ") { hasDiff = true; inFileHeader = true }
            previousWasMinus = line.hasPrefix("--- ")
            if line.hasPrefix("GIT binary patch") || line.hasPrefix("Binary files ") { binary = true }
            if line.hasPrefix("@@ ") && (inFileHeader || hasDiff) && !binary && !skipHunks {
                let header = firstLine + i
                guard var (old, new) = hunkCounts(line) else {
                    throw fail(header, "not a hunk header (expected '@@ -a,b +c,d @@'): '\(line.prefix(60))'")
                }
                i += 1
                while old > 0 || new > 0 {
                    guard i < mail.count else {
                        throw fail(header, "hunk cut off: the mail ends \(old) old and \(new) new lines short of what its header counts")
                    }
                    let body = mail[i]
                    switch body.first {
                    case " "?, nil: old -= 1; new -= 1
                    case "-"?: old -= 1
                    case "+"?: new -= 1
                    case "\\"?: break  // "\ No newline at end of file"
                    default:
                        throw fail(firstLine + i,
                                   "hunk at line \(header) has \(old) old and \(new) new lines to go, but this is not a diff line")
                    }
                    guard old >= 0, new >= 0 else {
                        throw fail(firstLine + i, "hunk at line \(header) has more lines than its header counts")
                    }
                    i += 1
                }
                inFileHeader = false
                continue
            }
            i += 1
        }
        return hasDiff
    }

    /// `@@ -a[,b] +c[,d] @@…`: the old and new line counts (1 when left out).
    static func hunkCounts(_ line: Substring) -> (Int, Int)? {
        let words = line.split(separator: " ", maxSplits: 3)
        guard words.count >= 3, words[0] == "@@", words[1].hasPrefix("-"), words[2].hasPrefix("+"),
              words.count == 3 ? false : words[3].hasPrefix("@@") else { return nil }
        func count(_ range: Substring) -> Int? {
            let parts = range.dropFirst().split(separator: ",", omittingEmptySubsequences: false)
            guard parts.count == 1 || parts.count == 2, let start = Int(parts[0]), start >= 0 else { return nil }
            guard parts.count == 2 else { return 1 }
            guard let n = Int(parts[1]), n >= 0, n <= 100_000_000 else { return nil }
            return n
        }
        guard let old = count(words[1]), let new = count(words[2]) else { return nil }
        return (old, new)
    }
}
