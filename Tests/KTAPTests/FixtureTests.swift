import Foundation
import KTAP
import Testing

/// Each `Fixtures/ktap/NAME.log` is parsed and checked against `NAME.expect`, a `key=value` file.
///
/// Keys (all optional; `#` starts a comment line):
/// - `version` (`TAP version 13`), `plan`, `cases` (top-level results), `exit` (0/1/4),
///   `unknown` (count of kept unknown lines)
/// - `pass` `fail` `xfail` `xpass` `skip` `error`: top-level totals (a timeout counts as fail);
///   `leaf.<same>`: totals over leaves at any depth
/// - `reported`: `none`, or the `pass:… error:…` fields of the log's own `# Totals:`
/// - `errors`: comma-separated error kinds in order (`planMismatch,missingResult`), empty for none
/// - `case.<name>`: `<status>[ <reason>]` of the first test of that name at any depth
/// - `diagnostics.<name>`: number of diagnostic lines of that test
/// - `notice.<name>`: reason of a harness SKIP notice kept on a test reported as ok
@Suite("saved logs")
struct FixtureTests {
    @Test("the fixture directory has the logs this suite was written with")
    func present() {
        for name in ["hmm-tests-6.12-nomodule.log", "hmm-tests-6.1-nomodule.log", "run_vmtests-hmm-6.12-synthetic.log",
                     "hmm-tests-6.12-truncated-synthetic.log"] {
            #expect(fixtureLogNames.contains(name), "\(name) missing from \(fixtureDirectory.path)")
        }
    }

    @Test("each log parses to what its .expect says", arguments: fixtureLogNames)
    func matchesExpectation(_ name: String) throws {
        let document = KTAPParser.parse(try fixtureText(name))
        let expectName = String(name.dropLast(4)) + ".expect"
        let expectations = try parseExpectations(try fixtureText(expectName))
        #expect(!expectations.isEmpty, "\(expectName) is empty")
        let everyCase = document.cases.flatMap(\.flattened)

        for (key, value) in expectations {
            let context = Comment(rawValue: "\(name): \(key)")
            if let name = key.dropPrefix("case.") {
                let test = everyCase.first { $0.name == name }
                let got = test.map { [$0.status.rawValue, $0.reason].compactMap { $0 }.joined(separator: " ") }
                #expect(got == value, context)
            } else if let name = key.dropPrefix("diagnostics.") {
                #expect(everyCase.first { $0.name == name }.map { String($0.diagnostics.count) } == value, context)
            } else if let name = key.dropPrefix("notice.") {
                #expect(everyCase.first { $0.name == name }?.skipNotice == value, context)
            } else if let field = key.dropPrefix("leaf.") {
                #expect(count(field, in: document.leafTotals) == Int(value), context)
            } else if let got = count(key, in: document.totals) {
                #expect(got == Int(value), context)
            } else {
                switch key {
                case "version": #expect(document.version?.description == value, context)
                case "plan": #expect(document.plan.map(String.init) == value, context)
                case "cases": #expect(String(document.cases.count) == value, context)
                case "exit": #expect(String(document.exitCode.rawValue) == value, context)
                case "unknown": #expect(String(document.unknownLines.count) == value, context)
                case "reported":
                    let got = document.reportedTotals.map { String($0.description.dropFirst("Totals: ".count)) }
                    #expect((got ?? "none") == value, context)
                case "errors": #expect(document.errors.map(label).joined(separator: ",") == value, context)
                default: Issue.record("unknown key \(key) in \(expectName)")
                }
            }
        }
    }

    private func count(_ field: String, in totals: KTAPTotals) -> Int? {
        switch field {
        case "pass": totals.pass
        case "fail": totals.fail
        case "xfail": totals.xfail
        case "xpass": totals.xpass
        case "skip": totals.skip
        case "error": totals.error
        default: nil
        }
    }

    private func parseExpectations(_ text: String) throws -> [(String, String)] {
        try lines(text).compactMap { line in
            let line = line.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { return nil }
            let pair = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2 else { throw ExpectationError(line: line) }
            return (String(pair[0]), String(pair[1]))
        }
    }
}

struct ExpectationError: Error, CustomStringConvertible {
    var line: String
    var description: String { "not key=value: \(line)" }
}

extension String {
    func dropPrefix(_ prefix: String) -> String? {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : nil
    }
}
