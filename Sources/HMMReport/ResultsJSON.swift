import FoundationEssentials
import KTAP

/// hmmkit's results JSON (`hmmkit run --json`, `hmmkit report convert --json`):
///
///     {
///       "format": "hmmkit-results",
///       "version": 1,
///       "tool": "hmmkit",                       // or "kselftest"
///       "hmmkit_version": "0.2.0",              // optional: the hmmkit that ran (or read) them
///       "kernel_release": "6.12.117",           // optional
///       "profile": "linux-6.12",                // optional
///       "started_at": "2026-01-02T03:04:05Z",   // optional, RFC 3339
///       "architecture": "x86_64",               // optional: uname -m
///       "compiler": "gcc (Debian 12.2.0-14) 12.2.0",  // optional: the kernel's, from /proc/version
///       "config_name": "tinyconfig+hmmkit.config",    // optional
///       "machine": "nodes 0 (CPUs 0 1, 2048 MiB) ...", // optional: the machine facts line
///       "skip_reason": "...",                   // optional: the whole run was skipped
///       "warnings": ["..."],                    // optional: problems accepted when loading
///       "tests": [
///         {"name": "hmm.hmm_device_private.migrate", "status": "pass",
///          "reason": "...", "duration": 0.012, "diagnostics": ["..."]}
///       ]
///     }
///
/// `status` is one of pass, fail, skip, timeout, error, xfail, xpass; `reason`, `duration`
/// (seconds) and `diagnostics` are optional. Readers ignore members they do not know, so a
/// version stays readable when optional members are added; anything else raises the version.
extension ResultSet {
    public var json: JSONValue {
        .members([
            ("format", .string(Self.formatName)),
            ("version", .number(Double(Self.currentFormatVersion))),
            ("tool", .string(tool.rawValue)),
            ("hmmkit_version", .string(hmmkitVersion)),
            ("kernel_release", kernelRelease.map(JSONValue.string)),
            ("profile", profile.map(JSONValue.string)),
            ("started_at", startedAt.map { .string(Timestamp.format($0)) }),
            ("architecture", architecture.map(JSONValue.string)),
            ("compiler", compiler.map(JSONValue.string)),
            ("config_name", configName.map(JSONValue.string)),
            ("machine", machine.map(JSONValue.string)),
            ("skip_reason", skipReason.map(JSONValue.string)),
            ("warnings", warnings.isEmpty ? nil : .array(warnings.map(JSONValue.string))),
            ("tests", .array(tests.map { test in
                .members([
                    ("name", .string(test.name)),
                    ("status", .string(test.status.rawValue)),
                    ("reason", test.reason.map(JSONValue.string)),
                    ("duration", test.duration.map(JSONValue.number)),
                    ("diagnostics", test.diagnostics.isEmpty ? nil : .array(test.diagnostics.map(JSONValue.string))),
                ])
            })),
        ])
    }

    /// The results JSON text, ending with a newline.
    public var jsonText: String { json.rendered() + "\n" }

