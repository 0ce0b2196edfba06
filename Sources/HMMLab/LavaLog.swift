import Foundation

/// A LAVA job's log as `GET /api/v0.2/jobs/ID/logs/` returns it: YAML, one flow mapping per
/// line, `- {"dt": ..., "lvl": ..., "msg": ...}`. What the device printed has `lvl: target`,
/// one console line per entry, or `lvl: feedback` when LAVA read it only after the test
/// monitor had stopped (the line holding the end string can arrive that way). The log is the
/// lab's, so it is untrusted input: a line that does not parse is counted and skipped, never
/// fatal.
public struct LavaLog: Sendable, Equatable {
    /// The device's console, line by line, without the serial line's trailing CR.
    public var targetLines: [String] = []
    /// Lines of the log that were not a LAVA log entry.
    public var unreadableLines = 0

    public init(yaml: String) {
        for line in yaml.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" }) {
            guard line.hasPrefix("- {") else {
                unreadableLines += 1
                continue
            }
            guard let entry = Self.entry(line.dropFirst(2)) else {
                // LAVA's own entries may hold YAML that is not JSON (tags in download results);
                // only a console line lost counts.
                if line.contains(#""lvl": "target""#) { unreadableLines += 1 }
                continue
            }
            let level = entry["lvl"] as? String
            guard level == "target" || level == "feedback", let message = entry["msg"] as? String else { continue }
            targetLines.append(String(message.reversed().drop { $0 == "\r" }.reversed()))
        }
    }

    /// One entry: LAVA writes JSON-compatible flow mappings, except that the console's
    /// control characters (escape sequences) may appear raw inside strings.
    static func entry(_ text: Substring) -> [String: Any]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if byte < 0x20 {
                bytes += Array(String(format: "\\u%04x", byte).utf8)
            } else {
                bytes.append(byte)
            }
        }
        return (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
    }

    /// The KTAP the guest printed: from the first `KTAP version` line, the lines of KTAP's
    /// grammar (version, plan, results, diagnostics, each possibly indented for a subtest),
    /// leaving out the kernel's messages and the guest init's progress that share the console.
    public var ktap: String {
        guard let start = targetLines.firstIndex(where: { Self.versionLine($0) }) else { return "" }
        var result: [String] = []
        for line in targetLines[start...] where Self.isKTAP(line) { result.append(line) }
        return result.isEmpty ? "" : result.joined(separator: "\n") + "\n"
    }

    static func versionLine(_ line: String) -> Bool {
        line.hasPrefix("KTAP version ") || line.hasPrefix("TAP version ")
    }

    static func isKTAP(_ line: String) -> Bool {
        let body = line.drop { $0 == " " }
        if body.hasPrefix("ok ") || body.hasPrefix("not ok ") || body.hasPrefix("#") { return true }
        if body.hasPrefix("KTAP version ") || body.hasPrefix("TAP version ") { return true }
        if body.hasPrefix("1..") { return body.dropFirst(3).allSatisfy(\.isNumber) }
        return false
    }

    /// The guest command's exit code, from init's last line (`hmmkit-vm: command exited N after …`).
    public var guestExitCode: Int32? {
        for line in targetLines.reversed() {
            guard let range = line.range(of: LavaJob.endMarker + " ") else { continue }
            return Int32(line[range.upperBound...].prefix { $0 == "-" || $0.isNumber })
        }
        return nil
    }
}
