import Foundation
import Testing
@testable import HMMSeries

/// This package's root, found from this file so `swift test` works from any directory.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A mail as `git format-patch` writes it, changing `file` from `old` to `new`.
func formatPatch(subject: String, file: String = "a.txt", old: String = "one", new: String = "two", body: String = "Why.",
                 messageID: String? = nil) -> String {
    """
    From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001
    From: A U Thor <author@example.org>
    Date: Sat, 21 Nov 2026 16:55:05 +0000
    Subject: \(subject)\(messageID.map { "\nMessage-Id: " + $0 } ?? "")

    \(body)
    ---
     \(file) | 2 +-
     1 file changed, 1 insertion(+), 1 deletion(-)

    diff --git a/\(file) b/\(file)
    index 0000001..0000002 100644
    --- a/\(file)
    +++ b/\(file)
    @@ -1 +1 @@
    -\(old)
    +\(new)
    -- 
    2.39.5

    """
}

@Suite struct MboxTests {
    @Test func splitsConcatenatedFormatPatchOutput() {
        let text = formatPatch(subject: "[PATCH 1/2] first") + formatPatch(subject: "[PATCH 2/2] second", old: "two", new: "three")
        let mails = Mbox.split(text)
        #expect(mails.map(\.subject) == ["first", "second"])
        #expect(mails.allSatisfy { $0.hasDiff })
        #expect(mails[0].text.hasPrefix("From 0123456789abcdef"))
        #expect(mails[0].text.hasSuffix("2.39.5\n"))
        #expect(mails[1].text.contains("+three"))
    }

    @Test func messageIDWithoutItsBrackets() {
        #expect(Mbox.split(formatPatch(subject: "x", messageID: "<20260101.1-1-a@example.org>")).first?.messageID
                == "20260101.1-1-a@example.org")
        #expect(Mbox.split(formatPatch(subject: "x")).first?.messageID == nil)  // git format-patch writes none
        #expect(Mbox.messageID(of: "Subject: x\nMessage-ID:\n <folded@host>\n\nbody") == "folded@host")
        #expect(Mbox.messageID(of: "Message-ID: <>\n\nbody") == nil)
        #expect(Mbox.messageID(of: "Subject: x\n\nMessage-ID: <in-body@host>") == nil)
    }

    @Test func aBodyLineStartingWithFromDoesNotSplit() {
        let body = "From the point of view of the driver\nFrom now on: nothing changes."
        let mails = Mbox.split(formatPatch(subject: "[PATCH] one", body: body))
        #expect(mails.count == 1)
        #expect(mails[0].text.contains("From now on"))
    }

    @Test func aPatchWithoutSeparatorIsOneMail() {
        let text = formatPatch(subject: "x").split(separator: "\n", omittingEmptySubsequences: false).dropFirst().joined(separator: "\n")
        let mails = Mbox.split(text)
        #expect(mails.count == 1)
        #expect(mails.first?.subject == "x")
        #expect(Mbox.split("\n\n  \n").isEmpty)
    }

    @Test func preambleBeforeTheFirstSeparatorIsDropped() {
        let mails = Mbox.split("This mbox was exported by hand.\n\n" + formatPatch(subject: "[PATCH] only"))
        #expect(mails.map(\.subject) == ["only"])
    }

    @Test func separatorNeedsAMboxDate() {
        #expect(Mbox.isSeparator("From 588f26c8881c60c8a3a8adf7c1f8a9e835aa9b49 Mon Sep 17 00:00:00 2001"))
        #expect(Mbox.isSeparator("From someone@example.org Thu Nov 20 18:07:01 2026"))
        #expect(!Mbox.isSeparator("From: A U Thor <a@example.org>"))
        #expect(!Mbox.isSeparator("From here on the entries are empty"))
        #expect(!Mbox.isSeparator("From 2001 on, see 12:30"))
    }

    @Test func coverLetterHasNoDiff() {
        let cover = """
            From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
            Subject: [PATCH 0/2] *** SUBJECT HERE ***

            *** BLURB HERE ***

            A U Thor (2):
              first
              second

             a.txt | 2 +-
             1 file changed, 1 insertion(+), 1 deletion(-)

            -- 
            2.39.5

            """
        let mails = Mbox.split(cover + formatPatch(subject: "[PATCH 1/2] first"))
        #expect(mails.map(\.hasDiff) == [false, true])
    }

    @Test func subjectIsUnfoldedAndStripped() {
        let mail = "From x Mon Sep 17 00:00:00 2001\nFrom: a\nSubject: [PATCH v2 2/7] mm/migrate_device: skip the shared zero page when\n"
            + " collecting\n\nbody\nSubject: not this\n"
        #expect(Mbox.subject(of: mail) == "mm/migrate_device: skip the shared zero page when collecting")
        #expect(Mbox.cleanSubject("Re: [RFC] [PATCH 1/1]  two  spaces") == "two spaces")
        #expect(Mbox.subject(of: "From x Mon Sep 17 00:00:00 2001\nFrom: a\n\nSubject: in the body\n") == nil)
    }

    @Test func encodedWordsAreDecoded() {
        #expect(Mbox.decodeEncodedWords("=?UTF-8?q?caf=C3=A9_au_lait?=") == "café au lait")
        #expect(Mbox.decodeEncodedWords("=?utf-8?b?Y2Fmw6k=?= ok") == "café ok")
        #expect(Mbox.decodeEncodedWords("=?UTF-8?q?a?= =?UTF-8?q?b?=") == "ab")
        #expect(Mbox.decodeEncodedWords("plain =?bogus text") == "plain =?bogus text")
        let mail = "From x Mon Sep 17 00:00:00 2001\nSubject: [PATCH] =?UTF-8?q?mm:=20fix=20na=C3=AFve?=\n =?UTF-8?q?_check?=\n\n"
        #expect(Mbox.subject(of: mail) == "mm: fix naïve check")
    }

    /// The demonstration's two patches, as stored in scripts/demo-series.d.
    @Test func demoPatchesSplitIntoTwoNamedPatches() throws {
        let dir = packageRoot.appendingPathComponent("scripts/demo-series.d")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".patch") }.sorted()
        #expect(names.count == 2)
        let mbox = try names.map { try String(contentsOf: dir.appendingPathComponent($0), encoding: .utf8) }.joined()
        let mails = Mbox.split(mbox)
        #expect(mails.map(\.subject) == ["mm/migrate_device: clarify the comment on empty entries",
                                         "mm/migrate_device: skip the shared zero page when collecting"])
        #expect(mails.allSatisfy { $0.hasDiff })
    }
}
