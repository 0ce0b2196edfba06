import Foundation
import HMMVM
import KTAP

/// Where `hmmkit series` keeps its files for one kernel tree, under the hmmkit cache:
///
///     <cache>/series/<key>/            key: a hash of the tree's absolute path
///         tree/                        scratch git worktree of the tree (reused: builds stay incremental)
///         patches/NN.patch             the mails of the last --mbox, one a file, as git am takes them
///         builds/<tree id>-<config>/   one kernel's artifacts (bzImage, mods/, hmm-tests, config, release)
///         lock                         held while a series runs on this tree
///
/// A build is keyed by the git tree object id of what was built, not the commit: `git am`
/// makes a new commit each run (the committer date changes) but the same tree, so a patch
/// that was built once is never built again. `<config>` is scripts/kernel-build's config
/// hash, so a change of hmmkit's kernel config builds anew.
public struct SeriesLayout: Sendable, Hashable {
    /// hmmkit's cache (`$HMMKIT_CACHE`, else `~/.cache/hmmkit`).
    public var cacheRoot: String
    /// The user's kernel tree: the top of its git work tree, an absolute path.
    public var repository: String

    public init(cacheRoot: String, repository: String) {
        self.cacheRoot = cacheRoot
        self.repository = repository
    }

    public static var defaultCacheRoot: String { KernelCache.root }

    public var key: String { Self.pathKey(repository) }
    public var directory: String { cacheRoot + "/series/" + key }
    public var scratchTree: String { directory + "/tree" }
    public var patchesDirectory: String { directory + "/patches" }
    public var buildsDirectory: String { directory + "/builds" }
    public var lockFile: String { directory + "/lock" }

    /// The artifact directory of the kernel built from git tree `tree` with config hash `config`.
    public func buildDirectory(tree: String, config: String) -> String {
        buildsDirectory + "/\(tree)-\(config)"
    }

    /// 16 hex digits of FNV-1a over the path's bytes: stable across runs and machines.
    public static func pathKey(_ path: String) -> String { StableHash.hex(path) }

    /// The config part of a scripts/kernel-build key (`tree-1cf3a0cbabef-1ea9280eb75f` → `1ea9280eb75f`).
    public static func configKey(fromBuildKey key: String) -> String? {
        guard let dash = key.lastIndex(of: "-") else { return nil }
        let suffix = key[key.index(after: dash)...]
        return !suffix.isEmpty && suffix.allSatisfy(\.isHexDigit) ? String(suffix) : nil
    }
}

/// One kernel of a series: the base (number 0) or the tree after patch `number`.
public struct SeriesStep: Sendable, Hashable {
    public var number: Int
    /// The patch's subject; nil for the base.
    public var subject: String?
    /// The commit in the scratch worktree.
    public var commit: String
    /// The commit's git tree object id (the build cache key).
    public var tree: String

    public init(number: Int, subject: String?, commit: String, tree: String) {
        self.number = number
        self.subject = subject
        self.commit = commit
        self.tree = tree
    }

    /// `base`, `patch-01` … (two digits at least, more when the series is longer).
    public static func label(_ number: Int, of count: Int) -> String {
        guard number > 0 else { return "base" }
        let width = max(2, String(count).count)
        let digits = String(number)
        return "patch-" + String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// `patch 2/3 "subject"` / `base`, for messages.
    public func title(of count: Int) -> String {
        number > 0 ? "patch \(number)/\(count) \"\(subject ?? "?")\"" : "base"
    }
}
