import KTAP
import Testing

@Suite("writer → parser round trip")
struct RoundTripTests {
    static let documents: [KTAPDocument] = [
        mixedDocument,
        KTAPDocument(version: .ktap(1), plan: 2, cases: [
            KTAPTestCase(name: "fail with text", status: .fail, reason: "SKIP-looking reason"),
            .group("empty group", []),
        ]),
        KTAPDocument(version: .tap(13), plan: 2, cases: [
            KTAPTestCase(name: "skip", status: .skip, reason: "issue #7", diagnostics: ["  indented", ""]),
            KTAPTestCase(name: "xpass", status: .xpass, reason: "fixed upstream"),
        ]),
    ]

    @Test("both styles read back to the same cases", arguments: documents, [KTAPWriter.Style.kselftest, .ktap])
    func roundTrip(_ document: KTAPDocument, style: KTAPWriter.Style) {
        let text = KTAPWriter.render(document, style: style).joined(separator: "\n")
        let parsed = KTAPParser.parse(text)
        #expect(parsed.cases == document.cases)
        #expect(parsed.plan == document.cases.count)
        #expect(parsed.version == (style == .ktap ? .ktap(1) : .tap(13)))
        #expect(parsed.reportedTotals == document.totals)
        #expect(parsed.errors.isEmpty)
        #expect(parsed.unknownLines.isEmpty)
        #expect(parsed.exitCode == document.exitCode)
    }

    @Test("durations survive when written")
    func durations() {
        let document = KTAPDocument(cases: [
            .group("g", [KTAPTestCase(name: "t", status: .pass, duration: .milliseconds(2_500))]),
        ])
        var timed = document
        timed.cases[0].duration = .milliseconds(7)
        let parsed = KTAPParser.parse(KTAPWriter.render(timed, includeDurations: true).joined(separator: "\n"))
        #expect(parsed.cases == timed.cases)
    }
}
