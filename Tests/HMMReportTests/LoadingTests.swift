import Foundation
import KTAP
import Testing
@testable import HMMReport

@Suite("loading results")
struct LoadingTests {
    /// What each saved log loads to: test count, status counts, and a few named tests.
    struct Expectation: Sendable, CustomTestStringConvertible {
        var log: String
        var count: Int
        var counts: [TestStatus: Int]
        var samples: [String: TestStatus]
        var testDescription: String { log }
    }

    static let complete: [Expectation] = [
        Expectation(log: "hmm-tests-6.12-nomodule.log", count: 58, counts: [.fail: 29, .skip: 29],
                    samples: ["hmm.hmm_device_private.open_close": .fail, "hmm2.hmm2_device_coherent.double_map": .skip]),
        // 6.1's harness prints a SKIP notice and then a plain ok: read as the skip it is.
        Expectation(log: "hmm-tests-6.1-nomodule.log", count: 58, counts: [.fail: 29, .skip: 29],
                    samples: ["hmm.hmm_device_coherent.open_close": .skip]),
        Expectation(log: "hmm-tests-6.12.117-qemu.log", count: 58, counts: [.pass: 58],
                    samples: ["hmm.hmm_device_coherent.hmm_gup_test": .pass]),
        Expectation(log: "hmmkit-run-6.12.117-qemu.log", count: 58, counts: [.pass: 58],
                    samples: ["hmm2.hmm2_device_coherent.snapshot": .pass]),
        // The runner's own result is a test too, beside the 58 nested ones.
        Expectation(log: "run_vmtests-hmm-6.12-synthetic.log", count: 59, counts: [.pass: 28, .skip: 31],
                    samples: ["test_hmm.sh smoke": .pass, "hmm.hmm_device_private.hmm_gup_test": .skip]),
        Expectation(log: "run_vmtests-hmm-nomodule.log", count: 1, counts: [.skip: 1], samples: ["test_hmm.sh smoke": .skip]),
        // The runner killed run_vmtests.sh in test 24 and said so: a complete log of an incomplete run.
        Expectation(log: "runner-run_vmtests-timeout-synthetic.log", count: 24, counts: [.pass: 22, .skip: 1, .timeout: 1],
                    samples: ["selftests: mm: run_vmtests.sh": .timeout, "hmm.hmm_device_private.exclusive_mprotect": .pass]),
    ]

    @Test("every saved log is covered here", arguments: fixtureLogNames)
    func covered(_ log: String) {
        let truncated = ["hmm-tests-6.12-truncated-synthetic.log"]
        #expect(Self.complete.contains { $0.log == log } || truncated.contains(log), "add \(log) to LoadingTests")
    }

    @Test("each complete saved log loads", arguments: complete)
    func loads(_ expected: Expectation) throws {
        let set = try ResultSet.load(path: fixturePath(expected.log))
        #expect(set.tests.count == expected.count)
        #expect(set.counts == expected.counts)
        for (name, status) in expected.samples {
            #expect(set.test(named: name)?.status == status, "\(name)")
        }
        #expect(set.tool == .kselftest)  // none of these carries hmmkit's header line
        #expect(set.hmmkitVersion == HMMKitVersion.current)  // nor its version: the reader's stands in
        #expect(set.kernelRelease == nil)
        #expect(set.warnings.isEmpty)
        #expect(set.source == fixturePath(expected.log))
        #expect(Set(set.tests.map(\.name)).count == set.tests.count)
    }

    @Test func reasonsAndDiagnosticsAreKept() throws {
        let set = try ResultSet.load(path: fixturePath("hmm-tests-6.12-nomodule.log"))
        let failed = try #require(set.test(named: "hmm.hmm_device_private.anon_read"))
        #expect(failed.diagnostics.contains("anon_read: Test terminated by assertion"))
        let skipped = try #require(set.test(named: "hmm.hmm_device_coherent.open_close"))
        #expect(skipped.reason == "DEVICE_COHERENT not available")
    }

