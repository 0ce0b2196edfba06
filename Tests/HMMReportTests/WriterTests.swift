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

/// `mixedSet` with the machine facts a run of hmmkit's records.
let factsSet: ResultSet = {
    var set = mixedSet
    set.architecture = "x86_64"
    set.compiler = "gcc (Debian 12.2.0-14) 12.2.0"
    set.configName = "tinyconfig+hmmkit.config"
    set.machine = "nodes 0 (CPUs 0 1, 2048 MiB) 1 (no CPUs, 512 MiB); THP madvise; CONFIG_SWAP no"
    return set
}()

/// A checkout as `hmmkit series` knows it.
let seriesCheckout = KCIDBWriter.Checkout(
    repositoryURL: "https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux.git",
    commitHash: String(repeating: "0123456789", count: 4), patchsetHash: KCIDBWriter.patchsetHash(["patch one\n", "patch two\n"]),
    messageID: "20260102030405.1234-2-author@example.org")

@Suite("KCIDB")
struct KCIDBTests {
    @Test func structure() throws {
        let doc = try KCIDBWriter().document(for: mixedSet)
        #expect(doc["version"] == .object([("major", .number(5)), ("minor", .number(3))]))
        let checkout = try #require(doc["checkouts"]?.arrayValue?.first)
        let build = try #require(doc["builds"]?.arrayValue?.first)
        let tests = try #require(doc["tests"]?.arrayValue)
        #expect(tests.count == mixedSet.tests.count + 1)  // and the boot
        #expect(build["checkout_id"] == checkout["id"])
        #expect(checkout["misc"]?["kernel_release"] == .string("6.12.117"))
        for object in [checkout, build] + tests {
            #expect(object["misc"]?["hmmkit_version"] == .string(HMMKitVersion.current))
        }

        let migrate = try #require(tests.first { $0["misc"]?["name"] == .string("hmm.hmm_device_private.migrate") })
        #expect(migrate["build_id"] == build["id"])
        #expect(migrate["origin"] == .string("hmmkit"))
        #expect(migrate["path"] == .string("hmmkit.hmm.hmm_device_private.migrate"))
        #expect(migrate["status"] == .string("FAIL"))
        #expect(migrate["duration"] == .number(1.5))
        #expect(migrate["start_time"] == .string("2026-01-02T03:04:05Z"))
        #expect(migrate["log_excerpt"]?.stringValue?.contains("nul\u{FFFD} cr") == true)
        #expect(migrate["log_excerpt"]?.stringValue?.hasSuffix("fail: ret <0> & \"x\"\n") == true)
        #expect(migrate["misc"]?["reason"] == .string("ret <0> & \"x\""))

        let statuses = tests.compactMap { $0["status"]?.stringValue }
        #expect(statuses == ["PASS"] + mixedSet.tests.map { KCIDBWriter.status($0.status) })
        #expect(statuses == ["PASS", "PASS", "FAIL", "SKIP", "ERROR", "ERROR", "PASS", "PASS", "PASS"])
        let replay = try #require(tests.first { $0["misc"]?["name"] == .string("replay.gen-6.12-private-seed1") })
        #expect(replay["path"] == .string("hmmkit.replay.gen-6_12-private-seed1"))

        // Every ID has the schema's origin prefix, and every path its shape under hmmkit's root.
        let ids = [checkout["id"], build["id"]] + tests.map { $0["id"] }
        for id in ids.compactMap({ $0?.stringValue }) {
            #expect(id.range(of: "^[a-z0-9_]+:.*$", options: .regularExpression) != nil, "\(id)")
        }
        for path in tests.compactMap({ $0["path"]?.stringValue }) {
            #expect(path.range(of: #"^hmmkit(\.[a-zA-Z0-9_-]+)+$"#, options: .regularExpression) != nil, "\(path)")
        }
        #expect(Set(tests.compactMap { $0["id"]?.stringValue }).count == tests.count)
        // Every test has its outcome in its excerpt and an environment.
        #expect(tests.allSatisfy { $0["log_excerpt"]?.stringValue?.isEmpty == false && $0["environment"]?["comment"] != nil })
        #expect(!doc.rendered().contains("\\u0000"))
    }

    @Test func bootingIsATestNotABuildStatus() throws {
        let doc = try KCIDBWriter().document(for: mixedSet)
        let build = try #require(doc["builds"]?.arrayValue?.first)
        #expect(build["status"] == nil)
        let boot = try #require(doc["tests"]?.arrayValue?.first)
        #expect(boot["path"] == .string("hmmkit.boot"))
        #expect(boot["status"] == .string("PASS"))
        #expect(boot["build_id"] == build["id"])
        #expect(boot["id"] == .string("hmmkit:\(build["id"]?.stringValue ?? ""):hmmkit.boot"))
        // A run that was skipped as a whole still booted.
        let skipped = ResultSet(tool: .hmmkit, kernelRelease: "6.12.117", skipReason: "test_hmm not loaded")
        #expect(try KCIDBWriter().document(for: skipped)["tests"]?.arrayValue?.map { $0["path"] } == [.string("hmmkit.boot")])
    }

