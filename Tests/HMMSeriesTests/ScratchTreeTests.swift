import Foundation
import HMMReport
import Testing
@testable import HMMSeries

/// A small git repository standing in for a kernel tree: a.txt "one" at tag base; branch
/// topic on top with "two" and "three"; branch side, not on base, with b.txt.
struct TestRepository {
    let root: URL
    var repo: String { root.appendingPathComponent("linux").path }
    var cache: String { root.appendingPathComponent("cache").path }
    var git: Git { Git(directory: repo) }

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("hmmseries-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: root.appendingPathComponent("linux").path, withIntermediateDirectories: true)
        try git.check(["init", "-q", "-b", "main"])
        try write("a.txt", "one\n")
        try git.check(["add", "a.txt"])
        try git.check(["commit", "-q", "-m", "base"])
        try git.check(["tag", "base"])
        try git.check(["checkout", "-q", "-b", "topic"])
        try write("a.txt", "two\n")
        try git.check(["commit", "-q", "-am", "mm: one to two"])
        try write("a.txt", "three\n")
        try git.check(["commit", "-q", "-am", "mm: two to three"])
        try git.check(["checkout", "-q", "-b", "side", "base"])
        try write("b.txt", "side\n")
        try git.check(["add", "b.txt"])
        try git.check(["commit", "-q", "-m", "side: add b"])
        try git.check(["checkout", "-q", "main"])
    }

    func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: repo + "/" + name))
    }

    func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    func remove() { try? FileManager.default.removeItem(at: root) }
}

@Suite struct ScratchTreeTests {
    @Test func mboxIsAppliedInAScratchWorktreeAndTheCheckoutIsUntouched() throws {
        let t = try TestRepository()
        defer { t.remove() }
        try t.write("a.txt", "uncommitted work\n")  // the user's own change stays
        let headBefore = try t.git.check(["rev-parse", "HEAD"])
        let scratch = try ScratchTree(directory: t.repo, cacheRoot: t.cache)
        #expect(scratch.path.hasPrefix(t.cache + "/series/"))
        let base = try scratch.resolve("base", what: "--base")
        try scratch.prepare(base: base) { _ in }
        let mails = try checkedMails(formatPatch(subject: "[PATCH 1/2] first")
                               + formatPatch(subject: "[PATCH 2/2] second", old: "two", new: "three"))
        let steps = try scratch.apply(mails: mails) { _ in }
        #expect(steps.map(\.number) == [1, 2])
        #expect(steps.map(\.subject) == ["first", "second"])
        #expect(t.read(scratch.path + "/a.txt") == "three\n")
        #expect(t.read(scratch.layout.patchesDirectory + "/01.patch")?.contains("Subject: [PATCH 1/2] first") == true)
        // Same content as the topic branch: the same git trees, whatever the commit ids.
        #expect(steps[1].tree == (try t.git.check(["rev-parse", "topic^{tree}"])))
        #expect(try t.git.check(["rev-parse", "HEAD"]) == headBefore)
        #expect(t.read(t.repo + "/a.txt") == "uncommitted work\n")
        #expect(try t.git.check(["status", "--porcelain", "--untracked-files=no"]) == "M a.txt")

        // A second run reuses the worktree and reaches the same trees.
        try scratch.prepare(base: base) { _ in }
        #expect(t.read(scratch.path + "/a.txt") == "one\n")
        #expect(try scratch.baseStep().commit == base)
        let again = try scratch.apply(mails: mails) { _ in }
        #expect(again.map(\.tree) == steps.map(\.tree))
    }

    /// git mailinfo reads the subject as git am commits it: encoded words in any charset,
    /// folded lines, `[PATCH]` prefixes.
    @Test func subjectsAreGitsReading() throws {
        let t = try TestRepository()
        defer { t.remove() }
        let scratch = try ScratchTree(directory: t.repo, cacheRoot: t.cache)
        try scratch.prepare(base: try scratch.resolve("base", what: "--base")) { _ in }
        let encoded = "[PATCH v2 1/2] =?UTF-8?q?mm:=20fix=20na=C3=AFve?=\n =?UTF-8?q?_check?="
        let latin1 = "[PATCH v2 2/2] =?ISO-8859-15?q?mm:_caf=E9_=A4?="
        let mails = try checkedMails(formatPatch(subject: encoded) + formatPatch(subject: latin1, old: "two", new: "three"))
        let steps = try scratch.apply(mails: mails) { _ in }
        #expect(steps.map(\.subject) == ["mm: fix naïve check", "mm: café €"])
    }

    /// Where git would read two mails in what hmmkit took for one, nothing is applied.
    @Test func gitReadingAnotherSplitIsRefused() throws {
        let t = try TestRepository()
        defer { t.remove() }
        let scratch = try ScratchTree(directory: t.repo, cacheRoot: t.cache)
        try scratch.prepare(base: try scratch.resolve("base", what: "--base")) { _ in }
        let text = formatPatch(subject: "[PATCH] a") + formatPatch(subject: "[PATCH] b", old: "two", new: "three")
        var twoInOne = MailPatch(text: text)
        twoInOne.line = 7
        do {
            _ = try scratch.apply(mails: [twoInOne]) { _ in }
            Issue.record("a mail git reads as two was applied")
        } catch {
            #expect(error.kind == .badInput)
            #expect(error.message == "line 7 of the mbox: git mailsplit reads 2 mails where hmmkit read one")
        }
        #expect(try scratch.baseStep().commit == (try scratch.resolve("base", what: "--base")))
    }

