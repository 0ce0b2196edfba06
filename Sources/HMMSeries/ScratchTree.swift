import Foundation
import HMMSystem

/// A detached git worktree of the user's kernel tree in hmmkit's cache, where the series is
/// applied and built. The user's own checkout (its files, HEAD, index) is never touched;
/// git only records the extra worktree in the repository, and the applied commits stay
/// unreferenced objects there. The worktree is reused across runs, so git rewrites only
/// the files a patch changes and kernel builds stay incremental.
public struct ScratchTree {
    public let layout: SeriesLayout
    let repository: Git
    let tree: Git

    /// `directory` must be (inside) a git work tree.
    public init(directory: String, cacheRoot: String = SeriesLayout.defaultCacheRoot) throws(SeriesError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw SeriesError(.badInput, "--tree: '\(directory)' is not a directory")
        }
        let top = try runProgram(Git.program, ["-C", directory, "rev-parse", "--show-toplevel"])
        guard top.status == 0 else {
            throw SeriesError(.badInput, "--tree: '\(directory)' is not a git work tree (hmmkit series applies patches with git)",
                              details: top.lines)
        }
        let root = URL(fileURLWithPath: top.output.trimmingCharacters(in: .whitespacesAndNewlines)).resolvingSymlinksInPath().path
        layout = SeriesLayout(cacheRoot: cacheRoot, repository: root)
        repository = Git(directory: root)
        tree = Git(directory: layout.scratchTree)
    }

    public var path: String { layout.scratchTree }

    /// The user's tree's `origin` remote URL, when it has one (the checkout's repository in results).
    public func repositoryURL() -> String? {
        guard let result = try? repository.run(["remote", "get-url", "origin"]), result.status == 0 else { return nil }
        let url = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        return url.isEmpty ? nil : url
    }

    /// The full commit id `revision` names in the user's tree.
    public func resolve(_ revision: String, what: String) throws(SeriesError) -> String {
        guard let commit = try repository.commit(revision) else {
            throw SeriesError(.badInput, "\(what): '\(revision)' names no commit in \(layout.repository)")
        }
        return commit
    }

    /// Creates the worktree (the first time) or brings it back to a clean `base`: an
    /// interrupted `git am` or cherry-pick is abandoned, files git does not track are removed.
    public func prepare(base: String, progress: (String) -> Void) throws(SeriesError) {
        try? FileManager.default.createDirectory(atPath: layout.directory, withIntermediateDirectories: true)
        if FileManager.default.fileExists(atPath: path) {
            let ours = try belongsToRepository()
            if !ours {
                progress("\(path) is not a worktree of \(layout.repository); making it anew")
                do { try FileManager.default.removeItem(atPath: path) } catch {
                    throw SeriesError(.failed, "cannot remove the stale scratch tree \(path): \(error)")
                }
            }
        }
        if !FileManager.default.fileExists(atPath: path) {
            // --force: also when git still lists the path from a worktree whose directory is gone.
            progress("creating the scratch worktree \(path) (once per tree; later runs reuse it)")
            try repository.check(["worktree", "add", "--detach", "--force", path, base])
            return
        }
        for abandon in [["am", "--abort"], ["cherry-pick", "--abort"]] { _ = try tree.run(abandon) }
        try checkout(base)
        try tree.check(["clean", "-fdxq"])
    }

    /// Whether the scratch directory is a worktree of the user's repository.
    private func belongsToRepository() throws(SeriesError) -> Bool {
        let mine = try tree.run(["rev-parse", "--path-format=absolute", "--git-common-dir"])
        let theirs = try repository.run(["rev-parse", "--path-format=absolute", "--git-common-dir"])
        guard mine.status == 0, theirs.status == 0 else { return false }
        func canonical(_ s: String) -> String {
            URL(fileURLWithPath: s.trimmingCharacters(in: .whitespacesAndNewlines)).resolvingSymlinksInPath().path
        }
        return canonical(mine.output) == canonical(theirs.output)
    }

    /// Puts the worktree at `commit` (files git changes get a new time stamp; others keep theirs).
    public func checkout(_ commit: String) throws(SeriesError) {
        try tree.check(["checkout", "--detach", "--force", "--quiet", commit])
    }

    /// HEAD of the worktree as a step of the series.
    func currentStep(number: Int, subject: String?) throws(SeriesError) -> SeriesStep {
        SeriesStep(number: number, subject: subject,
                   commit: try tree.check(["rev-parse", "HEAD"]), tree: try tree.check(["rev-parse", "HEAD^{tree}"]))
    }

    /// The base as step 0; the worktree must be at it.
    public func baseStep() throws(SeriesError) -> SeriesStep {
        try currentStep(number: 0, subject: nil)
    }

    /// Applies mails with `git am`, one at a time, each saved as `patches/NN.patch` first.
    /// git reads each mail as `git am` does: `git mailsplit` must find exactly the one mail
    /// hmmkit's check found there, and the subject (any charset, folded, prefixes stripped)
    /// is `git mailinfo`'s. Returns a step per patch, named by its commit's subject. A patch
    /// that does not apply stops it with git's output.
    public func apply(mails: [MailPatch], progress: (String) -> Void) throws(SeriesError) -> [SeriesStep] {
        let dir = layout.patchesDirectory
        try? FileManager.default.removeItem(atPath: dir)
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw SeriesError(.failed, "cannot create \(dir): \(error)")
        }
        var steps: [SeriesStep] = []
        for (i, mail) in mails.enumerated() {
            let number = i + 1
            let file = dir + "/" + SeriesStep.label(number, of: mails.count).dropFirst(6) + ".patch"
            do { try Data(mail.text.utf8).write(to: URL(fileURLWithPath: file)) } catch {
                throw SeriesError(.failed, "cannot write \(file): \(error)")
            }
            try checkOneMail(file, mail: mail)
            let subject = try mailSubject(file)
            let title = "patch \(number)/\(mails.count) \"\(subject)\""
            let before = try tree.check(["rev-parse", "HEAD"])
            let result = try tree.run(["am", "--quiet", file])
            guard result.status == 0 else {
                _ = try tree.run(["am", "--abort"])
                let onto = number == 1 ? "to the base" : "after patch \(number - 1)"
                throw SeriesError(.doesNotApply, "\(title) does not apply (\(onto)); git am said:",
                                  details: Self.withoutResolutionAdvice(result.lines) + ["(the patch: \(file))"])
            }
            let parent = try tree.check(["rev-parse", "HEAD~1"])
            guard parent == before else {
                throw SeriesError(.badInput, "\(title): git am made more than one commit of it (line \(mail.line) of the mbox)")
            }
            steps.append(try currentStep(number: number, subject: try tree.check(["log", "-1", "--format=%s"])))
            progress("applied \(title)")
        }
        return steps
    }

    /// `git mailsplit` of one saved mail must find one mail: hmmkit's split (with its line
    /// numbers for errors) and git's agree.
    func checkOneMail(_ file: String, mail: MailPatch) throws(SeriesError) {
        let splitDirectory = file + ".split"
        try? FileManager.default.removeItem(atPath: splitDirectory)
        defer { try? FileManager.default.removeItem(atPath: splitDirectory) }
        do { try FileManager.default.createDirectory(atPath: splitDirectory, withIntermediateDirectories: true) } catch {
            throw SeriesError(.failed, "cannot create \(splitDirectory): \(error)")
        }
        let found = try tree.check(["mailsplit", "-o" + splitDirectory, file], .badInput,
                                   "line \(mail.line) of the mbox: git mailsplit cannot read the mail there")
        guard found == "1" else {
            throw SeriesError(.badInput, "line \(mail.line) of the mbox: git mailsplit reads \(found) mails where hmmkit read one")
        }
    }

    /// The subject `git am` commits the mail under, from `git mailinfo`.
    func mailSubject(_ file: String) throws(SeriesError) -> String {
        let result = try tree.run(["mailinfo", "/dev/null", "/dev/null"], input: .path(file))
        guard result.status == 0 else {
            throw SeriesError(.badInput, "git mailinfo cannot read \(file)", details: result.lines)
        }
        let subject = result.lines.first { $0.hasPrefix("Subject: ") }.map { String($0.dropFirst(9)) }
        return subject ?? ""
    }

    /// git's output less its advice on resolving by hand (`git am --continue` …): hmmkit has
    /// already abandoned the attempt.
    static func withoutResolutionAdvice(_ lines: [String]) -> [String] {
        let advice = ["hint:", "When you have resolved", "If you prefer to skip", "To restore the original branch",
                      "To abort and get back", "and commit the result with", "You can instead skip this commit",
                      "git cherry-pick --continue", "git cherry-pick --skip", "git cherry-pick --abort"]
        return lines.filter { line in !advice.contains { line.trimmingCharacters(in: .whitespaces).hasPrefix($0) } }
    }

    /// The commits of `range` in the user's tree, oldest first, put on top of the base in
    /// order: checked out as they are where the range starts at the worktree's HEAD,
    /// cherry-picked otherwise. Merges are refused.
    public func apply(range: CommitRange, progress: (String) -> Void) throws(SeriesError) -> [SeriesStep] {
        let text = range.text
        let commits = try repository.check(["rev-list", "--reverse", text], .badInput, "--range: git rev-list \(text) failed")
            .split(separator: "\n").map(String.init)
        guard !commits.isEmpty else { throw SeriesError(.badInput, "--range: \(text) has no commits") }
        let merges = try repository.check(["rev-list", "--merges", text], .badInput)
        if let merge = merges.split(separator: "\n").first {
            throw SeriesError(.badInput, "--range: \(text) contains a merge (\(merge.prefix(12))); name a linear range of patches")
        }
        var steps: [SeriesStep] = []
        for (i, commit) in commits.enumerated() {
            let number = i + 1
            let subject = try repository.check(["log", "-1", "--format=%s", commit])
            let title = "patch \(number)/\(commits.count) \"\(subject)\" (\(commit.prefix(12)))"
            let head = try tree.check(["rev-parse", "HEAD"])
            let parents = try repository.check(["rev-list", "--parents", "-n", "1", commit]).split(separator: " ").dropFirst()
            if parents.count == 1 && parents.first.map(String.init) == head {
                try checkout(commit)
            } else {
                let result = try tree.run(["cherry-pick", "--keep-redundant-commits", commit])
                guard result.status == 0 else {
                    _ = try tree.run(["cherry-pick", "--abort"])
                    let onto = number == 1 ? "to the base" : "after patch \(number - 1)"
                    throw SeriesError(.doesNotApply, "\(title) does not apply (\(onto)); git cherry-pick said:",
                                      details: Self.withoutResolutionAdvice(result.lines))
                }
            }
            steps.append(try currentStep(number: number, subject: subject))
            progress("applied \(title)")
        }
        return steps
    }
}

/// An exclusive lock on a file, held until `release` (or the process ends).
public final class FileLock {
    private var fd: Int32

    /// Takes the lock, waiting for another holder; `waiting` is told once when it must wait.
    public init(path: String, waiting: () -> Void) throws(SeriesError) {
        do { fd = try Sys.open(path, O_RDWR | O_CREAT, 0o644) } catch {
            throw SeriesError(.failed, "cannot open the lock file \(path): \(error.errno.message)")
        }
        if (try? Sys.flock(fd, LOCK_EX | LOCK_NB)) == nil {
            waiting()
            try? Sys.flock(fd, LOCK_EX)
        }
    }

    public func release() {
        guard fd >= 0 else { return }
        try? Sys.flock(fd, LOCK_UN)
        try? Sys.close(fd)
        fd = -1
    }

    deinit { release() }
}