    @Test func theBuildCarriesArchitectureConfigAndCompiler() throws {
        let build = try #require(try KCIDBWriter().document(for: factsSet)["builds"]?.arrayValue?.first)
        #expect(build["architecture"] == .string("x86_64"))
        #expect(build["config_name"] == .string("tinyconfig+hmmkit.config"))
        #expect(build["compiler"] == .string("gcc (Debian 12.2.0-14) 12.2.0"))
        // Nothing invented when the results do not say.
        let bare = try #require(try KCIDBWriter().document(for: mixedSet)["builds"]?.arrayValue?.first)
        #expect(bare["architecture"] == nil && bare["config_name"] == nil && bare["compiler"] == nil)
        #expect(KCIDBWriter.architectureName("ARM64-v8 x") == "arm64_v8_x")
    }

    @Test func everyTestSaysWhatMachineItRanOn() throws {
        let tests = try #require(try KCIDBWriter().document(for: factsSet)["tests"]?.arrayValue)
        for test in tests {
            let environment = try #require(test["environment"])
            #expect(environment["comment"] == .string("x86_64: " + (factsSet.machine ?? "")))
            #expect(environment["misc"]?["architecture"] == .string("x86_64"))
            #expect(environment["misc"]?["machine"] == factsSet.machine.map(JSONValue.string))
            #expect(environment["misc"]?["kernel_release"] == .string("6.12.117"))
        }
    }

    @Test func hmmkitAndKselftestResultsOnOneBuildNeverCollide() throws {
        let writer = try KCIDBWriter(buildID: "kernelci:build-42")
        var peer = mixedSet
        peer.tool = .kselftest
        let ours = try #require(writer.document(for: mixedSet)["tests"]?.arrayValue)
        let theirs = try #require(writer.document(for: peer)["tests"]?.arrayValue)
        let ourIDs = Set(ours.compactMap { $0["id"]?.stringValue })
        let theirIDs = Set(theirs.compactMap { $0["id"]?.stringValue })
        #expect(ourIDs.count == ours.count && theirIDs.count == theirs.count)
        #expect(ourIDs.isDisjoint(with: theirIDs))
        #expect(theirs.allSatisfy { $0["path"]?.stringValue?.hasPrefix("hmmkit.kselftest.") == true })
        #expect(ours.allSatisfy { $0["path"]?.stringValue?.hasPrefix("hmmkit.kselftest.") == false })
        // Names that make the same path keep distinct IDs.
        let alike = ResultSet(tool: .hmmkit, tests: [.init(name: "a b.c", status: .pass), .init(name: "a_b.c", status: .fail)])
        let tests = try #require(writer.document(for: alike)["tests"]?.arrayValue)
        #expect(tests[1]["path"] == tests[2]["path"])
        #expect(Set(tests.compactMap { $0["id"]?.stringValue }).count == 3)
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
        #expect(doc["tests"]?.arrayValue?[1]["id"] == .string("hmmkit:kernelci:build-42:hmmkit.hmm.hmm_device_private.open_close"))
    }

