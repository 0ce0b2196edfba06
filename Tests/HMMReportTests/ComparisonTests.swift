import Foundation
import KTAP
import Testing
@testable import HMMReport

@Suite("comparing runs")
struct ComparisonTests {
    static let healthy = "hmm-tests-6.12.117-qemu.log"
    static let noModule = "hmm-tests-6.12-nomodule.log"

    /// The healthy log with `migrate` failing, as the 6.12 harness would print it.
    static func regressedLog() throws -> String {
        try fixtureText(healthy)
            .replacingOnce("#            OK  hmm.hmm_device_private.migrate\nok 12 hmm.hmm_device_private.migrate\n", with: """
                # hmm-tests.c:1000:migrate:Expected ret (-12) == 0 (0)
                # migrate: Test terminated by assertion
                #          FAIL  hmm.hmm_device_private.migrate
                not ok 12 hmm.hmm_device_private.migrate

                """)
            .replacingOnce("# PASSED: 58 / 58 tests passed.\n# Totals: pass:58 fail:0",
                           with: "# FAILED: 57 / 58 tests passed.\n# Totals: pass:57 fail:1")
    }

    @Test func regressionFromAModifiedLog() throws {
        let base = try ResultSet.load(path: fixturePath(Self.healthy))
        let patched = try ResultSet.parse(try Self.regressedLog(), file: "patched.log")
        let c = try Comparison(base: base, patched: patched)
        #expect(c.isRegression)
        #expect(c.newFailures.map(\.name) == ["hmm.hmm_device_private.migrate"])
        #expect(c.newFailures.first?.patched?.diagnostics == [
            "hmm-tests.c:1000:migrate:Expected ret (-12) == 0 (0)", "migrate: Test terminated by assertion",
        ])
        #expect(c.unchangedCount == 57)
        #expect(c.fixed.isEmpty && c.skipChanges.isEmpty && c.appeared.isEmpty && c.disappeared.isEmpty)

        let text = c.text
        #expect(text.contains("REGRESSION: 1 new failure\n"))
        #expect(text.contains("New failures (1):\n  hmm.hmm_device_private.migrate: pass → fail\n"
            + "      hmm-tests.c:1000:migrate:Expected ret (-12) == 0 (0)\n"))
        #expect(text.contains("patched: patched.log: kselftest (kernel unknown); 58 tests: 57 pass, 1 fail"))
        #expect(text.hasSuffix("Unchanged: 57 tests\n"))
    }

    @Test func fixesAndSkipChanges() throws {
        let base = try ResultSet.load(path: fixturePath(Self.noModule))
        let patched = try ResultSet.load(path: fixturePath(Self.healthy))
        let c = try Comparison(base: base, patched: patched)
        #expect(!c.isRegression)
        #expect(c.fixed.count == 29)
        #expect(c.skipChanges.count == 29)
        let skip = try #require(c.skipChanges.first { $0.name == "hmm.hmm_device_coherent.migrate" })
        #expect(Comparison.transition(skip) == "  hmm.hmm_device_coherent.migrate: skip (DEVICE_COHERENT not available) → pass")
        #expect(c.text.contains("No regression.\n"))

        // And the other way round it is a regression of 29 tests.
        let back = try Comparison(base: patched, patched: base)
        #expect(back.isRegression)
        #expect(back.newFailures.count == 29)
        #expect(back.skipChanges.count == 29)
    }

    @Test func appearedAndDisappeared() throws {
        let base = try ResultSet.load(path: fixturePath(Self.healthy))
        var patched = base
        let gone = patched.tests.removeLast()
        patched.tests.append(.init(name: "hmm.hmm_device_private.new_test", status: .fail))
        let c = try Comparison(base: base, patched: patched)
        #expect(c.disappeared.map(\.name) == [gone.name])
        #expect(c.lostPasses.map(\.name) == [gone.name])
        #expect(c.appeared.map(\.name) == ["hmm.hmm_device_private.new_test"])
        #expect(c.newFailures.isEmpty)  // a test with no base result is not a regression by itself
        #expect(c.isRegression)  // but losing a passing test is
        #expect(c.text.contains("Missing (passed in base) (1):\n  hmm2.hmm2_device_coherent.double_map: pass → absent\n"))
        #expect(c.text.contains("Appeared (only in patched) (1):\n  hmm.hmm_device_private.new_test: absent → fail\n"))

        // A test that only skipped before may go without a regression.
        var skipped = base
        skipped.tests[skipped.tests.count - 1].status = .skip
        let quiet = try Comparison(base: skipped, patched: ResultSet(tool: .kselftest, tests: Array(base.tests.dropLast())))
        #expect(quiet.disappeared.count == 1)
        #expect(!quiet.isRegression)
        #expect(quiet.text.contains("Missing (did not pass in base) (1):"))
    }

    @Test func everyKindOfStatusChange() throws {
        func set(_ statuses: [(String, TestStatus, String?)]) -> ResultSet {
            ResultSet(tool: .hmmkit, tests: statuses.map { .init(name: $0.0, status: $0.1, reason: $0.2) })
        }
        let base = set([
            ("t.pass_fail", .pass, nil), ("t.pass_timeout", .pass, nil), ("t.skip_error", .skip, "no device"),
            ("t.xfail_fail", .xfail, nil), ("t.fail_pass", .fail, nil), ("t.timeout_xpass", .timeout, nil),
            ("t.skip_pass", .skip, "no THP"), ("t.pass_skip", .pass, nil), ("t.fail_skip", .fail, nil),
            ("t.skip_reason", .skip, "no THP"), ("t.skip_same", .skip, "no THP"), ("t.fail_timeout", .fail, nil),
            ("t.pass_xfail", .pass, nil), ("t.fail_fail", .fail, "a"),
        ])
        let patched = set([
            ("t.pass_fail", .fail, nil), ("t.pass_timeout", .timeout, "30 seconds"), ("t.skip_error", .error, "VM died"),
            ("t.xfail_fail", .fail, nil), ("t.fail_pass", .pass, nil), ("t.timeout_xpass", .xpass, nil),
            ("t.skip_pass", .pass, nil), ("t.pass_skip", .skip, "no THP"), ("t.fail_skip", .skip, "no THP"),
            ("t.skip_reason", .skip, "no NUMA"), ("t.skip_same", .skip, "no THP"), ("t.fail_timeout", .timeout, nil),
            ("t.pass_xfail", .xfail, nil), ("t.fail_fail", .fail, "b"),
        ])
        let c = try Comparison(base: base, patched: patched)
        #expect(c.newFailures.map(\.name) == ["t.pass_fail", "t.pass_timeout", "t.xfail_fail"])
        #expect(c.fixed.map(\.name) == ["t.fail_pass", "t.timeout_xpass"])
        // A test that skipped in the base has no baseline: running and failing now is a skip change.
        #expect(c.skipChanges.map(\.name) == ["t.skip_error", "t.skip_pass", "t.pass_skip", "t.fail_skip", "t.skip_reason"])
        #expect(c.otherChanges.map(\.name) == ["t.fail_timeout", "t.pass_xfail"])
        #expect(c.unchangedCount == 2)
        #expect(c.isRegression)
    }

    @Test func timingRule() {
        let rule = TimingRule()
        #expect(!rule.isChange(base: 0.1, patched: 0.3))  // 3× but only 0.2 s: jitter
        #expect(rule.isChange(base: 0.2, patched: 0.8))
        #expect(rule.isChange(base: 3, patched: 7))
        #expect(rule.isChange(base: 7, patched: 3))  // faster counts too
        #expect(!rule.isChange(base: 10, patched: 15))  // 5 s but only 1.5×
        #expect(rule.isChange(base: 0, patched: 0.5))
        #expect(!rule.isChange(base: 0, patched: 0.4))
        #expect(TimingRule(minimumSeconds: 0.1, minimumRatio: 1.5).isChange(base: 0.2, patched: 0.3))
        #expect(rule.description == "changed by at least 0.500 s and by a factor of at least 2")
    }

    @Test func timingChangesFromDurationLines() throws {
        func log(_ a: String, _ b: String, _ c: String) -> String {
            """
            TAP version 13
            1..3
            #  RUN           hmm.v.a ...
            # duration: \(a)s
            ok 1 hmm.v.a
            #  RUN           hmm.v.b ...
            # duration: \(b)s
            ok 2 hmm.v.b
            #  RUN           hmm.v.c ...
            # duration: \(c)s
            ok 3 hmm.v.c # SKIP no device

            """
        }
        let base = try ResultSet.parse(log("0.600", "2.000", "0.000"))
        let patched = try ResultSet.parse(log("2.400", "2.300", "5.000"))
        let c = try Comparison(base: base, patched: patched)
        #expect(c.timingChanges == [Comparison.TimingChange(name: "hmm.v.a", base: 0.6, patched: 2.4)])
        #expect(!c.isRegression)
        #expect(c.text.contains("  hmm.v.a: 0.600 s → 2.400 s (4× slower)\n"))
        let none = try Comparison(base: base, patched: patched, options: .init(timing: TimingRule(minimumSeconds: 5, minimumRatio: 2)))
        #expect(none.timingChanges.isEmpty)
    }

    @Test func differentKernelsAreTheNormalCase() throws {
        var base = try ResultSet.load(path: fixturePath(Self.healthy))
        var patched = base
        base.kernelRelease = "6.12.117"
        patched.kernelRelease = "6.13.0-rc1+"
        let c = try Comparison(base: base, patched: patched)
        #expect(!c.isRegression)
        #expect(c.text.hasPrefix("base:    " + fixturePath(Self.healthy) + ": kselftest on 6.12.117; 58 tests: 58 pass\n"))
    }

    @Test func differentToolsAreRefusedUnlessAllowed() throws {
        let base = try ResultSet.load(path: fixturePath(Self.healthy))
        var patched = base
        patched.tool = .hmmkit
        let e = try #require(reportError { _ = try Comparison(base: base, patched: patched) })
        #expect(e.kind == .incompatible)
        #expect(e.message.contains("different tools (kselftest and hmmkit)"))
        #expect(e.message.contains("--allow-different-tools"))
        let allowed = try Comparison(base: base, patched: patched, options: .init(allowDifferentTools: true))
        #expect(allowed.unchangedCount == 58)
    }

    @Test func differentFormatVersionsAreRefused() throws {
        let base = ResultSet(tool: .hmmkit, tests: [.init(name: "a.b.c", status: .pass)])
        var patched = base
        patched.formatVersion = 0
        let e = try #require(reportError { _ = try Comparison(base: base, patched: patched) })
        #expect(e.kind == .incompatible)
        #expect(e.message.contains("format versions 1 and 0"))
    }

    @Test func differentSuitesAreRefused() throws {
        let base = try ResultSet.load(path: fixturePath(Self.healthy))
        let other = ResultSet(tool: .kselftest, tests: [.init(name: "ltp.sem01", status: .pass)], source: "ltp.log")
        let e = try #require(reportError { _ = try Comparison(base: base, patched: other) })
        #expect(e.kind == .incompatible)
        #expect(e.message.contains("no test in common"))
        #expect(e.message.contains("'ltp.log'"))
    }

    @Test func jsonRendering() throws {
        let base = try ResultSet.load(path: fixturePath(Self.healthy))
        let patched = try ResultSet.parse(try Self.regressedLog(), file: "patched.log")
        let json = try Comparison(base: base, patched: patched).json
        let parsed = try JSONValue.parse(json.rendered())
        #expect(parsed["format"] == .string("hmmkit-comparison"))
        #expect(parsed["regression"] == .bool(true))
        #expect(parsed["new_failures"]?.arrayValue?.count == 1)
        #expect(parsed["new_failures"]?.arrayValue?.first?["name"] == .string("hmm.hmm_device_private.migrate"))
        #expect(parsed["new_failures"]?.arrayValue?.first?["base"]?["status"] == .string("pass"))
        #expect(parsed["new_failures"]?.arrayValue?.first?["patched"]?["diagnostics"]?.arrayValue?.count == 2)
        #expect(parsed["patched"]?["counts"]?["fail"] == .number(1))
        #expect(parsed["patched"]?["file"] == .string("patched.log"))
        #expect(parsed["timing_rule"]?["minimum_seconds"] == .number(0.5))
        #expect(parsed["unchanged"] == .number(57))
    }
}
