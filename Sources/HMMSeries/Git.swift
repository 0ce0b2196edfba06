import Foundation
import HMMSystem

/// A program's exit status and everything it printed (stdout and stderr interleaved).
struct CommandOutput {
    var status: Int32
    var output: String
    var lines: [String] { output.split(separator: "\n").map(String.init) }
}

/// Runs a program to its end and collects its output (HMMSystem's runProgram, stderr merged).
func runProgram(_ executable: String, _ arguments: [String], directory: String? = nil,
                input: ProgramInput = .null) throws(SeriesError) -> CommandOutput {
    do {
        let run = try runProgram([executable] + arguments, directory: directory, input: input, error: .mergedWithOutput)
        return CommandOutput(status: run.termination.status, output: run.output)
    } catch { throw SeriesError(.failed, "cannot run \(executable): \(error)") }
}

/// git in one directory, with settings that keep the scratch worktree's commits working on any
/// machine (an identity, no signing) and independent of the user's hooks and am/3-way settings.
struct Git {
    var directory: String

    static let program: String = {
        for dir in ["/usr/bin", "/usr/local/bin", "/bin"] where FileManager.default.isExecutableFile(atPath: dir + "/git") {
            return dir + "/git"
        }
        return "/usr/bin/git"
    }()

    static let settings = ["-c", "user.name=hmmkit", "-c", "user.email=hmmkit@localhost", "-c", "commit.gpgsign=false",
                           "-c", "core.hooksPath=/dev/null", "-c", "am.threeWay=false", "-c", "advice.detachedHead=false"]

    func run(_ arguments: [String], input: ProgramInput = .null) throws(SeriesError) -> CommandOutput {
        try runProgram(Self.program, ["-C", directory] + Self.settings + arguments, input: input)
    }

    /// Runs git and returns its output trimmed; a failure is a ``SeriesError`` of `kind`
    /// with git's output as the details.
    @discardableResult
    func check(_ arguments: [String], _ kind: SeriesError.Kind = .failed, _ what: String? = nil) throws(SeriesError) -> String {
        let result = try run(arguments)
        guard result.status == 0 else {
            throw SeriesError(kind, what ?? "git \(arguments.joined(separator: " ")) failed in \(directory) (exit \(result.status))",
                              details: result.lines)
        }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The full id of a commit, or nil when `revision` names none.
    func commit(_ revision: String) throws(SeriesError) -> String? {
        let result = try run(["rev-parse", "--verify", "--quiet", revision + "^{commit}"])
        return result.status == 0 ? result.output.trimmingCharacters(in: .whitespacesAndNewlines) : nil
    }
}

/// A `--range A..B`: its two ends.
public struct CommitRange: Sendable, Hashable {
    public var from: String
    public var to: String

    /// Parses `A..B`; nil for anything else (`A...B`, a missing end).
    public init?(_ text: String) {
        guard let dots = text.range(of: ".."), !text.contains("...") else { return nil }
        from = String(text[..<dots.lowerBound])
        to = String(text[dots.upperBound...])
        if from.isEmpty || to.isEmpty || to.contains("..") { return nil }
    }

    public var text: String { from + ".." + to }
}