    @Test func hmmkitHeaderGivesToolKernelProfileAndStart() throws {
        let header = ResultSet.ktapHeaderLine(kernelRelease: "6.12.117-hmmkit", profile: "linux-6.12",
                                              startedAt: Date(timeIntervalSince1970: 1_767_323_045))
        #expect(header == "hmmkit: kernel release 6.12.117-hmmkit, profile linux-6.12, started 2026-01-02T03:04:05Z")
        let text = try fixtureText("hmmkit-run-6.12.117-qemu.log")
            .replacingOnce("# Starting 58 tests from 4 test cases.\n", with: "# Starting 58 tests from 4 test cases.\n# \(header)\n")
        let set = try ResultSet.parse(text)
        #expect(set.tool == .hmmkit)
        #expect(set.kernelRelease == "6.12.117-hmmkit")
        #expect(set.profile == "linux-6.12")
        #expect(set.startedAt == Date(timeIntervalSince1970: 1_767_323_045))
        #expect(set.tests.count == 58)
    }

    @Test func theVersionLineAfterThePlanNamesTheHmmkitThatRan() throws {
        let line = ResultSet.ktapVersionLine("0.1.9+0123abcd")
        #expect(line == "hmmkit version: 0.1.9+0123abcd")
        #expect(ResultSet.ktapVersionLine() == "hmmkit version: " + HMMKitVersion.current)
        let text = try fixtureText("hmmkit-run-6.12.117-qemu.log").replacingOnce("1..58\n", with: "1..58\n# \(line)\n")
        let set = try ResultSet.parse(text)
        #expect(set.hmmkitVersion == "0.1.9+0123abcd")
        #expect(set.tool == .hmmkit)
        #expect(set.tests.count == 58)
        // It travels through results JSON; the first line wins, as for the header.
        #expect(try ResultSet.fromJSON(set.jsonText).hmmkitVersion == "0.1.9+0123abcd")
        let resumed = text.replacingOnce("ok 2 ", with: "# \(ResultSet.ktapVersionLine("9.9.9"))\nok 2 ")
        #expect(try ResultSet.parse(resumed).hmmkitVersion == "0.1.9+0123abcd")
    }

    @Test func headerLinesCarryTheMachineFactsAndReadBack() throws {
        var facts = ResultSet(tool: .hmmkit, kernelRelease: "6.12.117", profile: "linux-6.12",
                              startedAt: Date(timeIntervalSince1970: 1_767_323_045), architecture: "x86_64",
                              compiler: "gcc (Debian 12.2.0-14) 12.2.0", configName: "defconfig+distro.config",
                              machine: "nodes 0 (CPUs 0 1, 2048 MiB) 1 (no CPUs, 512 MiB); THP madvise",
                              warnings: ["kernel-log check off: open(/dev/kmsg): EACCES"])
        let lines = facts.ktapHeaderLines
        #expect(lines.first == "hmmkit: kernel release 6.12.117, profile linux-6.12, started 2026-01-02T03:04:05Z, arch x86_64")
        #expect(lines.contains("hmmkit: compiler: gcc (Debian 12.2.0-14) 12.2.0"))
        #expect(lines.last == "hmmkit: warning: kernel-log check off: open(/dev/kmsg): EACCES")
        let header = lines.map { "# " + $0 + "\n" }.joined()
        let text = try fixtureText("hmmkit-run-6.12.117-qemu.log")
            .replacingOnce("# Starting 58 tests from 4 test cases.\n", with: "# Starting 58 tests from 4 test cases.\n" + header)
        let set = try ResultSet.parse(text)
        #expect(set.tool == .hmmkit)
        for (field, name) in [(\ResultSet.kernelRelease, "release"), (\.profile, "profile"), (\.architecture, "architecture"),
                              (\.compiler, "compiler"), (\.configName, "config"), (\.machine, "machine")] {
            #expect(set[keyPath: field] == facts[keyPath: field], "\(name)")
        }
        #expect(set.startedAt == facts.startedAt)
        #expect(set.warnings == facts.warnings)
        // Through results JSON too.
        #expect(try ResultSet.fromJSON(set.jsonText).machine == facts.machine)
        #expect(try ResultSet.fromJSON(set.jsonText).configName == facts.configName)
        // A value with a line break or spaces where one word belongs stays on its line.
        facts.compiler = "gcc\n12"
        facts.architecture = "x86 64"
        #expect(facts.ktapHeaderLines.contains("hmmkit: compiler: gcc 12"))
        #expect(facts.ktapHeaderLines.first?.hasSuffix("arch x86_64") == true)
    }

