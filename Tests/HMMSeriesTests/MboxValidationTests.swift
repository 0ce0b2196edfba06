import Foundation
import Testing
@testable import HMMSeries

/// Mboxes hmmkit series must refuse before git sees them, each with file:line: problem.
@Suite struct MboxValidationTests {
    func error(_ text: String) -> MboxError? {
        do { _ = try Mbox.read(text, file: "s.mbox"); return nil } catch { return error }
    }

    let one = formatPatch(subject: "[PATCH 1/2] first")
    let two = formatPatch(subject: "[PATCH 2/2] second", old: "two", new: "three")

    @Test func acceptsASeriesWithCoverLetterAndCRLF() throws {
        let cover = "From x Mon Sep 17 00:00:00 2001\nFrom: a <a@b>\nSubject: [PATCH 0/2] cover\n\nwhy\n"
        let patches = try Mbox.read(cover + one + two, file: "s.mbox")
        #expect(patches.map(\.line) == [6, 25])
        let crlf = try Mbox.read((one + two).replacingOccurrences(of: "\n", with: "\r\n"), file: "s.mbox")
        #expect(crlf.map(\.line) == [1, 20])
        #expect(!crlf[0].text.contains("\r"))
    }

    @Test func refusesGapsAndDisorder() throws {
        #expect(error(two)?.description == "s.mbox:1: patch 1/2 is missing (found 2/2 next)")
        #expect(error(two + one)?.description == "s.mbox:1: patch 1/2 is missing (found 2/2 next)")
        #expect(error(one)?.description.hasPrefix("s.mbox:") == true)
        #expect(error(one)?.message == "truncated series: patches 2...2 of 2 are missing")
        #expect(error(one + one)?.description == "s.mbox:20: patch 1/2 appears twice")
        let three = formatPatch(subject: "[PATCH 2/3] other")
        #expect(error(one + three)?.description == "s.mbox:20: patch 2/3 in a series of 2 (line 1)")
    }

    @Test func refusesPatchMailsWithoutADiff() throws {
        let noDiff = "From x Mon Sep 17 00:00:00 2001\nFrom: a <a@b>\nSubject: [PATCH] words only\n\nno diff here\n"
        #expect(error(noDiff)?.description == "s.mbox:3: a patch mail without a diff: 'words only'")
        let cut = String(one.dropLast("+two\n-- \n2.39.5\n\n".count)) + "\n"
        #expect(error(cut + two)?.message.hasPrefix("hunk cut off") == true)
        #expect(error("")?.description == "s.mbox:1: empty file: expected an mbox of patches (git format-patch --stdout)")
        #expect(error(one.replacingOccurrences(of: "Subject: [PATCH 1/2] first\n", with: "") + two)?.description
                == "s.mbox:1: a mail without a Subject: header")
        #expect(error(one.replacingOccurrences(of: "@@ -1 +1 @@", with: "@@ -1,x +1 @@") + two)?.description
                == "s.mbox:15: not a hunk header (expected '@@ -a,b +c,d @@'): '@@ -1,x +1 @@'")
    }
}
