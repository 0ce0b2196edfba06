import ArgumentParser
import Foundation
import HMMCommands
import HMMReport
import HMMSuite
import HMMSystem
import KTAP

/// `hmmkit compare BASE PATCHED`: what changed between two runs, and whether it regressed.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare a base kernel's results with a patched kernel's.",
        discussion: """
        BASE and PATCHED are KTAP logs (hmmkit's or kselftest's) or hmmkit results JSON. Tests are matched \
        by name. Exit status: 0 no regression, 1 regression (a new failure, or a test that passed in BASE \
        is missing from PATCHED), 2 bad input or usage. A timing change is reported when a test's duration \
        changes by at least --timing-threshold seconds and by a factor of at least --timing-ratio.
        """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Argument(help: "The base run's results.")
    var base: String
    @Argument(help: "The patched run's results.")
    var patched: String
    @Option(help: "Output format: text or json.")
    var format: Format = .text
    @Option(help: "Seconds a test's duration must change by to be reported.")
    var timingThreshold: Double = TimingRule().minimumSeconds
    @Option(help: "Factor a test's duration must change by to be reported.")
    var timingRatio: Double = TimingRule().minimumRatio
    @Flag(help: "Compare results of different tools (hmmkit against kselftest).")
    var allowDifferentTools = false
    @Flag(help: "Load cut-off or bailed-out logs anyway; tests they never reached count as missing.")
    var allowIncomplete = false

    func validate() throws {
        guard timingThreshold >= 0, timingThreshold.isFinite else {
            throw ValidationError("--timing-threshold must be a number of seconds, 0 or more")
        }
        guard timingRatio >= 1, timingRatio.isFinite else { throw ValidationError("--timing-ratio must be 1 or more") }
    }

    func run() throws {
        let comparison: Comparison
        do {
            let options = LoadOptions(allowIncomplete: allowIncomplete)
            comparison = try Comparison(
                base: try ResultSet.load(path: base, options: options),
                patched: try ResultSet.load(path: patched, options: options),
                options: .init(timing: TimingRule(minimumSeconds: timingThreshold, minimumRatio: timingRatio),
                               allowDifferentTools: allowDifferentTools))
        } catch {
            log("hmmkit compare: \(error)")
            logIncompleteHint(error)
            throw ExitStatus.usage
        }
        let text = format == .json ? comparison.json.rendered() : String(comparison.text.dropLast())
        Stdout.line(text)
        if comparison.isRegression { throw ExitStatus.fail }
    }
}

/// `hmmkit report …`: results in other formats.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Write results in other formats (KCIDB, JUnit, hmmkit JSON, KTAP); merge results.",
        subcommands: [ReportConvertCommand.self, ReportMergeCommand.self])
}

struct ReportConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a KTAP log or hmmkit results JSON into any of hmmkit JSON, KCIDB JSON, JUnit XML and KTAP.",
        discussion: "Exit status: 0 written, 2 bad input or usage. Each file is written whole or not at all.")

    @Argument(help: "The results: a KTAP log (hmmkit's or kselftest's) or hmmkit results JSON.")
    var results: String
    @OptionGroup(title: "Outputs") var outputs: ResultFileOptions
    @Flag(help: "Load a cut-off or bailed-out log anyway (its problems are kept as warnings).")
    var allowIncomplete = false

    func validate() throws {
        if !outputs.requested { throw ValidationError(ResultFileOptions.noOutputMessage) }
    }

    func run() throws {
        do {
            let set = try ResultSet.load(path: results, options: LoadOptions(allowIncomplete: allowIncomplete))
            try outputs.files.write(set)
            log("hmmkit report: \(set.summary)")
        } catch {
            log("hmmkit report: \(error)")
            logIncompleteHint(error)
            throw ExitStatus.usage
        }
    }
}

/// `hmmkit report merge`: the results of shards or machines as one set.
struct ReportMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge results of shards or machines (KTAP logs or hmmkit results JSON) into one set, sorted by test name.",
        discussion: """
        A test in several files is kept once when its status is the same in all of them. Exit status: 0 written, \
        2 bad input or usage: a file that cannot be read, results of different tools or kernels, or a test whose status \
        differs between two files (both files are named). The outputs are written all together or not at all.
        """)

    @Argument(help: "The results: KTAP logs (hmmkit's or kselftest's) or hmmkit results JSON.")
    var results: [String] = []
    @OptionGroup(title: "Outputs") var outputs: ResultFileOptions
    @Flag(help: "Load cut-off or bailed-out logs anyway (their problems are kept as warnings).")
    var allowIncomplete = false

    func validate() throws {
        if results.isEmpty { throw ValidationError("name the results to merge") }
        if !outputs.requested { throw ValidationError(ResultFileOptions.noOutputMessage) }
    }

    func run() throws {
        do {
            let options = LoadOptions(allowIncomplete: allowIncomplete)
            var sets: [ResultSet] = []
            for path in results { sets.append(try ResultSet.load(path: path, options: options)) }
            let merged = try ResultSet.merging(sets)
            try outputs.files.write(merged)
            log("hmmkit report merge: \(results.count) file\(results.count == 1 ? "" : "s"), \(merged.summary)")
        } catch {
            log("hmmkit report merge: \(error)")
            logIncompleteHint(error)
            throw ExitStatus.usage
        }
    }
}

/// Says how to use a cut-off log anyway, when that is what was refused.
private func logIncompleteHint(_ error: any Error) {
    if let error = error as? ReportError, [.truncated, .bailOut, .malformedKTAP].contains(error.kind) {
        log("hmmkit: pass --allow-incomplete to use the results the log has")
    }
}