    @Test func checksThatCouldNotRunBecomeWarnings() throws {
        let header = ResultSet.ktapHeaderLine(kernelRelease: "6.12.118", profile: "linux-6.12", startedAt: Date(timeIntervalSince1970: 0))
        let gap = "kernel-log check off (a WARN, BUG or oops during a test goes unseen): open(/dev/kmsg): EACCES"
        let text = try fixtureText("hmmkit-run-6.12.117-qemu.log")
            .replacingOnce("# Starting 58 tests from 4 test cases.\n",
                           with: "# Starting 58 tests from 4 test cases.\n# \(header)\n# hmmkit: warning: \(gap)\n")
        let set = try ResultSet.parse(text)
        #expect(set.warnings == [gap])
        #expect(set.kernelRelease == "6.12.118")
        #expect(set.tests.count == 58)
    }

    @Test func plainKernelLinesGiveTheRelease() throws {
        for line in ["# kernel: 6.1.0-31-amd64", "# kernel release: 6.1.0-31-amd64"] {
            let set = try ResultSet.parse("TAP version 13\n1..1\n\(line)\nok 1 a.b.c\n")
            #expect(set.kernelRelease == "6.1.0-31-amd64", "\(line)")
            #expect(set.tool == .kselftest)
        }
        // A test's own output saying "kernel:" is not the run's header.
        let later = try ResultSet.parse("TAP version 13\n1..2\nok 1 a.b.c\n# kernel: 9.9\nok 2 a.b.d\n")
        #expect(later.kernelRelease == nil)
    }

    @Test func durationsFromHmmkitDiagnostics() throws {
        let text = """
            TAP version 13
            1..2
            #  RUN           hmm.v.a ...
            # duration: 1.250s
            #            OK  hmm.v.a
            ok 1 hmm.v.a
            #  RUN           hmm.v.b ...
            #            OK  hmm.v.b
            ok 2 hmm.v.b
            # Totals: pass:2 fail:0 xfail:0 xpass:0 skip:0 error:0

            """
        let set = try ResultSet.parse(text)
        #expect(set.test(named: "hmm.v.a")?.duration == 1.25)
        #expect(set.test(named: "hmm.v.b")?.duration == nil)
        #expect(set.totalDuration == 1.25)
    }

    @Test func kunitStyleNestingQualifiesUndottedNames() throws {
        let text = """
            KTAP version 1
            1..1
                KTAP version 1
                # Subtest: hmm_suite
                1..2
                ok 1 first
                not ok 2 second # TIMEOUT 30 seconds
            not ok 1 hmm_suite

            """
        let set = try ResultSet.parse(text)
        #expect(set.tests.map(\.name) == ["hmm_suite.first", "hmm_suite.second", "hmm_suite"])
        #expect(set.test(named: "hmm_suite.second")?.status == .timeout)
        #expect(set.test(named: "hmm_suite.second")?.reason == "30 seconds")
    }

    @Test func wholeRunSkipped() throws {
        let set = try ResultSet.parse("TAP version 13\n1..0 # SKIP test_hmm not loaded\n")
        #expect(set.tests.isEmpty)
        #expect(set.skipReason == "test_hmm not loaded")
    }

