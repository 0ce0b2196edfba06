import Foundation
import HMMCommands
import HMMSeries
import Testing
import hmmkit

@Suite struct SeriesArgumentTests {
    /// The message a rejected command line gets, or nil when it parses.
    func rejection(_ arguments: [String]) -> String? {
        do {
            _ = try HMMKit.parseAsRoot(["series"] + arguments)
            return nil
        } catch {
            return HMMKit.message(for: error)
        }
    }

    let tree = FileManager.default.temporaryDirectory.path
    var mbox: String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hmmkit-series-args.mbox").path
        _ = FileManager.default.createFile(atPath: path, contents: Data("x".utf8))
        return path
    }

    @Test func patchesMustBeNamedOnce() {
        #expect(rejection(["--tree", tree, "--base", "base"])?.contains("--mbox FILE or --range A..B") == true)
        #expect(rejection(["--tree", tree, "--base", "base", "--mbox", mbox, "--range", "a..b"])?.contains("exclude each other") == true)
        #expect(rejection(["--tree", tree, "--base", "base", "--range", "a..b"]) == nil)
        #expect(rejection(["--tree", tree, "--base", "base", "--mbox", mbox, "--each"]) == nil)
    }

    @Test func treeAndBaseAreRequired() {
        #expect(rejection(["--base", "base", "--range", "a..b"]) != nil)
        #expect(rejection(["--tree", tree, "--range", "a..b"]) != nil)
        #expect(rejection(["--tree", "/no/such/tree", "--base", "b", "--range", "a..b"])?.contains("is not a directory") == true)
    }

    @Test func rangeMustBeTwoDots() {
        #expect(rejection(["--tree", tree, "--base", "b", "--range", "a...b"])?.contains("--range takes A..B") == true)
        #expect(rejection(["--tree", tree, "--base", "b", "--range", "HEAD"])?.contains("--range takes A..B") == true)
    }

    @Test func filesMustExist() {
        #expect(rejection(["--tree", tree, "--base", "b", "--mbox", "/no/such.mbox"])?.contains("--mbox: cannot read") == true)
        #expect(rejection(["--tree", tree, "--base", "b", "--range", "a..b", "--fixtures", "/no/such/dir"])?.contains("--fixtures") == true)
        #expect(rejection(["--tree", tree, "--base", "b", "--range", "a..b", "--output", mbox])?.contains("not a directory") == true)
    }

    @Test func vmSettings() {
        #expect(rejection(["--tree", tree, "--base", "b", "--range", "a..b", "--accel", "hvf"])?.contains("--accel") == true)
        #expect(rejection(["--tree", tree, "--base", "b", "--range", "a..b", "--stall-timeout", "0"]) != nil)
        #expect(rejection(["--tree", tree, "--base", "b", "--range", "a..b", "--icount", "11"])?.contains("from 0 to 10") == true)
        #expect(rejection(["--tree", tree, "--base", "b", "--range", "a..b", "--icount", "3", "--accel", "kvm"])?
            .contains("needs TCG") == true)
        #expect(rejection(["--tree", tree, "--base", "b", "--range", "a..b", "--icount", "3"]) == nil)
        let startAfter = rejection(["--tree", tree, "--base", "b", "--range", "a..b", "--", "--start-after", "x"])
        #expect(startAfter?.contains("set by hmmkit series") == true)
    }

    @Test func configurationHasAbsolutePaths() throws {
        let fixtures = FileManager.default.currentDirectoryPath
        let command = try #require(try HMMKit.parseAsRoot(["series", "--tree", tree, "--base", "v6.12", "--range", "v6.12..topic",
                                                           "--each", "--fixtures", ".", fixtures, "--output", "out", "--", "-t", "migrate"])
            as? SeriesCommand)
        let c = command.configuration()
        #expect(c.patches == .range(CommitRange("v6.12..topic")!))
        #expect(c.each && c.base == "v6.12")
        #expect(c.fixtures == [fixtures, fixtures])
        #expect(c.output == fixtures + "/out")
        #expect(c.guestArguments == ["run", "--fixtures", fixtures, "--fixtures", fixtures, "--no-shrink", "-t", "migrate"])
    }
}
