import Foundation
import KTAP
import Testing

/// The kernel tree holding `tools/testing/kunit/kunit.py`: `$HMMKIT_KERNEL_SRC`, else the newest
/// `~/.cache/hmmkit/src/linux-source-*/`.
let kernelSource: URL? = {
    let fm = FileManager.default
    func hasKunit(_ url: URL) -> Bool { fm.fileExists(atPath: url.appendingPathComponent(kunitScript).path) }
    if let path = ProcessInfo.processInfo.environment["HMMKIT_KERNEL_SRC"], !path.isEmpty {
        let url = URL(fileURLWithPath: path)
        return hasKunit(url) ? url : nil
    }
    let cache = fm.homeDirectoryForCurrentUser.appendingPathComponent(".cache/hmmkit/src")
    let trees = (try? fm.contentsOfDirectory(atPath: cache.path)) ?? []
    return trees.filter { $0.hasPrefix("linux-source-") }.sorted().reversed()
        .map { cache.appendingPathComponent($0) }.first(where: hasKunit)
}()

let kunitScript = "tools/testing/kunit/kunit.py"

let python3: String? = {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return path.split(separator: ":").map { "\($0)/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}()

let kunitAvailable = kernelSource != nil && python3 != nil

/// Runs `kunit.py parse` on `text` and returns its last line without the `[HH:MM:SS] ` stamp.
/// kunit.py's exit status says nothing about parse problems, so only its output is trusted.
func kunitSummary(of text: String) throws -> String {
    guard let kernelSource, let python3 else { throw KunitMissing() }
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("hmmkit-ktap-\(UUID().uuidString).log")
    try text.write(to: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: file) }

    // kunit.py loops forever on some inputs (a trailing plan), so bound it with timeout(1).
    let process = Process()
    let script = [python3, kernelSource.appendingPathComponent(kunitScript).path, "parse", file.path]
    if FileManager.default.isExecutableFile(atPath: "/usr/bin/timeout") {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["-s", "KILL", "120"] + script
    } else {
        process.executableURL = URL(fileURLWithPath: python3)
        process.arguments = Array(script.dropFirst())
    }
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let last = lines(String(decoding: data, as: UTF8.self)).last { !$0.isEmpty } ?? ""
    guard let start = last.range(of: "Testing complete.") else { return last }
    return String(last[start.lowerBound...])
}

struct KunitMissing: Error {}

/// What kunit.py should say for `document`: it counts leaves; `ok` without SKIP passes
/// (so XFAIL/XPASS pass), any `not ok` without SKIP fails, and zero counts are left out.
func expectedKunitSummary(_ document: KTAPDocument) -> String {
    let t = document.leafTotals
    let counts = [("passed", t.pass + t.xfail + t.xpass), ("failed", t.fail + t.error), ("skipped", t.skip)]
    return "Testing complete. Ran \(t.total) tests: "
        + counts.filter { $0.1 > 0 }.map { "\($0.0): \($0.1)" }.joined(separator: ", ")
}

@Suite("kunit.py parse agrees with hmmkit", .enabled(if: kunitAvailable, "needs python3 and a kernel tree with kunit.py"))
struct KunitCompatibilityTests {
    @Test("flat kselftest-style output")
    func flat() throws {
        var document = mixedDocument
        document.cases.removeLast()  // the group
        document.plan = nil
        let summary = try kunitSummary(of: KTAPWriter.render(document).joined(separator: "\n"))
        #expect(summary == "Testing complete. Ran 6 tests: passed: 2, failed: 3, skipped: 1")
        #expect(summary == expectedKunitSummary(document))
    }

    @Test("nested KTAP v1 output", arguments: [KTAPWriter.Style.ktap, .kselftest])
    func nested(style: KTAPWriter.Style) throws {
        let summary = try kunitSummary(of: KTAPWriter.render(mixedDocument, style: style).joined(separator: "\n"))
        #expect(summary == "Testing complete. Ran 9 tests: passed: 3, failed: 4, skipped: 2")
        #expect(summary == expectedKunitSummary(mixedDocument))
    }

    @Test("saved flat logs", arguments: fixtureLogNames)
    func savedLog(_ name: String) throws {
        let text = try fixtureText(name)
        let document = KTAPParser.parse(text)
        // kunit.py sees runner-prefixed nesting as diagnostics, reports truncation its own way
        // and cannot read a trailing plan; those logs are not comparable.
        let leadingPlan = lines(text).dropFirst().first?.hasPrefix("1..") ?? false
        guard leadingPlan, document.errors.isEmpty, !document.cases.contains(where: { $0.subtests != nil })
        else { return }
        #expect(try kunitSummary(of: text) == expectedKunitSummary(document))
    }
}