    @Test func truncatedLogLoadsWhenAllowed() throws {
        let set = try ResultSet.load(path: fixturePath("hmm-tests-6.12-truncated-synthetic.log"),
                                     options: LoadOptions(allowIncomplete: true))
        #expect(set.tests.count == 13)
        // The test the log stops in (a panic here) is an error, not simply absent.
        #expect(set.tests.last == .init(name: "hmm.hmm_device_private.migrate_file_private", status: .error,
                                        reason: "no result: the log stops during this test"))
        #expect(set.warnings.count == 2)
        #expect(set.warnings.allSatisfy { $0.contains("truncated-synthetic.log:") })
        // The warnings travel with the results.
        #expect(try ResultSet.fromJSON(set.jsonText).warnings == set.warnings)
    }
}

@Suite("results JSON")
struct ResultsJSONTests {
    @Test("every saved log survives KTAP → JSON → results", arguments: fixtureLogNames)
    func roundTrip(_ log: String) throws {
        var set = try ResultSet.load(path: fixturePath(log), options: LoadOptions(allowIncomplete: true))
        set.startedAt = Date(timeIntervalSince1970: 1_767_323_045)
        set.kernelRelease = "6.12.117"
        let again = try ResultSet.parse(set.jsonText, file: "again.json")
        set.source = "again.json"
        #expect(again == set)
    }

    @Test func documentedShape() throws {
        let set = ResultSet(
            tool: .hmmkit, kernelRelease: "6.12.117", profile: "linux-6.12", startedAt: Date(timeIntervalSince1970: 0),
            tests: [
                .init(name: "hmm.hmm_device_private.migrate", status: .pass, duration: 0.012),
                .init(name: "hmm.hmm_device_coherent.migrate", status: .skip, reason: "no SPM", diagnostics: ["a \"quoted\"\tline"]),
            ])
        #expect(set.jsonText == """
            {
              "format": "hmmkit-results",
              "version": 1,
              "tool": "hmmkit",
              "hmmkit_version": "\(HMMKitVersion.current)",
              "kernel_release": "6.12.117",
              "profile": "linux-6.12",
              "started_at": "1970-01-01T00:00:00Z",
              "tests": [
                {
                  "name": "hmm.hmm_device_private.migrate",
                  "status": "pass",
                  "duration": 0.012
                },
                {
                  "name": "hmm.hmm_device_coherent.migrate",
                  "status": "skip",
                  "reason": "no SPM",
                  "diagnostics": [
                    "a \\"quoted\\"\\tline"
                  ]
                }
              ]
            }

            """)
    }

    @Test func unknownMembersAreIgnored() throws {
        let set = try ResultSet.fromJSON("""
            {"format": "hmmkit-results", "version": 1, "tool": "kselftest", "future": {"x": [1, 2.5e3, null, true]},
             "tests": [{"name": "a.b.c", "status": "xfail", "extra": "ok"}]}
            """)
        #expect(set.tests == [.init(name: "a.b.c", status: .xfail)])
        #expect(set.hmmkitVersion == HMMKitVersion.current)  // results from before 0.2.0 do not say
        let numeric = #"{"format": "hmmkit-results", "version": 1, "tool": "hmmkit", "hmmkit_version": 2, "tests": []}"#
        #expect(reportError { _ = try ResultSet.fromJSON(numeric) }?
            .message == "\"hmmkit_version\" must be a string")
    }

    @Test func jsonEscapesAndUnicodeRoundTrip() throws {
        let strange = "tab\t nul\u{0} esc\u{1B}[31m é 😀 \\ \" /"
        let value = JSONValue.array([.string(strange), .number(-1.5e-7), .number(42), .bool(false), .null])
        #expect(try JSONValue.parse(value.rendered()) == value)
        #expect(try JSONValue.parse(value.rendered(pretty: false)) == value)
        #expect(try JSONValue.parse(#"["\ud83d\ude00\u00e9\/"]"#) == .array([.string("😀é/")]))
    }
}
