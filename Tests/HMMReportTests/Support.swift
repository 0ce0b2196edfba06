import Foundation
import Testing
@testable import HMMReport

/// `Fixtures/ktap` of this package, found from this file so `swift test` works from any directory.
let fixtureDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // HMMReportTests
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()  // package root
    .appendingPathComponent("Fixtures/ktap")

let packageRoot = fixtureDirectory.deletingLastPathComponent().deletingLastPathComponent()

func fixturePath(_ name: String) -> String { fixtureDirectory.appendingPathComponent(name).path }

func fixtureText(_ name: String) throws -> String {
    try String(contentsOf: fixtureDirectory.appendingPathComponent(name), encoding: .utf8)
}

/// Every saved log.
let fixtureLogNames: [String] = {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: fixtureDirectory.path)) ?? []
    return names.filter { $0.hasSuffix(".log") }.sorted()
}()

/// A fresh empty directory for one test's files.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("hmmreport-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The ReportError a throwing call raised, or nil (another error fails the test).
func reportError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> ReportError? {
    do {
        try body()
        return nil
    } catch let error as ReportError {
        return error
    } catch {
        Issue.record("not a ReportError: \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

extension String {
    /// This text with `old` replaced once (the test fails loudly if it is not there).
    func replacingOnce(_ old: String, with new: String) -> String {
        guard let range = range(of: old) else { fatalError("'\(old)' not in the text") }
        return replacingCharacters(in: range, with: new)
    }

    /// The first `count` lines, each ending with a newline.
    func firstLines(_ count: Int) -> String {
        split(separator: "\n", omittingEmptySubsequences: false).prefix(count).map { $0 + "\n" }.joined()
    }
}
