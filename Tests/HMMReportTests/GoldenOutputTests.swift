import Foundation
import Testing
@testable import HMMReport

/// Saved runs and every file hmmkit renders from them, byte for byte (`Golden/README.md`
/// says where each came from). The expected files were written by hmmkit before issue 14's
/// refactor (commit 9122b82); a change to any of them is a change of output format that
/// must be deliberate: regenerate them and say why in the commit (docs/results.md).
@Suite("golden outputs")
struct GoldenOutputTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    /// Saved KTAP logs of real VM runs: `NAME.ktap`, rendered as `NAME.results.json`,
    /// `NAME.kcidb.json`, `NAME.junit.xml` and `NAME.out.ktap`.
    static let runs = ["run-6.1.192-suite", "replay-6.12.118-div17"]

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    /// Loads a saved file as `hmmkit report convert` does, named as the command line named it
    /// when the expected files were written (from inside `Golden/`).
    static func load(_ name: String) throws -> ResultSet {
        var set = try ResultSet.load(path: directory.appendingPathComponent(name).path)
        set.source = name
        return set
    }

    /// The first line where `actual` differs from `expected`, for a readable failure.
    static func firstDifference(_ actual: [UInt8], _ expected: [UInt8]) -> String {
        let a = String(decoding: actual, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let e = String(decoding: expected, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        for i in 0..<max(a.count, e.count) where i >= a.count || i >= e.count || a[i] != e[i] {
            return "line \(i + 1): expected \(i < e.count ? "'\(e[i])'" : "end of file"), got \(i < a.count ? "'\(a[i])'" : "end of file")"
        }
        return "same lines, \(actual.count) bytes against \(expected.count)"
    }

    static func expectSame(_ actual: [UInt8], golden name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = try bytes(name)
        let same = actual == expected  // not inside #expect, which would print every byte
        #expect(same, "\(name): \(same ? "" : firstDifference(actual, expected))", sourceLocation: sourceLocation)
    }

    /// Writes all four files the way `report convert --json --kcidb --junit --ktap` does
    /// (``ResultFiles``, default origin, no build ID) and checks each against its golden file.
    static func expectGoldenFiles(of set: ResultSet, run: String) throws {
        let out = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        let files = ResultFiles(json: out.appendingPathComponent("results.json").path, kcidb: out.appendingPathComponent("kcidb.json").path,
                                junit: out.appendingPathComponent("junit.xml").path, ktap: out.appendingPathComponent("out.ktap").path)
        try files.write(set)
        for (written, golden) in [("results.json", "results.json"), ("kcidb.json", "kcidb.json"), ("junit.xml", "junit.xml"),
                                  ("out.ktap", "out.ktap")] {
            let actual = Array(try Data(contentsOf: out.appendingPathComponent(written)))
            try expectSame(actual, golden: "\(run).\(golden)")
        }
    }

    @Test("a saved KTAP log renders every format as before", arguments: runs)
    func savedKTAP(run: String) throws {
        try Self.expectGoldenFiles(of: try Self.load("\(run).ktap"), run: run)
    }

    /// The results JSON written from the log reads back as the same results: the same four
    /// files, the JSON itself included.
    @Test("the results JSON of a saved run renders the same files", arguments: runs)
    func savedResultsJSON(run: String) throws {
        try Self.expectGoldenFiles(of: try Self.load("\(run).results.json"), run: run)
    }

    /// `hmmkit compare run-6.1.192-suite.ktap run-6.1.192-suite-b.ktap`, text and `--format json`
    /// (the command prints the text without its last newline and adds one).
    @Test func comparisonOfTwoSavedRuns() throws {
        let comparison = try Comparison(base: try Self.load("run-6.1.192-suite.ktap"), patched: try Self.load("run-6.1.192-suite-b.ktap"))
        try Self.expectSame(Array(comparison.text.utf8), golden: "run-6.1.192-suite.compare.txt")
        try Self.expectSame(Array((comparison.json.rendered() + "\n").utf8), golden: "run-6.1.192-suite.compare.json")
    }
}
