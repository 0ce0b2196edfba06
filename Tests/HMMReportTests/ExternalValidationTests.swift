import Foundation
import Testing
@testable import HMMReport

/// The venv `scripts/setup-python` makes: `${HMMKIT_CACHE:-~/.cache/hmmkit}/venv`.
let venvPython: String = {
    let environment = ProcessInfo.processInfo.environment
    let cache = environment["HMMKIT_CACHE"].flatMap { $0.isEmpty ? nil : $0 }
        ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/hmmkit").path
    return cache + "/venv/bin/python"
}()

struct PythonFailed: Error, CustomStringConvertible {
    var description: String
}

/// Runs `script` with the venv's Python, `input` on stdin; returns stdout, throws with stderr.
/// A missing venv is a failure that says how to make it, not a skip: CI must run these.
func runPython(_ script: String, arguments: [String] = [], input: String = "") throws -> String {
    guard FileManager.default.isExecutableFile(atPath: venvPython) else {
        throw PythonFailed(description: "no Python venv at \(venvPython): run scripts/setup-python (scripts/test does)")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: venvPython)
    process.arguments = ["-c", script] + arguments
    let stdin = Pipe()
    let stdout = Pipe()
    let stderr = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    // Feed stdin from another thread so a large input cannot deadlock against a full stdout pipe.
    let writer = Thread {
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try? stdin.fileHandleForWriting.close()
    }
    writer.start()
    let out = stdout.fileHandleForReading.readDataToEndOfFile()
    let err = stderr.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw PythonFailed(description: "python exited \(process.terminationStatus): " + String(decoding: err, as: UTF8.self))
    }
    return String(decoding: out, as: UTF8.self)
}

@Suite("validated by real consumers", .serialized)
struct ExternalValidationTests {
    /// Validates stdin against KCIDB schema v5.3 exactly, the version the writer targets,
    /// and against the newest schema kcidb-io has; prints what it checked.
    static let kcidbValidate = """
        import json, sys
        import kcidb_io
        from importlib.metadata import version
        data = json.load(sys.stdin)
        kcidb_io.schema.V5_3.validate_exactly(data)
        kcidb_io.schema.LATEST.validate(data)
        print("kcidb-io", version("kcidb-io"), "schema", kcidb_io.schema.V5_3.major, kcidb_io.schema.V5_3.minor,
              "tests", len(data.get("tests", [])))
        """

    @Test("kcidb-io accepts the KCIDB JSON of a saved log",
          arguments: ["hmm-tests-6.12.117-qemu.log", "hmmkit-run-6.12.117-qemu.log", "hmm-tests-6.12-nomodule.log",
                      "runner-run_vmtests-timeout-synthetic.log"])
    func kcidbOfSavedLog(_ log: String) throws {
        var set = try ResultSet.load(path: fixturePath(log))
        set.kernelRelease = "6.12.117"
        set.startedAt = Date(timeIntervalSince1970: 1_767_323_045)
        let output = try runPython(Self.kcidbValidate, input: try KCIDBWriter().text(for: set))
        #expect(output.contains("schema 5 3 tests \(set.tests.count + 1)"), "\(output)")
    }

    @Test func kcidbOfEveryStatusAndStrangeText() throws {
        let output = try runPython(Self.kcidbValidate, input: try KCIDBWriter(origin: "my_ci").text(for: mixedSet))
        #expect(output.contains("tests \(mixedSet.tests.count + 1)"))
        let onlyTests = try runPython(Self.kcidbValidate, input: try KCIDBWriter(buildID: "kernelci:b1").text(for: mixedSet))
        #expect(onlyTests.contains("tests \(mixedSet.tests.count + 1)"))
    }

