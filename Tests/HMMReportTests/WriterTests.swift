import Foundation
import KTAP
import Testing
@testable import HMMReport

/// A run with one test of each status and text that needs escaping.
let mixedSet = ResultSet(
    tool: .hmmkit, kernelRelease: "6.12.117", profile: "linux-6.12", startedAt: Date(timeIntervalSince1970: 1_767_323_045),
    tests: [
        .init(name: "hmm.hmm_device_private.open_close", status: .pass, duration: 0.004),
        .init(name: "hmm.hmm_device_private.migrate", status: .fail, reason: "ret <0> & \"x\"", duration: 1.5,
              diagnostics: ["\u{1B}[31mred\u{1B}[0m <b> & 'q'", "bell\u{07} nul\u{0} cr\r tab\t", "]]> end"]),
        .init(name: "hmm.hmm_device_coherent.migrate", status: .skip, reason: "DEVICE_COHERENT not available"),
        .init(name: "hmm.hmm_device_private.anon_teardown", status: .timeout, reason: "30 seconds", diagnostics: ["killed"]),
        .init(name: "hmm.hmm_device_private.exclusive", status: .error, reason: "VM died: Kernel panic"),
        .init(name: "hmm.hmm_device_private.compound", status: .xfail, reason: "1 GiB pages"),
        .init(name: "replay.gen-6.12-private-seed1", status: .pass, duration: 0.25),
        .init(name: "lonely", status: .xpass),
    ])

@Suite("JUnit XML")
struct JUnitTests {
    @Test func escapesTextAndAttributes() {
        #expect(JUnitWriter.escapeText("a < b && c > d ]]>") == "a &lt; b &amp;&amp; c &gt; d ]]&gt;")
        #expect(JUnitWriter.escapeAttribute("say \"hi\" & 'bye'\n\ttab") == "say &quot;hi&quot; &amp; &apos;bye&apos;&#10;&#9;tab")
        #expect(JUnitWriter.escapeText("line\r\nnext") == "line&#13;\nnext")
    }

    @Test func forbiddenCharactersAreMadeVisible() {
        #expect(JUnitWriter.escapeText("\u{1B}[31m") == "\\x1b[31m")
        #expect(JUnitWriter.escapeText("nul\u{0}bell\u{07}") == "nul\\x00bell\\x07")
        #expect(JUnitWriter.escapeAttribute("\u{FFFF}\u{FFFE}ok\u{FFFD}") == "\\u{ffff}\\u{fffe}ok\u{FFFD}")
        #expect(JUnitWriter.escapeText("é 😀 \u{7F}") == "é 😀 \u{7F}")  // allowed in XML 1.0
        let xml = JUnitWriter().text(for: mixedSet)
        #expect(!xml.unicodeScalars.contains { JUnitWriter.isForbidden($0) })
    }

