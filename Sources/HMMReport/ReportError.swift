/// Why a results file cannot be used, said so a person can act on it: which file, which
/// line when there is one, and what is wrong.
public struct ReportError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The file could not be read or written.
        case io
        /// Neither KTAP nor JSON (no version line, no results).
        case notKTAP
        /// KTAP that stops early: fewer results than the plan, a test with no result line,
        /// no plan and no closing `# Totals:`.
        case truncated
        /// The producer gave up (`Bail out!`).
        case bailOut
        /// KTAP whose structure is wrong in another way (more results than planned,
        /// a number reported twice, an unsupported version).
        case malformedKTAP
        /// Two results with the same name, or a result without one.
        case badTestName
        /// Not valid JSON.
        case badJSON
        /// Valid JSON, but not hmmkit's results format (or not a field it needs).
        case wrongFormat
        /// hmmkit results written by a newer hmmkit.
        case unsupportedVersion
        /// Two result sets that cannot be compared (different tools, format versions, suites).
        case incompatible
        /// A writer's setting is not acceptable (a KCIDB origin with capitals).
        case badOption
        /// Results being merged disagree: the same test with different statuses.
        case conflict
        /// An mbox that is not a series git can apply (`hmmkit series --mbox`).
        case badMbox
    }

    public var kind: Kind
    /// The file (as the user named it), when the problem is about one.
    public var file: String?
    /// 1-based line in `file`.
    public var line: Int?
    public var message: String

    public init(_ kind: Kind, _ message: String, file: String? = nil, line: Int? = nil) {
        self.kind = kind
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String {
        var place = file ?? ""
        if let line { place += place.isEmpty ? "line \(line)" : ":\(line)" }
        return place.isEmpty ? message : "\(place): \(message)"
    }
}
