import Foundation
import Testing

@testable import HMMSeries

@Suite struct SeriesPathsTests {
    @Test func relativePathsBecomeAbsoluteAndStandard() {
        let here = FileManager.default.currentDirectoryPath
        #expect(SeriesPaths.absolute("out/../x") == URL(fileURLWithPath: here + "/x").standardizedFileURL.path)
        #expect(SeriesPaths.absolute("/a/./b") == "/a/b")
        #expect(SeriesPaths.isDirectory(here) && !SeriesPaths.isDirectory(here + "/no-such-directory"))
        #expect(SeriesPaths.minutes(since: Date().addingTimeInterval(-187)) == "3 min 07 s")
    }

    @Test func aStoppedSeriesLeavesItsReasonInTheSummary() throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("hmmkit-series-\(UUID().uuidString)").path
        let runner = SeriesRunner(configuration: SeriesConfiguration(tree: "/t", base: "b", patches: .range(CommitRange("a..b")!),
                                                                     output: output), progress: { _ in })
        let error = SeriesError(.badInput, "no such revision 'b'")
        runner.recordStop(error)  // no output directory yet: nothing written
        #expect(!FileManager.default.fileExists(atPath: output))
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: output) }
        runner.recordStop(error)
        #expect(try String(contentsOfFile: output + "/summary.txt", encoding: .utf8) == error.description + "\n")
    }
}