    @Test func aPatchThatDoesNotApplyIsNamedWithGitsOutput() throws {
        let t = try TestRepository()
        defer { t.remove() }
        let scratch = try ScratchTree(directory: t.repo, cacheRoot: t.cache)
        try scratch.prepare(base: try scratch.resolve("base", what: "--base")) { _ in }
        let mails = try checkedMails(formatPatch(subject: "[PATCH 1/2] fine")
                                     + formatPatch(subject: "[PATCH 2/2] stale", old: "zzz", new: "x"))
        do {
            _ = try scratch.apply(mails: mails) { _ in }
            Issue.record("a patch that does not apply was applied")
        } catch {
            #expect(error.kind == .doesNotApply)
            #expect(error.exitStatus == 2)
            #expect(error.message.hasPrefix("patch 2/2 \"stale\" does not apply (after patch 1)"))
            #expect(error.details.contains { $0.contains("patch does not apply") || $0.contains("patch failed") })
        }
        // The failed am was abandoned: the next run starts clean.
        try scratch.prepare(base: try scratch.resolve("base", what: "--base")) { _ in }
        let steps = try scratch.apply(mails: Array(mails.prefix(1))) { _ in }
        #expect(steps.count == 1)
    }

    @Test func rangeOnTheBaseIsCheckedOutAndElsewhereCherryPicked() throws {
        let t = try TestRepository()
        defer { t.remove() }
        let scratch = try ScratchTree(directory: t.repo, cacheRoot: t.cache)
        let base = try scratch.resolve("base", what: "--base")
        try scratch.prepare(base: base) { _ in }
        let steps = try scratch.apply(range: CommitRange("base..topic")!) { _ in }
        #expect(steps.map(\.subject) == ["mm: one to two", "mm: two to three"])
        #expect(steps.map(\.commit) == [try t.git.check(["rev-parse", "topic~1"]), try t.git.check(["rev-parse", "topic"])])

        // side's commit is not on top of topic~0: it is cherry-picked onto the base.
        try scratch.prepare(base: try scratch.resolve("topic", what: "--base")) { _ in }
        let picked = try scratch.apply(range: CommitRange("base..side")!) { _ in }
        #expect(picked.count == 1)
        #expect(picked[0].commit != (try t.git.check(["rev-parse", "side"])))
        #expect(t.read(scratch.path + "/a.txt") == "three\n" && t.read(scratch.path + "/b.txt") == "side\n")
    }

    @Test func badInputIsRefused() throws {
        let t = try TestRepository()
        defer { t.remove() }
        let scratch = try ScratchTree(directory: t.repo, cacheRoot: t.cache)
        #expect(throws: SeriesError.self) { try scratch.resolve("no-such-rev", what: "--base") }
        try scratch.prepare(base: try scratch.resolve("base", what: "--base")) { _ in }
        do {
            _ = try scratch.apply(range: CommitRange("topic..topic")!) { _ in }
            Issue.record("an empty range was accepted")
        } catch {
            #expect(error.kind == .badInput && error.message.contains("has no commits"))
        }
        let notGit = t.root.appendingPathComponent("cache").path
        try FileManager.default.createDirectory(atPath: notGit + "/plain", withIntermediateDirectories: true)
        do {
            _ = try ScratchTree(directory: notGit + "/plain", cacheRoot: t.cache)
            Issue.record("a directory outside git was accepted")
        } catch {
            #expect(error.kind == .badInput && error.message.contains("not a git work tree"))
        }
    }
}

@Suite struct SeriesCheckoutTests {
    @Test func eachStepSaysWhatKCIDBKeysItsCheckoutOn() throws {
        let t = try TestRepository()
        defer { t.remove() }
        let scratch = try ScratchTree(directory: t.repo, cacheRoot: t.cache)
        #expect(scratch.repositoryURL() == nil)  // no origin remote
        let url = "https://git.example.org/linux.git"
        try t.git.check(["remote", "add", "origin", url])
        #expect(scratch.repositoryURL() == url)

        let baseCommit = try scratch.resolve("base", what: "--base")
        try scratch.prepare(base: baseCommit) { _ in }
        let base = try scratch.baseStep()
        let mails = try checkedMails(formatPatch(subject: "[PATCH 1/2] first", messageID: "<p1@example.org>")
                               + formatPatch(subject: "[PATCH 2/2] second", old: "two", new: "three", messageID: "<p2@example.org>"))
        let steps = try scratch.apply(mails: mails) { _ in }

        let baseCheckout = base.checkout(base: base, mails: mails, repositoryURL: url)
        #expect(baseCheckout == KCIDBWriter.Checkout(repositoryURL: url, commitHash: baseCommit, patchsetHash: ""))
        // A patch of an mbox is the base commit plus the mails so far.
        for (i, step) in steps.enumerated() {
            let checkout = step.checkout(base: base, mails: mails, repositoryURL: url)
            #expect(checkout.commitHash == baseCommit)
            #expect(checkout.patchsetHash == KCIDBWriter.patchsetHash(mails.prefix(i + 1).map(\.text)))
            #expect(checkout.messageID == mails[i].messageID)
        }
        #expect(Set(steps.map { $0.checkout(base: base, mails: mails, repositoryURL: url).patchsetHash }).count == steps.count)

        // A commit of a range is the commit itself.
        try scratch.prepare(base: baseCommit) { _ in }
        let picked = try scratch.apply(range: try #require(CommitRange("base..topic"))) { _ in }
        for step in picked {
            #expect(step.checkout(base: base, mails: [], repositoryURL: nil)
                    == KCIDBWriter.Checkout(commitHash: step.commit, patchsetHash: ""))
        }
    }
}