    /// Reads hmmkit's results JSON; refuses other JSON and newer versions with a message saying so.
    public static func fromJSON(_ text: String, file: String? = nil) throws(ReportError) -> ResultSet {
        let root = try JSONValue.parse(text, file: file)
        /// An error about the value at `path`, on the line where that value starts.
        func wrong(_ message: String, at path: [JSONPathComponent] = [], kind: ReportError.Kind = .wrongFormat) -> ReportError {
            ReportError(kind, message, file: file, line: JSONValue.line(of: path, in: text))
        }

        guard case .object = root else { throw wrong("not hmmkit results: the JSON is not an object") }
        guard let format = root["format"]?.stringValue else {
            if root["version"]?["major"] != nil {
                throw wrong("this is KCIDB data, not hmmkit results; give the KTAP log or the file from --json")
            }
            throw wrong("not hmmkit results: no \"format\": \"\(formatName)\" member")
        }
        guard format == formatName else {
            throw wrong("not hmmkit results: \"format\" is \"\(format)\", expected \"\(formatName)\"", at: [.key("format")])
        }
        guard let versionNumber = root["version"]?.numberValue, versionNumber == versionNumber.rounded(), versionNumber >= 1,
              versionNumber < 1e9
        else {
            throw wrong("\"version\" must be a whole number from 1", at: root["version"] == nil ? [] : [.key("version")])
        }
        let version = Int(versionNumber)
        guard version <= currentFormatVersion else {
            throw wrong("hmmkit results version \(version) come from a newer hmmkit; this one reads up to version \(currentFormatVersion)",
                        at: [.key("version")], kind: .unsupportedVersion)
        }

        /// `path` names the value in messages (`tests[3].reason`).
        func describe(_ path: [JSONPathComponent]) -> String {
            if path.count == 1, case .key(let k) = path[0] { return "\"\(k)\"" }
            var out = ""
            for component in path {
                switch component {
                case .key(let k): out += out.isEmpty ? k : ".\(k)"
                case .index(let i): out += "[\(i)]"
                }
            }
            return out
        }
        func string(_ value: JSONValue?, _ path: [JSONPathComponent], required: Bool = false) throws(ReportError) -> String? {
            switch value {
            case nil, .null?:
                if required { throw wrong("\(describe(path)) is missing", at: path.dropLast()) }
                return nil
            case .string(let s)?: return s
            default: throw wrong("\(describe(path)) must be a string", at: path)
            }
        }
        func strings(_ value: JSONValue?, _ path: [JSONPathComponent]) throws(ReportError) -> [String] {
            guard let value, value != .null else { return [] }
            guard let items = value.arrayValue else { throw wrong("\(describe(path)) must be an array of strings", at: path) }
            var out: [String] = []
            for (i, item) in items.enumerated() {
                guard let s = item.stringValue else {
                    throw wrong("\(describe(path + [.index(i)])) must be a string", at: path + [.index(i)])
                }
                out.append(s)
            }
            return out
        }

        guard let toolName = try string(root["tool"], [.key("tool")], required: true) else { throw wrong("\"tool\" is missing") }
        guard let tool = Tool(rawValue: toolName) else {
            throw wrong("\"tool\" is \"\(toolName)\", expected one of \(Tool.allCases.map(\.rawValue).joined(separator: ", "))",
                        at: [.key("tool")])
        }
        var startedAt: Date?
        if let text = try string(root["started_at"], [.key("started_at")]) {
            guard let date = Timestamp.parse(text) else {
                throw wrong("\"started_at\" is not an RFC 3339 time: \"\(text)\"", at: [.key("started_at")])
            }
            startedAt = date
        }
        guard let items = root["tests"]?.arrayValue else {
            throw wrong("\"tests\" is missing or not an array", at: root["tests"] == nil ? [] : [.key("tests")])
        }

        guard items.count <= ResultLimits.tests else {
            throw wrong("\"tests\" holds \(items.count) tests, over the limit of \(ResultLimits.tests)",
                        at: [.key("tests"), .index(ResultLimits.tests)])
        }
        var tests: [Test] = []
        var seen: Set<String> = []
        for (i, item) in items.enumerated() {
            let at: [JSONPathComponent] = [.key("tests"), .index(i)]
            let path = "tests[\(i)]"
            guard case .object = item else { throw wrong("\(path) must be an object", at: at) }
            guard let name = try string(item["name"], at + [.key("name")], required: true) else {
                throw wrong("\(path).name is missing", at: at)
            }
            guard !name.isEmpty else { throw wrong("\(path).name is empty", at: at + [.key("name")], kind: .badTestName) }
            // A name is one line of KTAP, text output and JUnit: no newline or other control character.
            guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw wrong("\(path).name contains a control character (a newline?): \(name.debugDescription)",
                            at: at + [.key("name")], kind: .badTestName)
            }
            guard seen.insert(name).inserted else {
                throw wrong("test '\(name)' appears twice (again at \(path))", at: at, kind: .badTestName)
            }
            guard let statusName = try string(item["status"], at + [.key("status")], required: true) else {
                throw wrong("\(path).status is missing", at: at)
            }
            guard let status = TestStatus(rawValue: statusName) else {
                let known = TestStatus.reportingOrder.map(\.rawValue).joined(separator: ", ")
                throw wrong("\(path).status is \"\(statusName)\", expected one of \(known)",
                            at: at + [.key("status")])
            }
            var duration: Double?
            switch item["duration"] {
            case nil, .null?: break
            case .number(let seconds)? where seconds.isFinite && seconds >= 0 && seconds <= KTAPLineSyntax.longestDurationSeconds:
                duration = seconds
            default:
                throw wrong("\(path).duration must be a number of seconds, 0...\(Int(KTAPLineSyntax.longestDurationSeconds))",
                            at: at + [.key("duration")])
            }
            tests.append(Test(name: name, status: status, reason: try string(item["reason"], at + [.key("reason")]),
                              duration: duration, diagnostics: try strings(item["diagnostics"], at + [.key("diagnostics")])))
        }
        return ResultSet(
            tool: tool, hmmkitVersion: try string(root["hmmkit_version"], [.key("hmmkit_version")]) ?? HMMKitVersion.current,
            kernelRelease: try string(root["kernel_release"], [.key("kernel_release")]),
            profile: try string(root["profile"], [.key("profile")]), startedAt: startedAt,
            architecture: try string(root["architecture"], [.key("architecture")]),
            compiler: try string(root["compiler"], [.key("compiler")]),
            configName: try string(root["config_name"], [.key("config_name")]), machine: try string(root["machine"], [.key("machine")]),
            formatVersion: version,
            skipReason: try string(root["skip_reason"], [.key("skip_reason")]), tests: tests,
            warnings: try strings(root["warnings"], [.key("warnings")]), source: file)
    }
}
