#if canImport(Glibc)
import Glibc
#endif

/// hmmkit's version, as `hmmkit --version` prints it and every result it writes carries it:
/// the KTAP line `# hmmkit version: 0.2.0` after the plan, `hmmkit_version` in results JSON
/// and KCIDB `misc`, a JUnit property.
///
/// A build from a git checkout can say which commit it is: with `HMMKIT_GIT_COMMIT` set in
/// the environment when hmmkit runs, the version is `0.2.0+<commit>` (semver build metadata;
/// only letters, digits, `.` and `-` of the value are kept, at most 64 of them).
public enum HMMKitVersion {
    /// The release number.
    public static let release = "0.2.0"
    /// The environment variable that names the commit hmmkit was built from.
    public static let commitVariable = "HMMKIT_GIT_COMMIT"

    /// `release`, plus `+commit` when a commit is given (cleaned as described above).
    public static func string(commit: String?) -> String {
        let kept = (commit ?? "").unicodeScalars.filter {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "." || $0 == "-")
        }
        let suffix = String(String.UnicodeScalarView(kept.prefix(64)))
        return suffix.isEmpty ? release : release + "+" + suffix
    }

    /// The running hmmkit's version: `release`, with `HMMKIT_GIT_COMMIT` when it is set.
    public static var current: String {
        string(commit: getenv(commitVariable).map { String(cString: $0) })
    }
}
