/// Why a series could not be tested, or which patch broke the build: said so a person can
/// act on it, with git's output or the end of the build log.
public struct SeriesError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// Not a git tree, an unknown revision, an empty or unreadable mbox or range.
        case badInput
        /// A patch does not apply to the base plus the patches before it.
        case doesNotApply
        /// The base kernel does not build: nothing to compare against.
        case baseDoesNotBuild
        /// A patch breaks the build (the base builds): a verdict on the series.
        case patchDoesNotBuild
        /// The machinery failed: git, the VM, a results file.
        case failed
    }

    public var kind: Kind
    public var message: String
    /// Lines that explain it: git's output, the tail of a build log.
    public var details: [String]

    public init(_ kind: Kind, _ message: String, details: [String] = []) {
        self.kind = kind
        self.message = message
        self.details = details
    }

    /// `hmmkit series`'s exit status: 1 when a patch breaks the build (like a regression),
    /// 2 when the series could not be tested.
    public var exitStatus: Int32 { kind == .patchDoesNotBuild ? 1 : 2 }

    public var description: String {
        ([message] + details.map { "    " + $0 }).joined(separator: "\n")
    }
}
