import ArgumentParser
import HMMReport
import HMMSystem

/// `--json`, `--kcidb`, `--junit`, `--ktap` and the KCIDB settings, for `report convert`,
/// `report merge` and `run`.
public struct ResultFileOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Write hmmkit results JSON to this file.", valueName: "file"))
    public var json: String?
    @Option(help: ArgumentHelp("Write KCIDB v\(KCIDBWriter.schemaMajor).\(KCIDBWriter.schemaMinor) JSON to this file.", valueName: "file"))
    public var kcidb: String?
    @Option(help: ArgumentHelp("Write JUnit XML to this file.", valueName: "file"))
    public var junit: String?
    @Option(help: ArgumentHelp("Write KTAP (as hmmkit prints a run) to this file.", valueName: "file"))
    public var ktap: String?
    @Option(help: "KCIDB origin: the CI system's name (a-z, 0-9, _).")
    public var origin = "hmmkit"
    @Option(help: "KCIDB build the tests ran on ('origin:id'); without it a checkout and a build are written too.")
    public var kcidbBuildId: String?

    public var requested: Bool { json != nil || kcidb != nil || junit != nil || ktap != nil }

    public static let noOutputMessage = "name at least one output: --json, --kcidb, --junit or --ktap"

    public init() {}

    public func validate() throws {
        do {
            _ = try KCIDBWriter(origin: origin, buildID: kcidbBuildId)
        } catch {
            throw ValidationError(error.description)
        }
        // Fail before a long run rather than after it.
        for (flag, path) in [("--json", json), ("--kcidb", kcidb), ("--junit", junit), ("--ktap", ktap)] {
            guard let path else { continue }
            let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ""
            if !directory.isEmpty, !HMMSystem.isDirectory(directory) {
                throw ValidationError("\(flag): directory '\(directory)' does not exist")
            }
        }
    }

    /// The files these options ask for.
    public var files: ResultFiles {
        ResultFiles(json: json, kcidb: kcidb, junit: junit, ktap: ktap, origin: origin, kcidbBuildID: kcidbBuildId)
    }
}
