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

/// The mails of an mbox that hmmkit's check accepts (cover letters and replies left out).
func checkedMails(_ text: String) throws -> [MailPatch] { try Mbox.read(text, file: "test.mbox") }

@Suite struct MboxTests {
    @Test func splitsConcatenatedFormatPatchOutput() throws {
        let text = formatPatch(subject: "[PATCH 1/2] first") + formatPatch(subject: "[PATCH 2/2] second", old: "two", new: "three")
        let mails = try checkedMails(text)
        #expect(mails.map(\.line) == [1, 20])
        #expect(mails.allSatisfy { $0.hasDiff })
        #expect(mails[0].text.hasPrefix("From 0123456789abcdef"))
        #expect(mails[0].text.hasSuffix("2.39.5\n"))
        #expect(mails[1].text.contains("+three"))
    }

    @Test func messageIDWithoutItsBrackets() throws {
        #expect(try checkedMails(formatPatch(subject: "x", messageID: "<20260101.1-1-a@example.org>")).first?.messageID
                == "20260101.1-1-a@example.org")
        #expect(try checkedMails(formatPatch(subject: "x")).first?.messageID == nil)  // git format-patch writes none
        #expect(Mbox.messageID(of: "Subject: x\nMessage-ID:\n <folded@host>\n\nbody") == "folded@host")
        #expect(Mbox.messageID(of: "Message-ID: <>\n\nbody") == nil)
        #expect(Mbox.messageID(of: "Subject: x\n\nMessage-ID: <in-body@host>") == nil)
    }

    @Test func aBodyLineStartingWithFromDoesNotSplit() throws {
        let body = "From the point of view of the driver\nFrom now on: nothing changes at 12:30 in 2026."
        let mails = try checkedMails(formatPatch(subject: "[PATCH] one", body: body))
        #expect(mails.count == 1)
        #expect(mails[0].text.contains("From now on"))
    }

    @Test func aPatchWithoutSeparatorIsOneMail() throws {
        let text = formatPatch(subject: "x").split(separator: "\n", omittingEmptySubsequences: false).dropFirst().joined(separator: "\n")
        #expect(try checkedMails(text).count == 1)
    }

    @Test func preambleBeforeTheFirstSeparatorIsDropped() throws {
        let mails = try checkedMails("This mbox was exported by hand.\n\n" + formatPatch(subject: "[PATCH] only"))
        #expect(mails.count == 1 && mails[0].line == 3)
    }

    /// git mailsplit's rule: the last colon sits in a time, and a year above 90 follows it.
    @Test func separatorNeedsAMboxDate() {
        #expect(Mbox.isSeparator("From 588f26c8881c60c8a3a8adf7c1f8a9e835aa9b49 Mon Sep 17 00:00:00 2001"))
        #expect(Mbox.isSeparator("From someone@example.org Thu Nov 20 18:07:01 2026"))
        #expect(Mbox.isSeparator("From a Thu Nov 20 18:07 1999"))
        #expect(!Mbox.isSeparator("From: A U Thor <a@example.org>"))
        #expect(!Mbox.isSeparator("From here on the entries are empty"))
        #expect(!Mbox.isSeparator("From 2001 on, see 12:30"))
        #expect(!Mbox.isSeparator("From a Thu Nov 20 18:07:01 0042"))  // year not above 90
        #expect(!Mbox.isSeparator("From x 1:00 2001"))  // shorter than 19 bytes
        #expect(!Mbox.isSeparator("From 12:30 of the clock, the year 2026 is ours"))  // no year right after the time
    }

    @Test func coverLetterHasNoDiff() throws {
        let cover = """
            From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
            From: A U Thor <author@example.org>
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
        #expect(!MailPatch(text: cover).hasDiff)
        let mails = try checkedMails(cover + formatPatch(subject: "[PATCH 1/2] first") + formatPatch(subject: "[PATCH 2/2] second"))
        #expect(mails.count == 2 && mails.allSatisfy(\.hasDiff))
    }

    @Test func subjectPrefixesAreStripped() {
        #expect(Mbox.cleanSubject("Re: [RFC] [PATCH 1/1]  two  spaces") == "two spaces")
    }

    /// The demonstration's two patches, as stored in scripts/demo-series.d.
    @Test func demoPatchesSplitIntoTwoPatches() throws {
        let dir = packageRoot.appendingPathComponent("scripts/demo-series.d")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".patch") }.sorted()
        #expect(names.count == 2)
        let mbox = try names.map { try String(contentsOf: dir.appendingPathComponent($0), encoding: .utf8) }.joined()
        let mails = try checkedMails(mbox)
        #expect(mails.count == 2)
        #expect(mails.allSatisfy { $0.hasDiff })
    }
}
