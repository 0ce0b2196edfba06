import Foundation
import Testing
@testable import HMMReport

/// Every way a results file can be unusable gives a ReportError that names the file, the
/// line when there is one, and the problem.
@Suite("bad input")
struct BadInputTests {
    func error(_ text: String, file: String = "run.log") -> ReportError? {
        reportError { _ = try ResultSet.parse(text, file: file) }
    }

    @Test func hugeDurationsAreNotDurations() throws {
        for huge in ["1e300", "9223372036854775807", "inf"] {
            let set = try ResultSet.parse("TAP version 13\n1..1\n# duration: \(huge)s\nok 1 hmm.a.b\n")
            #expect(set.tests.first?.duration == nil, "'\(huge)' taken as a duration")
        }
    }

    @Test func resultsJSONRefusesHugeDurationsAndNamesWithNewlines() throws {
        let base = #"{"format":"hmmkit-results","version":1,"tool":"hmmkit","tests":[{"name":NAME,"status":"pass"DURATION}]}"#
        let huge = try #require(error(base.replacingOccurrences(of: "NAME", with: #""a.b""#)
            .replacingOccurrences(of: "DURATION", with: #","duration":1e400"#), file: "r.json"))
        #expect(huge.description == "r.json:1: invalid JSON: number '1e400' is out of range")
        let newline = try #require(error(base.replacingOccurrences(of: "NAME", with: #""a.b\nnot ok 3 x""#)
            .replacingOccurrences(of: "DURATION", with: ""), file: "r.json"))
        #expect(newline.kind == .badTestName)
        #expect(newline.description.contains("control character"))
    }

    @Test func notKTAP() throws {
        let e = try #require(error("Linux version 6.12.117\nhello world\n"))
        #expect(e.kind == .notKTAP)
        #expect(e.description == "run.log:1: not KTAP: no 'TAP version' or 'KTAP version' line and no 'ok'/'not ok' results")
    }

    @Test func emptyFile() throws {
        let e = try #require(error(" \n\n"))
        #expect(e.kind == .notKTAP)
        #expect(e.description.contains("empty file"))
    }

    @Test func binaryFile() throws {
        let dir = try temporaryDirectory()
        let path = dir.appendingPathComponent("vmlinuz").path
        try Data([0x7F, 0x45, 0x4C, 0x46, 0xFF, 0xFE, 0x00, 0x80]).write(to: URL(fileURLWithPath: path))
        let e = try #require(reportError { _ = try ResultSet.load(path: path) })
        #expect(e.kind == .notKTAP)
        #expect(e.description.hasPrefix(path + ":1: not text"))
    }

    @Test func missingFile() throws {
        let e = try #require(reportError { _ = try ResultSet.load(path: "/nonexistent/base.log") })
        #expect(e.kind == .io)
        #expect(e.description.hasPrefix("/nonexistent/base.log: cannot read"))
    }

    @Test func resultsWithoutVersionLine() throws {
        let e = try #require(error("garbage\nok 1 a.b.c\n1..1\n"))
        #expect(e.kind == .malformedKTAP)
        #expect(e.line == 2)
    }

    @Test func cutOffDuringATest() throws {
        let e = try #require(reportError { _ = try ResultSet.load(path: fixturePath("hmm-tests-6.12-truncated-synthetic.log")) })
        #expect(e.kind == .truncated)
        #expect(e.line == 42)
        #expect(e.description.hasSuffix(
            "hmm-tests-6.12-truncated-synthetic.log:42: test 'hmm.hmm_device_private.migrate_file_private' "
                + "started here but has no result line: the log stops during it"))
    }

    @Test func fewerResultsThanPlanned() throws {
        // Cut right after test 3's result line: no test is running, the plan says 58.
        let text = try fixtureText("hmm-tests-6.12.117-qemu.log")
        let lines = text.split(separator: "\n")
        let cut = try #require(lines.firstIndex(of: "ok 3 hmm.hmm_device_private.anon_read_prot"))
        let e = try #require(error(text.firstLines(cut + 1)))
        #expect(e.kind == .truncated)
        #expect(e.line == cut + 1)
        #expect(e.message == "planned 58 tests but found 3 results: the log is cut off")
    }

    @Test func trailingPlanNeverArrived() throws {
        // run_vmtests.sh prints its plan last; without it (and with no Totals) the end is unknown.
        let text = try fixtureText("run_vmtests-hmm-6.12-synthetic.log")
        let cut = text.replacingOnce("# SUMMARY: PASS=1 SKIP=0 FAIL=0\n1..1\n", with: "")
        let e = try #require(error(cut))
        #expect(e.kind == .truncated)
        #expect(e.message.contains("no plan line ('1..N') and no closing '# Totals:' line"))
        // With a closing Totals the same log is complete.
        let closed = cut + "# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0\n"
        #expect(try ResultSet.parse(closed).tests.count == 59)
    }

    @Test func bailOut() throws {
        let e = try #require(error("TAP version 13\nBail out! could not load test_hmm: ENOENT\n"))
        #expect(e.kind == .bailOut)
        #expect(e.line == 2)
        #expect(e.message == "the run bailed out: could not load test_hmm: ENOENT")
    }

    @Test func twoRunsInOneFile() throws {
        let one = try fixtureText("hmm-tests-6.12.117-qemu.log")
        let e = try #require(error(one + one))
        #expect(e.kind == .malformedKTAP)
        #expect(e.line == 180)
        #expect(e.message.contains("more than one run"))
    }

    @Test func moreResultsThanPlanned() throws {
        let e = try #require(error("TAP version 13\n1..1\nok 1 a.b.c\nok 2 a.b.d\n"))
        #expect(e.kind == .malformedKTAP)
        #expect(e.line == 2)
    }

    @Test func numbersOutOfOrder() throws {
        let e = try #require(error("TAP version 13\n1..3\nok 1 a.b.c\nok 3 a.b.d\nok 2 a.b.e\n"))
        #expect(e.kind == .malformedKTAP)
        #expect(e.line == 4)
        #expect(e.message.contains("expected test 2, found test 3"))
    }

    @Test func totalsDisagree() throws {
        let e = try #require(error("TAP version 13\n1..1\nok 1 a.b.c\n# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0\n"))
        #expect(e.kind == .malformedKTAP)
        #expect(e.line == 4)
    }

    @Test func sameTestTwice() throws {
        let e = try #require(error("TAP version 13\n1..2\nok 1 a.b.c\nnot ok 2 a.b.c\n"))
        #expect(e.kind == .badTestName)
        #expect(e.line == 4)
        #expect(e.message == "test 'a.b.c' reported twice (first at line 3)")
    }

    @Test func resultWithoutName() throws {
        let e = try #require(error("TAP version 13\n1..1\nok 1\n"))
        #expect(e.kind == .badTestName)
        #expect(e.line == 3)
    }

    @Test func unsupportedVersion() throws {
        let e = try #require(error("TAP version 12\n1..1\nok 1 a\n"))
        #expect(e.kind == .malformedKTAP)
        #expect(e.line == 1)
    }

    // MARK: JSON

    @Test func invalidJSONNamesTheLine() throws {
        let e = try #require(error("{\n  \"format\": \"hmmkit-results\",\n  \"version\": 1,,\n}", file: "r.json"))
        #expect(e.kind == .badJSON)
        #expect(e.description.hasPrefix("r.json:3: invalid JSON"))
    }

    @Test func jsonOfAnotherFormat() throws {
        let other = try #require(error(#"{"format": "hmmkit-comparison", "version": 1}"#, file: "c.json"))
        #expect(other.kind == .wrongFormat)
        #expect(other.description == #"c.json:1: not hmmkit results: "format" is "hmmkit-comparison", expected "hmmkit-results""#)
        let kcidb = try #require(error(#"{"version": {"major": 5, "minor": 3}, "tests": []}"#))
        #expect(kcidb.kind == .wrongFormat)
        #expect(kcidb.message.contains("KCIDB"))
        let noFormat = try #require(error(#"{"tests": []}"#))
        #expect(noFormat.kind == .wrongFormat)
        let notObject = try #require(error("[1]"))
        #expect(notObject.kind == .notKTAP || notObject.kind == .wrongFormat)
    }

    @Test func newerVersion() throws {
        let e = try #require(error(#"{"format": "hmmkit-results", "version": 2, "tool": "hmmkit", "tests": []}"#, file: "new.json"))
        #expect(e.kind == .unsupportedVersion)
        #expect(e.description == "new.json:1: hmmkit results version 2 come from a newer hmmkit; this one reads up to version 1")
    }

    @Test func missingOrWrongMembers() throws {
        let cases: [(String, String)] = [
            (#"{"format": "hmmkit-results", "version": 1, "tests": []}"#, #""tool" is missing"#),
            (#"{"format": "hmmkit-results", "version": 1, "tool": "pytest", "tests": []}"#, #""tool" is "pytest""#),
            (#"{"format": "hmmkit-results", "version": 1.5, "tool": "hmmkit", "tests": []}"#, #""version" must be a whole number"#),
            (#"{"format": "hmmkit-results", "version": 1, "tool": "hmmkit"}"#, #""tests" is missing"#),
            (#"{"format": "hmmkit-results", "version": 1, "tool": "hmmkit", "tests": [{"name": "a"}]}"#, "tests[0].status is missing"),
            (#"{"format": "hmmkit-results", "version": 1, "tool": "hmmkit", "tests": [{"name": "a", "status": "passed"}]}"#,
             #"tests[0].status is "passed""#),
            (#"{"format": "hmmkit-results", "version": 1, "tool": "hmmkit", "tests": [{"name": "a", "status": "pass", "duration": -1}]}"#,
             "tests[0].duration must be a number"),
            (#"{"format": "hmmkit-results", "version": 1, "tool": "hmmkit", "started_at": "yesterday", "tests": []}"#,
             "not an RFC 3339 time"),
            (#"{"format": "hmmkit-results", "version": 1, "tool": "hmmkit", "#
                + #""tests": [{"name": "a", "status": "pass", "diagnostics": [1]}]}"#,
             "tests[0].diagnostics[0] must be a string"),
        ]
        for (json, message) in cases {
            let e = try #require(error(json, file: "r.json"), "\(json)")
            #expect(e.kind == .wrongFormat, "\(json)")
            #expect(e.description.contains(message), "\(e.description)")
        }
        let twice = try #require(error(#"{"format": "hmmkit-results", "version": 1, "tool": "hmmkit", "#
                                       + #""tests": [{"name": "a", "status": "pass"}, {"name": "a", "status": "fail"}]}"#))
        #expect(twice.kind == .badTestName)
    }

    @Test func jsonContentErrorsNameTheirLine() throws {
        let json = "{\n\"format\": \"hmmkit-results\",\n\"version\": 1,\n\"tool\": \"hmmkit\",\n\"tests\": [\n"
            + "{\"name\": \"a.b\", \"status\": \"pass\"},\n{\"name\": \"a.c\",\n \"status\": \"passed\"}\n]}\n"
        let e = try #require(error(json, file: "r.json"))
        #expect(e.description.hasPrefix("r.json:8: tests[1].status is \"passed\""), "\(e.description)")
    }

    @Test func jsonRefusesRepeatedMembersAndHugeNumbers() throws {
        let twice = try #require(error(#"{"format": "hmmkit-results", "format": "x", "version": 1, "tool": "hmmkit", "tests": []}"#,
                                       file: "r.json"))
        #expect(twice.kind == .badJSON)
        #expect(twice.description.contains(#"member "format" appears twice"#))
        for number in ["1e400", "-1e400", "1e99999999999999999999"] {
            let e = try #require(error(#"{"format": "hmmkit-results", "version": "# + number + "}", file: "r.json"))
            #expect(e.description.contains("out of range"), "\(number): \(e.description)")
        }
    }

    @Test func ktapLimits() throws {
        var deep = "KTAP version 1\n1..1\n"
        for level in 1...20 { deep += String(repeating: "    ", count: level) + "KTAP version 1\n" }
        let e = try #require(error(deep))
        #expect(e.description
                == "run.log:19: a block nested more than \(ResultLimits.nesting) deep (hmmkit reads \(ResultLimits.nesting) levels)")
        let long = try #require(error("TAP version 13\n1..1\n# " + String(repeating: "x", count: ResultLimits.lineBytes) + "\nok 1 a.b\n"))
        #expect(long.description.hasPrefix("run.log:3: line is"))
        let control = try #require(error("TAP version 13\n1..1\nok 1 a.b\u{1B}[31m\n"))
        #expect(control.kind == .badTestName)
        #expect(control.description.hasPrefix("run.log:3: test name contains control character U+1B"))
        let huge = try #require(error(String(repeating: "#\n", count: ResultLimits.fileBytes / 2 + 1)))
        #expect(huge.description.hasPrefix("run.log:1: text is"))
    }

    /// At most ResultLimits.tests tests per set: KTAP, results JSON and a merge (a million
    /// tests cost the KCIDB writer over 2 GiB).
    @Test func atMostTheLimitOfTests() throws {
        func ktap(_ count: Int) -> String {
            "TAP version 13\n1..\(count)\n" + (1...count).map { "ok \($0) hmm.t.t\($0)\n" }.joined()
        }
        func json(_ names: some Sequence<Int>, prefix: String = "t") -> String {
            #"{"format": "hmmkit-results", "version": 1, "tool": "hmmkit", "tests": ["#
                + names.map { #"{"name": "hmm.t.\#(prefix)\#($0)", "status": "pass"}"# }.joined(separator: ",\n") + "]}\n"
        }
        let limit = ResultLimits.tests
        #expect(try ResultSet.parse(ktap(limit)).tests.count == limit)
        let over = try #require(error(ktap(limit + 1)))
        #expect(over.description == "run.log:\(limit + 3): more than \(limit) tests, over the limit hmmkit reads")
        #expect(try ResultSet.parse(json(1...limit), file: "r.json").tests.count == limit)
        let overJSON = try #require(error(json(1...(limit + 1)), file: "r.json"))
        #expect(overJSON.description == "r.json:\(limit + 1): \"tests\" holds \(limit + 1) tests, over the limit of \(limit)")
        // Two sets within the limit whose union is not.
        var a = try ResultSet.parse(json(1...(limit / 2 + 1), prefix: "a"), file: "a.json")
        var b = try ResultSet.parse(json(1...(limit / 2), prefix: "b"), file: "b.json")
        a.source = "a.json"
        b.source = "b.json"
        let merged = try #require(reportError { _ = try ResultSet.merging([a, b]) })
        #expect(merged.description.contains("the merged results hold \(limit + 1) tests, over the limit of \(limit)"))
    }
}

@Suite struct FormatSniffingTests {
    @Test(arguments: [("[    4.210331] Run /init as init process\nTAP version 13\n", true),
                      ("[12.5] x", true), ("[1, 2]", false), ("[ 4.2 ]", false), ("[", false), ("[]", false)])
    func consoleTimestampIsNotJSON(text: String, isConsole: Bool) {
        #expect(ResultSet.startsWithConsoleTimestamp(text) == isConsole)
    }
}
