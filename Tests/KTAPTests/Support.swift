import Foundation
import KTAP

/// `Fixtures/ktap` of this package, found from this file so `swift test` works from any directory.
let fixtureDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // KTAPTests
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()  // package root
    .appendingPathComponent("Fixtures/ktap")

/// Every `*.log` in the fixture directory; each must have a `*.expect` next to it.
let fixtureLogNames: [String] = {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: fixtureDirectory.path)) ?? []
    return names.filter { $0.hasSuffix(".log") }.sorted()
}()

func fixtureText(_ name: String) throws -> String {
    try String(contentsOf: fixtureDirectory.appendingPathComponent(name), encoding: .utf8)
}

/// Splits a rendered or saved log into lines without the final empty one.
func lines(_ text: String) -> [String] {
    var result = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
    if result.last == "" { result.removeLast() }
    return result
}

/// Short names for error kinds, as used in `.expect` files (`errors=planMismatch,missingResult`).
func label(_ error: KTAPParseError) -> String {
    switch error.kind {
    case .missingVersion: "missingVersion"
    case .unsupportedVersion: "unsupportedVersion"
    case .unexpectedVersion: "unexpectedVersion"
    case .duplicatePlan: "duplicatePlan"
    case .planMismatch: "planMismatch"
    case .unexpectedNumber: "unexpectedNumber"
    case .duplicateNumber: "duplicateNumber"
    case .missingResult: "missingResult"
    case .totalsMismatch: "totalsMismatch"
    case .nestedTooDeep: "nestedTooDeep"
    }
}

/// A document exercising every result kind, one group and a case without a name.
let mixedDocument = KTAPDocument(
    version: .tap(13),
    plan: 7,
    cases: [
        KTAPTestCase(name: "hmm.hmm_device_private.open_close", status: .pass),
        KTAPTestCase(
            name: "hmm.hmm_device_private.migrate", status: .fail,
            diagnostics: ["hmm-tests.c:1000:migrate:Expected ret (-12) == 0 (0)", "migrate: Test terminated by assertion"]),
        KTAPTestCase(name: "hmm.hmm_device_coherent.open_close", status: .skip, reason: "DEVICE_COHERENT not available"),
        KTAPTestCase(name: "hmm.hmm_device_private.compound", status: .xfail, reason: "1 GiB pages"),
        KTAPTestCase(name: "hmm.hmm_device_private.anon_teardown", status: .timeout, reason: "30 seconds"),
        KTAPTestCase(name: "hmm.hmm_device_private.exclusive", status: .error, reason: "child vanished"),
        .group("fixtures", [
            KTAPTestCase(name: "fixture.read_ro", status: .pass),
            KTAPTestCase(name: "fixture.write_prot", status: .fail, reason: "EPERM expected"),
            KTAPTestCase(name: "fixture.thp", status: .skip, reason: "no THP"),
        ]),
    ])
