import ArgumentParser
import HMMSuite
import HMMSystem
import KTAP

/// The exit codes of every command: kselftest's for a run (`KSFT_PASS` 0, `KSFT_FAIL` 1,
/// `KSFT_SKIP` 4), and 2 for a usage error or input that cannot be read. `compare` and
/// `series` use `fail` for a regression.
public enum ExitStatus {
    public static let pass = ExitCode(KSFTExitCode.pass.rawValue)
    public static let fail = ExitCode(KSFTExitCode.fail.rawValue)
    public static let usage = ExitCode(2)
    public static let skip = ExitCode(KSFTExitCode.skip.rawValue)

    /// Ends a command with a run's exit code: returns for a pass, throws 4 for a skipped
    /// run and 1 for anything else.
    public static func end(with code: KSFTExitCode) throws {
        switch code {
        case .pass: return
        case .skip: throw skip
        default: throw fail
        }
    }
}

/// Prints to standard error (progress and logs never go to stdout, which carries KTAP).
public func log(_ text: String) {
    var line = text
    if !line.hasSuffix("\n") { line += "\n" }
    StandardStream.error.write(line)
}
