import ArgumentParser
import Foundation
import HMMCommands
import HMMReport
import KTAP
import Testing
import hmmkit

private let fixtures = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/ktap")

private func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

private func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("hmmkit-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Runs a command line the way `main` does and returns its exit status.
private func exitStatus(_ arguments: [String]) -> Int32 {
    do {
        var command = try HMMKit.parseAsRoot(arguments)
        try command.run()
        return 0
    } catch {
        return (HMMKit.usageExitCode(for: error) ?? HMMKit.exitCode(for: error)).rawValue
    }
}

@Suite struct CompareCommandTests {
    @Test func noRegressionExitsZero() {
        #expect(exitStatus(["compare", fixture("hmm-tests-6.12-nomodule.log"), fixture("hmm-tests-6.12.117-qemu.log")]) == 0)
    }

    @Test func regressionExitsOne() {
        #expect(exitStatus(["compare", fixture("hmm-tests-6.12.117-qemu.log"), fixture("hmm-tests-6.12-nomodule.log"),
                            "--format", "json"]) == 1)
    }

    @Test func badInputExitsTwo() {
        #expect(exitStatus(["compare", fixture("hmm-tests-6.12.117-qemu.log"), fixture("hmm-tests-6.12-truncated-synthetic.log")]) == 2)
        #expect(exitStatus(["compare", fixture("hmm-tests-6.12.117-qemu.log"), fixture("README.md")]) == 2)
        #expect(exitStatus(["compare", fixture("hmm-tests-6.12.117-qemu.log"), "/nonexistent.log"]) == 2)
        // ... unless the user takes a cut-off log as it is: then the lost tests are the regression.
        #expect(exitStatus(["compare", "--allow-incomplete", fixture("hmm-tests-6.12.117-qemu.log"),
                            fixture("hmm-tests-6.12-truncated-synthetic.log")]) == 1)
    }

    @Test func usageErrorsExitTwo() {
        #expect(exitStatus(["compare", fixture("hmm-tests-6.12.117-qemu.log")]) == 2)
        #expect(exitStatus(["compare", "a", "b", "--format", "xml"]) == 2)
        #expect(exitStatus(["compare", "a", "b", "--timing-ratio", "0.5"]) == 2)
        #expect(exitStatus(["compare", "a", "b", "--timing-threshold", "-1"]) == 2)
    }
}

@Suite struct ReportConvertTests {
    @Test func writesEveryFormat() throws {
        let dir = try temporaryDirectory()
        let json = dir.appendingPathComponent("r.json").path
        let kcidb = dir.appendingPathComponent("k.json").path
        let junit = dir.appendingPathComponent("j.xml").path
        #expect(exitStatus(["report", "convert", fixture("hmm-tests-6.12-nomodule.log"), "--json", json, "--kcidb", kcidb,
                            "--junit", junit, "--origin", "my_ci"]) == 0)
        let original = try ResultSet.load(path: fixture("hmm-tests-6.12-nomodule.log"))
        var converted = try ResultSet.load(path: json)
        converted.source = original.source
        #expect(converted == original)
        let kcidbText = try String(contentsOfFile: kcidb, encoding: .utf8)
        #expect(kcidbText.contains("\"origin\": \"my_ci\""))
        #expect(try String(contentsOfFile: junit, encoding: .utf8).contains("<testsuites name=\"hmmkit\" tests=\"58\" failures=\"29\""))
        // JSON converts too, and only the file asked for is written.
        let again = dir.appendingPathComponent("again.xml").path
        #expect(exitStatus(["report", "convert", json, "--junit", again]) == 0)
        #expect(try String(contentsOfFile: again, encoding: .utf8) == String(contentsOfFile: junit, encoding: .utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["again.xml", "j.xml", "k.json", "r.json"])
    }

    @Test func badInputWritesNothing() throws {
        let dir = try temporaryDirectory()
        let out = dir.appendingPathComponent("r.json").path
        #expect(exitStatus(["report", "convert", fixture("hmm-tests-6.12-truncated-synthetic.log"), "--json", out]) == 2)
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(exitStatus(["report", "convert", fixture("hmm-tests-6.12-truncated-synthetic.log"), "--json", out,
                            "--allow-incomplete"]) == 0)
        #expect(try ResultSet.load(path: out).warnings.count == 2)
    }

    @Test func usageErrors() {
        #expect(exitStatus(["report", "convert", fixture("hmm-tests-6.12-nomodule.log")]) == 2)  // no output named
        #expect(exitStatus(["report", "convert", "x.log", "--kcidb", "k.json", "--origin", "Not-Valid"]) == 2)
        #expect(exitStatus(["report", "convert", "x.log", "--kcidb", "k.json", "--kcidb-build-id", "nocolon"]) == 2)
        #expect(exitStatus(["report", "convert", "x.log", "--json", "/nonexistent-dir/r.json"]) == 2)
    }

    @Test func runChecksItsResultFilesBeforeRunning() {
        do {
            _ = try HMMKit.parseAsRoot(["run", "--junit", "/nonexistent-dir/j.xml"])
            Issue.record("accepted a result file in a missing directory")
        } catch {
            #expect(HMMKit.message(for: error).contains("--junit: directory '/nonexistent-dir' does not exist"))
        }
    }
}

@Suite struct ReportMergeTests {
    /// `log` split in `count` shards by test name, each saved as results JSON; returns their paths.
    func shardFiles(of log: String, count: Int, in dir: URL) throws -> [String] {
        let whole = try ResultSet.load(path: fixture(log))
        return try (1...count).map { k in
            var shard = whole
            shard.tests = whole.tests.filter { Int(StableHash.fnv1a64($0.name) % UInt64(count)) + 1 == k }
            let path = dir.appendingPathComponent("shard-\(k).json").path
            try AtomicFile.write(shard.jsonText, to: path)
            return path
        }
    }

