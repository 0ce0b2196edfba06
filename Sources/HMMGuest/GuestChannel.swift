import FoundationEssentials

/// The guest's report to the host over a serial line, after its command ends: the files
/// the command saved and its exit code. The host reads it from a file QEMU writes, so the
/// guest never needs a shared filesystem; the decoder treats every byte as untrusted.
///
///     hmmkit-channel 1
///     file NAME BYTES
///     <base64, 76 characters a line>
///     end
///     exit CODE
public enum GuestChannel {
    public static let header = "hmmkit-channel 1"
    /// Files larger than this, or more bytes in all, are refused (a guest cannot fill the host's disk).
    public static let maximumBytes = 64 << 20

    public static func encodeFile(name: String, bytes: [UInt8]) -> String {
        var text = "file \(name) \(bytes.count)\n"
        let encoded = Data(bytes).base64EncodedString()
        var start = encoded.startIndex
        while start < encoded.endIndex {
            let end = encoded.index(start, offsetBy: 76, limitedBy: encoded.endIndex) ?? encoded.endIndex
            text += encoded[start..<end] + "\n"
            start = end
        }
        return text + "end\n"
    }

    public static func encodeExit(_ code: Int32) -> String { "exit \(code)\n" }

    /// A name the host may create in its output directory: no path, no hidden file.
    public static func isSafeFileName(_ name: String) -> Bool {
        guard (1...200).contains(name.utf8.count), !name.hasPrefix(".") else { return false }
        return name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x2e || c == 0x2d || c == 0x5f
        }
    }

    public struct Report: Equatable, Sendable {
        public var files: [(name: String, bytes: [UInt8])] = []
        public var exitCode: Int32?
        /// `line N: problem` for everything refused.
        public var problems: [String] = []

        public static func == (a: Report, b: Report) -> Bool {
            a.exitCode == b.exitCode && a.problems == b.problems
                && a.files.map(\.name) == b.files.map(\.name) && a.files.map(\.bytes) == b.files.map(\.bytes)
        }
    }

    /// Decodes what the guest wrote; a line that is not part of the protocol is a problem,
    /// never a crash. Serial lines may carry a CR before the LF.
    public static func decode(_ text: String) -> Report {
        var report = Report()
        var total = 0
        var pending: (name: String, size: Int, base64: String, line: Int)?
        var sawHeader = false
        // By bytes: as Characters, a serial line's "\r\n" is one grapheme that "\n" does not split.
        for (index, raw) in text.utf8.split(separator: 10, omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = String(decoding: raw.last == 13 ? raw.dropLast() : raw[...], as: UTF8.self)[...]
            if var file = pending {
                if line == "end" {
                    pending = nil
                    guard let data = Data(base64Encoded: file.base64), data.count == file.size else {
                        report.problems.append("line \(file.line): file \(file.name): content does not decode to \(file.size) bytes")
                        continue
                    }
                    report.files.append((file.name, [UInt8](data)))
                } else {
                    file.base64 += line
                    guard file.base64.utf8.count <= (file.size / 3 + 2) * 4 else {
                        report.problems.append("line \(number): file \(file.name): more content than its \(file.size) bytes")
                        pending = nil
                        continue
                    }
                    pending = file
                }
                continue
            }
            if line.isEmpty { continue }
            if line == header { sawHeader = true; continue }
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            switch fields.first {
            case "file" where fields.count == 3:
                let name = String(fields[1])
                guard isSafeFileName(name) else {
                    report.problems.append("line \(number): refused file name '\(name.prefix(80))'")
                    continue
                }
                guard let size = Int(fields[2]), size >= 0, size <= maximumBytes - total else {
                    report.problems.append(
                        "line \(number): file \(name): size '\(fields[2].prefix(20))' is not a number up to \(maximumBytes - total)")
                    continue
                }
                total += size
                pending = (name, size, "", number)
            case "exit" where fields.count == 2:
                guard let code = Int32(fields[1]), (0...255).contains(code) else {
                    report.problems.append("line \(number): exit code '\(fields[1].prefix(20))' is not 0-255")
                    continue
                }
                report.exitCode = code
            default:
                report.problems.append("line \(number): not part of the channel: '\(line.prefix(80))'")
            }
        }
        if let file = pending { report.problems.append("line \(file.line): file \(file.name): no 'end' (the guest stopped mid-file)") }
        if !sawHeader && !text.isEmpty { report.problems.append("line 1: no '\(header)' header") }
        return report
    }
}