    @Test func kcidbWithEveryFieldDashboardsKeyOn() throws {
        // As hmmkit series writes it: machine facts, a known checkout, the boot test.
        let output = try runPython(Self.kcidbValidate, input: try KCIDBWriter(checkout: seriesCheckout).text(for: factsSet))
        #expect(output.contains("tests \(factsSet.tests.count + 1)"), "\(output)")
        // Facts the schema would refuse (an ssh URL, a short commit, an odd architecture) are kept out of its fields.
        var odd = factsSet
        odd.architecture = "ARM64 (v8)"
        let checkout = KCIDBWriter.Checkout(repositoryURL: "git@example.org:linux.git", commitHash: "abc", patchsetHash: "x",
                                            messageID: "<a b>")
        _ = try runPython(Self.kcidbValidate, input: try KCIDBWriter(checkout: checkout).text(for: odd))
        // A log excerpt at its limit of multi-byte characters.
        var long = factsSet
        long.tests[1].diagnostics = (0..<5000).map { "line \($0) 😀" }
        _ = try runPython(Self.kcidbValidate, input: try KCIDBWriter().text(for: long))
    }

    @Test func kcidbValidatorRejectsABrokenDocument() throws {
        // The check has teeth: a path with a space is refused.
        var doc = try KCIDBWriter().text(for: mixedSet)
        doc = doc.replacingOnce("\"path\": \"hmmkit.hmm.hmm_device_private.migrate\"", with: "\"path\": \"hmm migrate\"")
        do {
            _ = try runPython(Self.kcidbValidate, input: doc)
            Issue.record("kcidb-io accepted a test path with a space")
        } catch let error as PythonFailed {
            #expect(error.description.contains("ValidationError"), "\(error)")
            #expect(error.description.contains("hmm migrate"))
        }
    }

    /// Parses a JUnit file with junitparser and prints suite totals and each case's outcome.
    static let junitRead = """
        import sys
        from junitparser import JUnitXml, Failure, Error, Skipped
        xml = JUnitXml.fromfile(sys.argv[1])
        for suite in xml:
            print("suite", suite.name, suite.tests, suite.failures, suite.errors, suite.skipped, round(suite.time, 3))
            for case in suite:
                kinds = [type(r).__name__ for r in case.result] or ["Pass"]
                print("case", case.classname, case.name, kinds[0], repr(case.result[0].message if case.result else None))
        """

    @Test("junitparser reads the JUnit XML of a saved log",
          arguments: ["hmm-tests-6.12.117-qemu.log", "hmm-tests-6.12-nomodule.log", "run_vmtests-hmm-6.12-synthetic.log"])
    func junitOfSavedLog(_ log: String) throws {
        let set = try ResultSet.load(path: fixturePath(log))
        let dir = try temporaryDirectory()
        let file = dir.appendingPathComponent("junit.xml").path
        try AtomicFile.write(JUnitWriter().text(for: set), to: file)
        let lines = try runPython(Self.junitRead, arguments: [file]).split(separator: "\n")
        let counts = set.counts
        let errors = (counts[.timeout] ?? 0) + (counts[.error] ?? 0)
        let suite = "suite \(set.label) \(set.tests.count) \(counts[.fail] ?? 0) \(errors) \(counts[.skip] ?? 0)"
        #expect(lines.first?.hasPrefix(suite) == true, "\(lines.first ?? "")")
        #expect(lines.filter { $0.hasPrefix("case ") }.count == set.tests.count)
        #expect(lines.filter { $0.contains(" Failure ") }.count == counts[.fail] ?? 0)
        #expect(lines.filter { $0.contains(" Skipped ") }.count == counts[.skip] ?? 0)
    }

    @Test func junitparserReadsEscapedText() throws {
        let dir = try temporaryDirectory()
        let file = dir.appendingPathComponent("junit.xml").path
        try AtomicFile.write(JUnitWriter().text(for: mixedSet), to: file)
        let output = try runPython(Self.junitRead, arguments: [file])
        #expect(output.hasPrefix("suite hmmkit on 6.12.117 8 1 2 1 1.754\n"))
        #expect(output.contains("case hmm.hmm_device_private migrate Failure 'ret <0> & \"x\"'\n"))
        #expect(output.contains("case hmm.hmm_device_private anon_teardown Error '30 seconds'\n"))
        #expect(output.contains("case hmm.hmm_device_coherent migrate Skipped 'DEVICE_COHERENT not available'\n"))
        #expect(output.contains("case replay gen-6.12-private-seed1 Pass None\n"))
    }
}
