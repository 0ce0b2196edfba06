import KTAP
import Testing

@Suite("KTAPParser")
struct ParserTests {
    @Test("directives are case-insensitive; unknown ones fall back to ok / not ok")
    func directives() {
        let document = KTAPParser.parse("""
            KTAP version 1
            1..10
            ok 1 a # skip not here
            not ok 2 b # TODO later
            ok 3 c # todo
            not ok 4 d # timeout 45 seconds
            not ok 5 # error boom
            not ok 6 selftests: mm: e # exit=1
            ok 7 f # frobnicate
            ok 8 - g
            not ok 9 h # SKIP
            ok 10 i #  SKIP is only text here
            """)
        let got = document.cases.map { [$0.name, $0.status.rawValue, $0.reason ?? "-"] }
        #expect(got == [
            ["a", "skip", "not here"],
            ["b", "xfail", "later"],
            ["c", "xpass", "-"],
            ["d", "timeout", "45 seconds"],
            ["", "error", "boom"],
            ["selftests: mm: e", "fail", "exit=1"],
            ["f", "pass", "frobnicate"],
            ["g", "pass", "-"],
            ["h", "skip", "-"],
            ["i", "pass", "SKIP is only text here"],
        ])
        #expect(document.errors.isEmpty)
        #expect(document.version == .ktap(1))
        #expect(document.totals == KTAPTotals(pass: 3, fail: 2, xfail: 1, xpass: 1, skip: 2, error: 1))
    }

    @Test("diagnostics attach to the next result; #  RUN starts a fresh test")
    func diagnostics() {
        let document = KTAPParser.parse("""
            TAP version 13
            1..2
            # Starting 2 tests from 1 test cases.
            #  RUN           f.v.one ...
            # one says hi
            stray stderr line
            #            OK  f.v.one
            ok 1 f.v.one
            # about two
            not ok 2 f.v.two
            # FAILED: 1 / 2 tests passed.
            # Totals: pass:1 fail:1 xfail:0 xpass:0 skip:0 error:0
            """)
        #expect(document.cases.map(\.diagnostics) == [["one says hi"], ["about two"]])
        #expect(document.diagnostics == [
            "Starting 2 tests from 1 test cases.",
            "FAILED: 1 / 2 tests passed.",
            "Totals: pass:1 fail:1 xfail:0 xpass:0 skip:0 error:0",
        ])
        #expect(document.unknownLines == [KTAPLine(number: 6, text: "stray stderr line")])
        #expect(document.reportedTotals == KTAPTotals(pass: 1, fail: 1))
        #expect(document.errors.isEmpty)
        #expect(document.exitCode == .fail)
    }

    @Test("a trailing plan (run_vmtests.sh) and a 1..0 skip plan")
    func plans() {
        let trailing = KTAPParser.parse("TAP version 13\nok 1 a\nok 2 b # SKIP\n1..2")
        #expect(trailing.plan == 2 && trailing.errors.isEmpty && trailing.exitCode == .pass)

        let skipped = KTAPParser.parse("TAP version 13\n1..0 # SKIP test_hmm not built")
        #expect(skipped.plan == 0 && skipped.skipReason == "test_hmm not built")
        #expect(skipped.errors.isEmpty && skipped.exitCode == .skip)

        let twice = KTAPParser.parse("TAP version 13\n1..1\nok 1 a\n1..1")
        #expect(twice.errors.map(label) == ["duplicatePlan"])
    }

    @Test("garbled input is reported, not fatal")
    func errors() {
        let document = KTAPParser.parse("""
            ok 1 a
            ok 3 b
            ok 3 c
            # Totals: pass:9 fail:0 xfail:0 xpass:0 skip:0 error:0
            KTAP version 1
            1..2
            Bail out! no device
            """)
        #expect(document.errors.map(label) == [
            "unexpectedNumber", "duplicateNumber", "unexpectedVersion", "planMismatch", "totalsMismatch",
            "missingVersion",
        ])
        #expect(document.errors[0].kind == .unexpectedNumber(expected: 2, found: 3))
        #expect(document.errors[0].line == 2)
        #expect(document.errors[3].kind == .planMismatch(planned: 2, ran: 3))
        #expect(document.bailOut == "no device")
        #expect(document.exitCode == .fail)

        let future = KTAPParser.parse("KTAP version 2\n1..1\nok 1 a")
        #expect(future.errors.map(\.kind) == [.unsupportedVersion("KTAP version 2")])

        let noise = KTAPParser.parse("\u{1B}[0m\0\u{FFFD}ok\nnot okay\n1..x\n#\n\r\n")
        #expect(noise.cases.isEmpty && noise.errors.isEmpty && noise.unknownLines.count == 3)
    }

    @Test("KTAP v1 nesting by indentation, with unindented diagnostics for the parent")
    func indentationNesting() {
        let document = KTAPParser.parse("""
            KTAP version 1
            1..2
              KTAP version 1
              # Subtest: suite
              1..2
                KTAP version 1
                1..1
                # inner note
                ok 1 deep
              ok 1 middle
              not ok 2 other
            # suite failed
            not ok 1 suite
            ok 2 last # SKIP nothing to do
            """)
        #expect(document.errors.isEmpty)
        #expect(document.cases.map(\.name) == ["suite", "last"])
        let suite = document.cases[0]
        #expect(suite.diagnostics == ["suite failed"])
        #expect(suite.subtests?.map(\.name) == ["middle", "other"])
        #expect(suite.subtests?[0].subtests?[0] == KTAPTestCase(name: "deep", status: .pass, diagnostics: ["inner note"]))
        #expect(document.leafTotals == KTAPTotals(pass: 1, fail: 1, skip: 1))
    }

    @Test("runner nesting by '# ' prefix, two levels deep")
    func prefixNesting() {
        let document = KTAPParser.parse("""
            TAP version 13
            1..1
            # selftests: mm: run_vmtests.sh
            # TAP version 13
            # # running bash ./test_hmm.sh smoke
            # # TAP version 13
            # # 1..1
            # # #  RUN           hmm.hmm_device_private.migrate ...
            # # #            OK  hmm.hmm_device_private.migrate
            # # ok 1 hmm.hmm_device_private.migrate
            # # # Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0
            # [PASS]
            # ok 1 test_hmm.sh smoke
            # 1..1
            ok 1 selftests: mm: run_vmtests.sh
            """)
        #expect(document.errors.isEmpty)
        let runner = document.cases[0]
        #expect(runner.diagnostics == ["selftests: mm: run_vmtests.sh"])
        let vmtests = runner.subtests?[0]
        #expect(vmtests?.name == "test_hmm.sh smoke")
        #expect(vmtests?.diagnostics == ["running bash ./test_hmm.sh smoke",
                                         "Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0"])
        #expect(vmtests?.subtests == [KTAPTestCase(name: "hmm.hmm_device_private.migrate", status: .pass)])
        #expect(document.unknownLines.map(\.text) == ["# [PASS]"])
    }

    @Test("output that stops mid-run keeps what is there and says what is missing")
    func truncated() {
        let document = KTAPParser.parse("""
            KTAP version 1
            1..3
            ok 1 first
              KTAP version 1
              # Subtest: group
              1..4
              ok 1 a
              #  RUN           b ...
            """)
        #expect(document.cases.count == 2)
        #expect(document.cases[1].name == "group" && document.cases[1].status == .error)
        #expect(document.cases[1].subtests?.map(\.name) == ["a"])
        #expect(document.errors.map(\.kind) == [
            .missingResult(name: "group"), .missingResult(name: "b"), .planMismatch(planned: 4, ran: 1),
            .planMismatch(planned: 3, ran: 2),
        ])
        #expect(!document.isComplete && document.exitCode == .fail)
    }

    @Test("a sibling block closes a block that never got its result")
    func siblingBlock() {
        let document = KTAPParser.parse("KTAP version 1\n1..2\n  KTAP version 1\n  1..1\n  KTAP version 1\n  1..0\nok 2 b")
        #expect(document.cases.map(\.status) == [.error, .pass])
        #expect(document.cases[1].subtests == [])
        #expect(document.errors.map(label) == ["missingResult", "planMismatch"])
    }

    @Test("streaming reports starts and results as they arrive; CRLF is fine")
    func streaming() {
        var parser = KTAPParser()
        var events: [KTAPParser.Event?] = []
        for line in ["TAP version 13\r", "1..1\r", "#  RUN           x.y.z ...\r", "ok 1 x.y.z\r", "Bail out! stop"] {
            events.append(parser.feed(line: line))
        }
        #expect(events == [nil, nil, .started(name: "x.y.z", depth: 0),
                           .result(KTAPTestCase(name: "x.y.z", status: .pass), depth: 0),
                           .bailOut("stop", depth: 0)])
        let snapshot = parser.finish()
        #expect(snapshot.cases.count == 1 && snapshot.bailOut == "stop" && !snapshot.isComplete)

        let crlf = KTAPParser.parse("TAP version 13\r\n1..1\r\n# note\r\nok 1 a # SKIP why\r\n")
        #expect(crlf.errors.isEmpty && crlf.cases == [KTAPTestCase(name: "a", status: .skip, reason: "why", diagnostics: ["note"])])
    }
}
