import Foundation
import HMMCommands
import HMMFixtures
import HMMKernel
import HMMReport
import HMMSeries
import HMMSystem
import Testing
import hmmkit

/// Tests/MalformedInputs/<format>/ (written by scripts/malformed-inputs): at least 100 bad
/// inputs per format, each read by the reader hmmkit's commands use, must give a clean
/// `file:line: problem` holding the substring its EXPECTED line names: never a trap, never
/// accepted. The commands themselves must fail every file and exit non-zero.
@Suite struct MalformedInputTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("MalformedInputs").path

    /// (file name, expected substring) from a format's EXPECTED file.
    static func cases(_ format: String) throws -> [(String, String)] {
        let text = try String(contentsOfFile: root + "/\(format)/EXPECTED", encoding: .utf8)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
    }

    /// The first problem hmmkit's reader reports for `path`, or nil when it accepts the file.
    static func problem(_ format: String, _ path: String) -> String? {
        switch format {
        case "fixture":
            // What `fixture check` does: read (bounded), parse, check preconditions and expectations.
            do {
                let text = try readTextFile(path, limit: FixtureLimits.fileBytes)
                return FixtureMaintenance.problems(in: text, file: path).first.map(\.description)
            } catch { return "\(path):1: \(error)" }
        case "mbox":
            do { _ = try Mbox.load(path: path); return nil } catch { return error.description }
        default:
            do { _ = try ResultSet.load(path: path); return nil } catch { return error.description }
        }
    }

    @Test(arguments: ["fixture", "ktap", "json", "mbox"])
    func everyInputGetsACleanError(format: String) throws {
        let cases = try Self.cases(format)
        #expect(cases.count >= 100, "only \(cases.count) \(format) inputs")
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.root + "/" + format).filter { $0 != "EXPECTED" }
        #expect(Set(files) == Set(cases.map(\.0)), "EXPECTED and the files differ")
        for (name, expected) in cases {
            let path = Self.root + "/\(format)/\(name)"
            guard let message = Self.problem(format, path) else {
                Issue.record("\(format)/\(name) was accepted")
                continue
            }
            // file:line: problem, with a line number that is a positive integer.
            let rest = message.dropFirst(path.count)
            let line = rest.dropFirst().prefix { $0.isNumber }
            #expect(message.hasPrefix(path + ":") && Int(line).map { $0 >= 1 } == true
                    && rest.dropFirst(1 + line.count).hasPrefix(": "), "\(name): not file:line: problem: \(message)")
            #expect(message.contains(expected), "\(name): expected '\(expected)' in: \(message)")
        }
    }

    /// The commands over the whole corpus: every file reported, a non-zero exit, no output left.
    @Test func commandsFailEveryFileAndGoOn() throws {
        let fixtures = try Self.cases("fixture").map { Self.root + "/fixture/" + $0.0 }
        var check = try HMMKit.parseAsRoot(["fixture", "check"] + fixtures)
        #expect(throws: (any Error).self) { try check.run() }

        let output = FileManager.default.temporaryDirectory.appendingPathComponent("hmmkit-malformed-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: output) }
        for format in ["ktap", "json"] {
            for (name, _) in try Self.cases(format) {
                let path = Self.root + "/\(format)/\(name)"
                var convert = try HMMKit.parseAsRoot(["report", "convert", path,
                                                      "--json", output + "/out.json", "--junit", output + "/out.xml"])
                #expect(throws: (any Error).self, "\(format)/\(name)") { try convert.run() }
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: output).isEmpty, "a refused input left files behind")
    }
}