    @Test func structure() {
        let xml = JUnitWriter().text(for: mixedSet)
        #expect(xml.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            + "<testsuites name=\"hmmkit\" tests=\"8\" failures=\"1\" errors=\"2\" skipped=\"1\" time=\"1.754\">\n"
            + "  <testsuite name=\"hmmkit on 6.12.117\" tests=\"8\" failures=\"1\" errors=\"2\" skipped=\"1\" time=\"1.754\""
            + " timestamp=\"2026-01-02T03:04:05Z\">\n"))
        #expect(xml.contains("      <property name=\"kernel_release\" value=\"6.12.117\"/>\n"))
        #expect(xml.contains("      <property name=\"hmmkit_version\" value=\"\(mixedSet.hmmkitVersion)\"/>\n"))
        #expect(xml.contains("    <testcase classname=\"hmm.hmm_device_private\" name=\"open_close\" time=\"0.004\"/>\n"))
        #expect(xml.contains("""
                <testcase classname="hmm.hmm_device_private" name="migrate" time="1.500">
                  <failure message="ret &lt;0&gt; &amp; &quot;x&quot;" type="fail">\\x1b[31mred\\x1b[0m &lt;b&gt; &amp; 'q'
            bell\\x07 nul\\x00 cr&#13; tab\t
            ]]&gt; end</failure>
                </testcase>
            """))
        #expect(xml.contains("<skipped message=\"DEVICE_COHERENT not available\"/>"))
        #expect(xml.contains("<error message=\"30 seconds\" type=\"timeout\">killed</error>"))
        #expect(xml.contains("<error message=\"VM died: Kernel panic\" type=\"error\"/>"))
        #expect(xml.contains("<system-out>XFAIL: 1 GiB pages</system-out>"))
        #expect(xml.contains("<testcase classname=\"replay\" name=\"gen-6.12-private-seed1\" time=\"0.250\"/>"))
        #expect(xml.contains("<testcase classname=\"hmmkit\" name=\"lonely\">"))
        #expect(xml.hasSuffix("  </testsuite>\n</testsuites>\n"))
    }

    @Test func testPaths() {
        #expect(TestPath.components("hmm.hmm_device_private.migrate") == ["hmm", "hmm_device_private", "migrate"])
        #expect(TestPath.components("replay.gen-6.12-private-seed1") == ["replay", "gen-6.12-private-seed1"])
        #expect(TestPath.components("test_hmm.sh smoke") == ["test_hmm", "sh smoke"])
        #expect(TestPath.components("..a..b.") == ["a", "b"])
        #expect(TestPath.kcidbPath("replay.gen-6.12-private-seed1") == "replay.gen-6_12-private-seed1")
        #expect(TestPath.kcidbPath("selftests: mm: run_vmtests.sh") == "selftests__mm__run_vmtests.sh")
        #expect(TestPath.kcidbPath("") == "")
    }
}

@Suite("KCIDB")
struct KCIDBTests {
    @Test func structure() throws {
        let doc = try KCIDBWriter().document(for: mixedSet)
        #expect(doc["version"] == .object([("major", .number(5)), ("minor", .number(3))]))
        let checkout = try #require(doc["checkouts"]?.arrayValue?.first)
        let build = try #require(doc["builds"]?.arrayValue?.first)
        let tests = try #require(doc["tests"]?.arrayValue)
        #expect(tests.count == mixedSet.tests.count)
        #expect(build["checkout_id"] == checkout["id"])
        #expect(checkout["misc"]?["kernel_release"] == .string("6.12.117"))
        for object in [checkout, build] + tests {
            #expect(object["misc"]?["hmmkit_version"] == .string(HMMKitVersion.current))
        }

        let migrate = try #require(tests.first { $0["misc"]?["name"] == .string("hmm.hmm_device_private.migrate") })
        #expect(migrate["build_id"] == build["id"])
        #expect(migrate["origin"] == .string("hmmkit"))
        #expect(migrate["path"] == .string("hmm.hmm_device_private.migrate"))
        #expect(migrate["status"] == .string("FAIL"))
        #expect(migrate["duration"] == .number(1.5))
        #expect(migrate["start_time"] == .string("2026-01-02T03:04:05Z"))
        #expect(migrate["log_excerpt"]?.stringValue?.contains("nul\u{FFFD} cr") == true)
        #expect(migrate["misc"]?["reason"] == .string("ret <0> & \"x\""))

        let statuses = tests.compactMap { $0["status"]?.stringValue }
        #expect(statuses == ["PASS", "FAIL", "SKIP", "ERROR", "ERROR", "PASS", "PASS", "PASS"])
        let replay = tests[6]
        #expect(replay["path"] == .string("replay.gen-6_12-private-seed1"))

        // Every ID has the schema's origin prefix, and every path its shape.
        let ids = [checkout["id"], build["id"]] + tests.map { $0["id"] }
        for id in ids.compactMap({ $0?.stringValue }) {
            #expect(id.range(of: "^[a-z0-9_]+:.*$", options: .regularExpression) != nil, "\(id)")
        }
        for path in tests.compactMap({ $0["path"]?.stringValue }) {
            #expect(path.range(of: #"^([a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*)?$"#, options: .regularExpression) != nil, "\(path)")
        }
        #expect(Set(tests.compactMap { $0["id"]?.stringValue }).count == tests.count)
        #expect(!doc.rendered().contains("\\u0000"))
    }

    @Test func idsAreStableAndFollowTheResults() throws {
        let writer = try KCIDBWriter(origin: "my_ci")
        #expect(writer.text(for: mixedSet) == writer.text(for: mixedSet))
        var changed = mixedSet
        changed.tests[0].status = .fail
        let a = writer.document(for: mixedSet)["builds"]?.arrayValue?.first?["id"]
        let b = writer.document(for: changed)["builds"]?.arrayValue?.first?["id"]
        #expect(a != b)
        #expect(a?.stringValue?.hasPrefix("my_ci:build-") == true)
        // Another hmmkit writing the same results updates the same objects.
        var later = mixedSet
        later.hmmkitVersion = HMMKitVersion.string(commit: "0123abcd")
        #expect(writer.document(for: later)["builds"]?.arrayValue?.first?["id"] == a)
    }

    @Test func givenBuildOmitsCheckoutAndBuild() throws {
        let doc = try KCIDBWriter(origin: "hmmkit", buildID: "kernelci:build-42").document(for: mixedSet)
        #expect(doc["checkouts"] == nil)
        #expect(doc["builds"] == nil)
        #expect(doc["tests"]?.arrayValue?.allSatisfy { $0["build_id"] == .string("kernelci:build-42") } == true)
        #expect(doc["tests"]?.arrayValue?.first?["id"] == .string("kernelci:build-42:hmm.hmm_device_private.open_close"))
    }

    @Test func badOriginOrBuild() {
        #expect(reportError { _ = try KCIDBWriter(origin: "HMMKit") }?.kind == .badOption)
        #expect(reportError { _ = try KCIDBWriter(origin: "") }?.kind == .badOption)
        #expect(reportError { _ = try KCIDBWriter(buildID: "no-colon") }?.kind == .badOption)
        #expect(reportError { _ = try KCIDBWriter(buildID: "Caps:1") }?.kind == .badOption)
    }

    @Test func longDiagnosticsKeepTheirEnd() throws {
        let lines = (0..<5000).map { "line \($0) 😀" }
        let excerpt = KCIDBWriter.excerpt(lines)
        #expect(excerpt.unicodeScalars.count == KCIDBWriter.excerptLimit)
        #expect(excerpt.hasPrefix("[… earlier lines cut]\n"))
        #expect(excerpt.hasSuffix("line 4999 😀\n"))
    }
}

@Suite("atomic files")
struct AtomicFileTests {
    @Test func writesAndReplacesWithoutLeftovers() throws {
        let dir = try temporaryDirectory()
        let path = dir.appendingPathComponent("out.json").path
        try AtomicFile.write("first\n", to: path)
        try AtomicFile.write("second\n", to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "second\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["out.json"])
    }

    @Test func followsALinkAndKeepsIt() throws {
        let dir = try temporaryDirectory()
        let target = dir.appendingPathComponent("real.xml").path
        let link = dir.appendingPathComponent("link.xml").path
        try AtomicFile.write("old", to: target)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        try AtomicFile.write("new", to: link)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == target)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "new")
    }

    @Test func severalFilesAreWrittenAllOrNothing() throws {
        let dir = try temporaryDirectory()
        let json = dir.appendingPathComponent("r.json").path
        let junit = dir.appendingPathComponent("r.xml").path
        try AtomicFile.write("old json", to: json)
        // The last file cannot be staged: neither earlier one is replaced or created.
        #expect(reportError { try AtomicFile.write([("new json", json), ("new xml", junit), ("x", "/nonexistent-dir/r.kcidb.json")]) } != nil)
        #expect(try String(contentsOfFile: json, encoding: .utf8) == "old json")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["r.json"])
        try AtomicFile.write([("new json", json), ("new xml", junit)])
        #expect(try String(contentsOfFile: junit, encoding: .utf8) == "new xml")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["r.json", "r.xml"])
    }

    @Test func aFailedWriteLeavesNothing() throws {
        let e = try #require(reportError { try AtomicFile.write("x", to: "/nonexistent-dir/out.json") })
        #expect(e.kind == .io)
        #expect(e.description.hasPrefix("/nonexistent-dir/out.json: cannot write"))
        // A directory in the way: the rename fails and the temporary file is removed.
        let dir = try temporaryDirectory()
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("taken"), withIntermediateDirectories: false)
        #expect(FileManager.default.createFile(atPath: dir.appendingPathComponent("taken/inside").path, contents: Data()))
        #expect(reportError { try AtomicFile.write("x", to: dir.appendingPathComponent("taken").path) } != nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["taken"])
    }
}