    @Test func mergesShardsIntoEveryFormat() throws {
        let dir = try temporaryDirectory()
        let log = "hmm-tests-6.12-nomodule.log"
        let shards = try shardFiles(of: log, count: 3, in: dir)
        let out = ["json", "kcidb", "junit", "ktap"].map { dir.appendingPathComponent("merged.\($0)").path }
        #expect(exitStatus(["report", "merge"] + shards + [fixture(log), "--json", out[0], "--kcidb", out[1], "--junit", out[2],
                                                           "--ktap", out[3]]) == 0)
        let whole = try ResultSet.load(path: fixture(log))
        for path in [out[0], out[3]] {
            let merged = try ResultSet.load(path: path)
            #expect(merged.tests == whole.tests.sorted { $0.name < $1.name }, "\(path)")
            #expect(merged.tool == whole.tool)
        }
        let kcidb = try JSONValue.parse(try String(contentsOfFile: out[1], encoding: .utf8))
        #expect(kcidb["tests"]?.arrayValue?.count == whole.tests.count + 1)
        #expect(try String(contentsOfFile: out[2], encoding: .utf8).contains("tests=\"\(whole.tests.count)\""))
    }

    @Test func conflictingShardsExitTwoAndWriteNothing() throws {
        let dir = try temporaryDirectory()
        let a = dir.appendingPathComponent("a.ktap").path
        let b = dir.appendingPathComponent("b.ktap").path
        try AtomicFile.write("TAP version 13\n1..2\nok 1 hmm.v.x\nok 2 hmm.v.y\n", to: a)
        try AtomicFile.write("TAP version 13\n1..1\nnot ok 1 hmm.v.x\n", to: b)
        let json = dir.appendingPathComponent("merged.json").path
        #expect(exitStatus(["report", "merge", a, b, "--json", json, "--ktap", dir.appendingPathComponent("m.ktap").path]) == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["a.ktap", "b.ktap"])
        do {
            _ = try ResultSet.merging([ResultSet.load(path: a), ResultSet.load(path: b)])
            Issue.record("conflicting results merged")
        } catch {
            #expect(error.description == "\(b): test 'hmm.v.x' is fail here but pass in \(a)")
        }
        // The same test twice with the same status is fine.
        #expect(exitStatus(["report", "merge", a, a, "--json", json]) == 0)
        #expect(try ResultSet.load(path: json).tests.count == 2)
    }

    @Test func malformedOrMissingInputExitsTwo() throws {
        let dir = try temporaryDirectory()
        let json = dir.appendingPathComponent("merged.json").path
        let good = fixture("hmm-tests-6.12-nomodule.log")
        #expect(exitStatus(["report", "merge", good, fixture("hmm-tests-6.12-truncated-synthetic.log"), "--json", json]) == 2)
        #expect(exitStatus(["report", "merge", good, fixture("README.md"), "--json", json]) == 2)
        #expect(exitStatus(["report", "merge", good, "/nonexistent.ktap", "--json", json]) == 2)
        let broken = dir.appendingPathComponent("broken.json").path
        try AtomicFile.write(#"{"format": "hmmkit-results", "version": 1, "tool": "hmmkit", "tests": [{"name": 3}]}"#, to: broken)
        #expect(exitStatus(["report", "merge", good, broken, "--json", json]) == 2)
        #expect(!FileManager.default.fileExists(atPath: json))
        // hmmkit's results and the kernel's own hm-tests' do not merge either.
        let ours = dir.appendingPathComponent("ours.ktap").path
        try AtomicFile.write("TAP version 13\n1..1\n# \(ResultSet.ktapVersionLine())\nok 1 hmm.v.z\n", to: ours)
        #expect(exitStatus(["report", "merge", good, ours, "--json", json]) == 2)
        #expect(!FileManager.default.fileExists(atPath: json))
    }

    @Test func usageErrors() {
        #expect(exitStatus(["report", "merge", "--json", "m.json"]) == 2)  // no results named
        #expect(exitStatus(["report", "merge", fixture("hmm-tests-6.12-nomodule.log")]) == 2)  // no output named
        #expect(exitStatus(["report", "merge", "a.ktap", "--ktap", "/nonexistent-dir/m.ktap"]) == 2)
    }
}

@Suite struct VersionTests {
    @Test func versionFlagPrintsTheVersion() {
        do {
            _ = try HMMKit.parseAsRoot(["--version"])
            Issue.record("--version did not exit")
        } catch {
            #expect(HMMKit.exitCode(for: error) == .success)
            #expect(HMMKit.fullMessage(for: error) == HMMKitVersion.current)
        }
    }

    /// The built executable, beside this test bundle, with HMMKIT_GIT_COMMIT in its environment.
    @Test func theCommitComesFromTheEnvironmentAtRunTime() throws {
        let directory = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            .deletingLastPathComponent()
        let executable = directory.appendingPathComponent("hmmkit").path
        try #require(FileManager.default.isExecutableFile(atPath: executable), "no hmmkit beside the tests in \(directory.path)")
        func version(_ environment: [String: String]) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = ["--version"]
            process.environment = environment
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            return text
        }
        #expect(try version(["PATH": "/usr/bin:/bin"]) == HMMKitVersion.release + "\n")
        #expect(try version(["PATH": "/usr/bin:/bin", HMMKitVersion.commitVariable: "0123abcd"])
                == HMMKitVersion.release + "+0123abcd\n")
    }
}