    @Test func aKnownCheckoutGivesItsGitFacts() throws {
        let checkout = try #require(try KCIDBWriter(checkout: seriesCheckout).document(for: factsSet)["checkouts"]?.arrayValue?.first)
        #expect(checkout["git_repository_url"] == seriesCheckout.repositoryURL.map(JSONValue.string))
        #expect(checkout["git_commit_hash"] == seriesCheckout.commitHash.map(JSONValue.string))
        #expect(checkout["patchset_hash"] == seriesCheckout.patchsetHash.map(JSONValue.string))
        #expect(checkout["message_id"] == seriesCheckout.messageID.map(JSONValue.string))
        // What the schema would refuse is kept in misc instead.
        let odd = KCIDBWriter.Checkout(repositoryURL: "git@example.org:linux.git", commitHash: "abc123", patchsetHash: "not-a-hash",
                                       messageID: "<no at sign>")
        let kept = try #require(try KCIDBWriter(checkout: odd).document(for: factsSet)["checkouts"]?.arrayValue?.first)
        for field in ["git_repository_url", "git_commit_hash", "patchset_hash", "message_id"] { #expect(kept[field] == nil, "\(field)") }
        #expect(kept["misc"]?["git_repository"] == .string("git@example.org:linux.git"))
        #expect(kept["misc"]?["git_commit"] == .string("abc123"))
        // No checkout known: no git fields at all.
        let plain = try #require(try KCIDBWriter().document(for: factsSet)["checkouts"]?.arrayValue?.first)
        #expect(plain["git_commit_hash"] == nil && plain["patchset_hash"] == nil)
    }

    @Test func patchsetHashIsSHA256OverThePatchesSHA256s() throws {
        #expect(KCIDBWriter.patchsetHash([]) == "")
        let patches = ["first patch\n", "second, é 😀\n"]
        let each = try patches.map { try sha256sum(Array($0.utf8)) }
        #expect(KCIDBWriter.patchsetHash(patches) == (try sha256sum(Array(each.map { $0 + "\n" }.joined().utf8))))
        #expect(KCIDBWriter.patchsetHash(patches) != KCIDBWriter.patchsetHash(patches.reversed()))
    }

    @Test("SHA-256 agrees with coreutils at every padding boundary",
          arguments: [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 100_003])
    func sha256(length: Int) throws {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
        #expect(SHA256.hex(bytes) == (try sha256sum(bytes)))
    }

    @Test func badOriginOrBuild() {
        #expect(reportError { _ = try KCIDBWriter(origin: "HMMKit") }?.kind == .badOption)
        #expect(reportError { _ = try KCIDBWriter(origin: "") }?.kind == .badOption)
        #expect(reportError { _ = try KCIDBWriter(buildID: "no-colon") }?.kind == .badOption)
        #expect(reportError { _ = try KCIDBWriter(buildID: "Caps:1") }?.kind == .badOption)
    }

    @Test func longDiagnosticsKeepTheirEndWithin16KiB() throws {
        let lines = (0..<5000).map { "line \($0) 😀" }
        let excerpt = KCIDBWriter.excerpt(lines)
        #expect(excerpt.utf8.count <= KCIDBWriter.excerptLimit)
        #expect(excerpt.utf8.count > KCIDBWriter.excerptLimit - 4)  // cut between characters, no more
        #expect(excerpt.hasPrefix("[… earlier lines cut]\n"))
        #expect(excerpt.hasSuffix("line 4999 😀\n"))
        let short = KCIDBWriter.excerpt(["a", "b"])
        #expect(short == "a\nb\n")
    }
}

/// `sha256sum`'s digest of `bytes`: an implementation independent of hmmkit's.
func sha256sum(_ bytes: [UInt8]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["sha256sum"]
    let input = Pipe()
    let output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    try process.run()
    let writer = Thread {
        input.fileHandleForWriting.write(Data(bytes))
        try? input.fileHandleForWriting.close()
    }
    writer.start()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return String(text.prefix { $0 != " " })
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
        let files = [("new json", json), ("new xml", junit), ("x", "/nonexistent-dir/r.kcidb.json")]
        #expect(reportError { try AtomicFile.write(files) } != nil)
        #expect(try String(contentsOfFile: json, encoding: .utf8) == "old json")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["r.json"])
        try AtomicFile.write([("new json", json), ("new xml", junit)])
        #expect(try String(contentsOfFile: junit, encoding: .utf8) == "new xml")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["r.json", "r.xml"])
    }

    @Test func aDirectoryInTheWayOfALaterFileReplacesNoEarlierOne() throws {
        let dir = try temporaryDirectory()
        let json = dir.appendingPathComponent("r.json").path
        let taken = dir.appendingPathComponent("r.xml").path
        try AtomicFile.write("old json", to: json)
        try FileManager.default.createDirectory(atPath: taken, withIntermediateDirectories: false)
        // Found while staging, not after r.json was renamed into place.
        let e = try #require(reportError { try AtomicFile.write([("new json", json), ("new xml", taken)]) })
        #expect(e.description.contains("r.xml: cannot write: is a directory"))
        #expect(try String(contentsOfFile: json, encoding: .utf8) == "old json")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["r.json", "r.xml"])
    }

    @Test func anInPlaceTargetIsWrittenBeforeAnyFileIsReplaced() throws {
        let dir = try temporaryDirectory()
        let json = dir.appendingPathComponent("r.json").path
        try AtomicFile.write("old json", to: json)
        // /dev/full opens but every write fails: r.json must still be the old one.
        let e = try #require(reportError { try AtomicFile.write([("new json", json), ("ktap", "/dev/full")]) })
        #expect(e.description.hasPrefix("/dev/full: cannot write: write"))
        #expect(try String(contentsOfFile: json, encoding: .utf8) == "old json")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["r.json"])
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
