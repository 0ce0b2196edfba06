import KTAP
import Testing

@Suite("KTAPWriter")
struct WriterTests {
    @Test("kselftest style matches the harness line for line")
    func kselftestStyle() {
        #expect(KTAPWriter.render(mixedDocument) == [
            "TAP version 13",
            "1..7",
            "# Starting 7 tests from 3 test cases.",
            "#  RUN           hmm.hmm_device_private.open_close ...",
            "#            OK  hmm.hmm_device_private.open_close",
            "ok 1 hmm.hmm_device_private.open_close",
            "#  RUN           hmm.hmm_device_private.migrate ...",
            "# hmm-tests.c:1000:migrate:Expected ret (-12) == 0 (0)",
            "# migrate: Test terminated by assertion",
            "#          FAIL  hmm.hmm_device_private.migrate",
            "not ok 2 hmm.hmm_device_private.migrate",
            "#  RUN           hmm.hmm_device_coherent.open_close ...",
            "#      SKIP      DEVICE_COHERENT not available",
            "#            OK  hmm.hmm_device_coherent.open_close",
            "ok 3 hmm.hmm_device_coherent.open_close # SKIP DEVICE_COHERENT not available",
            "#  RUN           hmm.hmm_device_private.compound ...",
            "#          FAIL  hmm.hmm_device_private.compound",
            "ok 4 hmm.hmm_device_private.compound # XFAIL 1 GiB pages",
            "#  RUN           hmm.hmm_device_private.anon_teardown ...",
            "#          FAIL  hmm.hmm_device_private.anon_teardown",
            "not ok 5 hmm.hmm_device_private.anon_teardown # TIMEOUT 30 seconds",
            "#  RUN           hmm.hmm_device_private.exclusive ...",
            "#          FAIL  hmm.hmm_device_private.exclusive",
            "not ok 6 hmm.hmm_device_private.exclusive # ERROR child vanished",
            "#  RUN           fixtures ...",
            "  KTAP version 1",
            "  # Subtest: fixtures",
            "  1..3",
            "  #  RUN           fixture.read_ro ...",
            "  #            OK  fixture.read_ro",
            "  ok 1 fixture.read_ro",
            "  #  RUN           fixture.write_prot ...",
            "  #          FAIL  fixture.write_prot",
            "  not ok 2 fixture.write_prot #  EPERM expected",
            "  #  RUN           fixture.thp ...",
            "  #      SKIP      no THP",
            "  #            OK  fixture.thp",
            "  ok 3 fixture.thp # SKIP no THP",
            "#          FAIL  fixtures",
            "not ok 7 fixtures",
            "# FAILED: 3 / 7 tests passed.",
            "# Totals: pass:1 fail:3 xfail:1 xpass:0 skip:1 error:1",
        ])
    }

    @Test("KTAP v1 style nests with two spaces per level")
    func ktapStyle() {
        let document = KTAPDocument(version: .ktap(1), cases: [
            .group("outer", [
                .group("inner", [KTAPTestCase(name: "leaf", status: .skip)]),
                KTAPTestCase(name: "sibling", status: .pass, diagnostics: ["note"]),
            ]),
        ])
        #expect(KTAPWriter.render(document) == [
            "KTAP version 1",
            "1..1",
            "  KTAP version 1",
            "  # Subtest: outer",
            "  1..2",
            "    KTAP version 1",
            "    # Subtest: inner",
            "    1..1",
            "    ok 1 leaf # SKIP",
            "  ok 1 inner # SKIP",
            "  # note",
            "  ok 2 sibling",
            "ok 1 outer",
            "# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0",
        ])
    }

    @Test("the observed 6.12 and 6.1 runs are reproduced from their parse, minus raw stderr")
    func reproducesHarness() throws {
        for (name, testCases) in [("hmm-tests-6.12-nomodule.log", 4), ("hmm-tests-6.1-nomodule.log", 5)] {
            let original = lines(try fixtureText(name))
            let document = KTAPParser.parse(original.joined(separator: "\n"))
            let unknown = Set(document.unknownLines.map(\.number))
            let expected = original.enumerated().filter { !unknown.contains($0.offset + 1) }.map(\.element)
            #expect(KTAPWriter.render(document, testCases: testCases) == expected, "\(name)")
        }
    }

    @Test("streaming: begin before the test runs, diagnostics while it runs, end after")
    func streaming() {
        var out: [String] = []
        var writer = KTAPWriter { out.append($0) }
        writer.start(plan: 2, testCases: 1)
        writer.begin("hmm.hmm_device_private.migrate")
        writer.diagnostic("first\r\nsecond")
        writer.end(KTAPTestCase(name: "hmm.hmm_device_private.migrate", status: .pass, reason: "slow"))
        writer.bailOut("VM died\nhard")
        let exit = writer.finish()
        #expect(out == [
            "TAP version 13",
            "1..2",
            "# Starting 2 tests from 1 test cases.",
            "#  RUN           hmm.hmm_device_private.migrate ...",
            "# first",
            "# second",
            "#            OK  hmm.hmm_device_private.migrate",
            "ok 1 hmm.hmm_device_private.migrate #  slow",
            "Bail out! VM died hard",
            "# PASSED: 1 / 1 tests passed.",
            "# Planned tests != run tests (2 != 1)",
            "# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0",
        ])
        #expect(exit == .fail)
    }

    @Test("names lose # and line breaks; reasons only line breaks")
    func sanitising() {
        var out: [String] = []
        var writer = KTAPWriter(style: .ktap) { out.append($0) }
        writer.write(KTAPTestCase(name: " bad#name\nsplit ", status: .skip, reason: "see #12\nlater"))
        #expect(out == ["ok 1 bad_name split # SKIP see #12 later"])
        #expect(KTAPWriter.sanitizedName("a#b\r\nc\td") == "a_b c\td")  // CRLF is one Character
    }

    @Test("durations are printed only on request")
    func durations() {
        let test = KTAPTestCase(name: "t", status: .pass, duration: .milliseconds(1_005))
        var plain: [String] = []
        var timed: [String] = []
        var a = KTAPWriter(style: .ktap) { plain.append($0) }
        var b = KTAPWriter(style: .ktap, includeDurations: true) { timed.append($0) }
        a.write(test)
        b.write(test)
        #expect(plain == ["ok 1 t"])
        #expect(timed == ["# duration: 1.005s", "ok 1 t"])
    }

    @Test("notes go right after the plan, before the harness's Starting line")
    func notesAfterThePlan() {
        var out: [String] = []
        var writer = KTAPWriter(style: .kselftest) { out.append($0) }
        writer.start(plan: 3, testCases: 2, notes: [ResultSetVersionLine.text])
        #expect(out == ["TAP version 13", "1..3", "# " + ResultSetVersionLine.text, "# Starting 3 tests from 2 test cases."])
        var ktap: [String] = []
        var plain = KTAPWriter(style: .ktap) { ktap.append($0) }
        plain.start(plan: nil, notes: ["a", "b"])
        #expect(ktap == ["KTAP version 1", "# a", "# b"])
    }

    @Test("the version is the release, plus +commit from HMMKIT_GIT_COMMIT")
    func version() {
        let release = HMMKitVersion.release
        #expect(release.split(separator: ".").count == 3 && release.split(separator: ".").allSatisfy { Int($0) != nil })
        #expect(HMMKitVersion.string(commit: nil) == release)
        #expect(HMMKitVersion.string(commit: "") == release)
        #expect(HMMKitVersion.string(commit: "0123abcd") == release + "+0123abcd")
        // Only what semver build metadata allows, on one line, bounded.
        #expect(HMMKitVersion.string(commit: " 0123abcd-dirty\n") == release + "+0123abcd-dirty")
        #expect(HMMKitVersion.string(commit: "a b#c/d") == release + "+abcd")
        #expect(HMMKitVersion.string(commit: "\n\t ") == release)
        #expect(HMMKitVersion.string(commit: String(repeating: "f", count: 500)) == release + "+" + String(repeating: "f", count: 64))
        #expect(HMMKitVersion.string(commit: "é😀") == release)
        #expect(HMMKitVersion.current.hasPrefix(release))
    }

    @Test("exit codes follow KSFT_PASS / KSFT_FAIL / KSFT_SKIP")
    func exitCodes() {
        #expect(KSFTExitCode(summarizing: [TestStatus.pass, .skip, .xfail, .xpass]) == .pass)
        #expect(KSFTExitCode(summarizing: [TestStatus.skip, .timeout]) == .fail)
        #expect(KSFTExitCode(summarizing: [TestStatus.error]) == .fail)
        #expect(KSFTExitCode(summarizing: [TestStatus.skip, .skip]) == .skip)
        #expect(KSFTExitCode(summarizing: [TestStatus]()) == .skip)
        #expect(KSFTExitCode.skip.rawValue == 4 && KSFTExitCode.fail.rawValue == 1)
        #expect(TestStatus(exitCode: 4) == .skip && TestStatus(exitCode: 139) == .fail)
        #expect(TestStatus.allCases.map(\.exitCode.rawValue) == [0, 1, 4, 2, 3, 1, 1])
        #expect(mixedDocument.exitCode == .fail)

        var writer = KTAPWriter(style: .ktap) { _ in }
        writer.start(plan: 1)
        writer.write(KTAPTestCase(name: "s", status: .skip))
        #expect(writer.finish() == .skip)
    }

    @Test("group status bubbles up: failures fail, skips do not")
    func aggregate() {
        #expect(TestStatus.aggregate([.pass, .skip]) == .pass)
        #expect(TestStatus.aggregate([.skip, .skip]) == .skip)
        #expect(TestStatus.aggregate([.pass, .timeout]) == .fail)
        #expect(TestStatus.aggregate([]) == .pass)
        #expect(KTAPWriter.testCaseCount(["a.b.c", "a.b.d", "a.e.c", "plain"]) == 3)
    }
}

/// The line hmmkit's runs print after the plan, as a writer would be given it.
private enum ResultSetVersionLine {
    static let text = "hmmkit version: " + HMMKitVersion.current
}
