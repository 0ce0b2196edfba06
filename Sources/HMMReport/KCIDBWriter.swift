import KTAP

/// KCIDB I/O data, schema v5.3 (the `kcidb-io` package's `kcidb_io.schema.V5_3`): one
/// checkout, one build and one test per result.
///
/// - IDs are `<origin>:<key>` as the schema requires. Without a given build, the checkout and
///   build are `<origin>:checkout-<run>` / `<origin>:build-<run>`, where `<run>` is a hash of
///   the results (the same results always give the same IDs, so a resubmission updates
///   rather than duplicates). Test IDs are `<build id>:<test name>`.
/// - `path` is the test's name with its parts joined by dots, other characters as `_`
///   (see ``TestPath/kcidbPath(_:)``): `hmm.hmm_device_private.migrate`.
/// - Status: pass, xfail, xpass → PASS; fail → FAIL; timeout, error → ERROR (the test did not
///   complete); skip → SKIP. hmmkit's own status is kept in `misc.status`, the hmmkit version
///   in every object's `misc.hmmkit_version`.
/// - `start_time` of every object is the run's start, when known (hmmkit records no
///   per-test start); `duration` is the test's own.
/// - `log_excerpt` holds the diagnostics (at most 16384 characters, the schema's limit).
///   NUL characters, which the schema forbids, become U+FFFD everywhere.
public struct KCIDBWriter: Sendable {
    public static let schemaMajor = 5
    public static let schemaMinor = 3
    static let excerptLimit = 16384

    /// The CI system's name (`^[a-z0-9_]+$`).
    public var origin: String
    /// An existing KCIDB build (`origin:…`) the tests ran on; when set, no checkout or
    /// build objects are written.
    public var buildID: String?

    public init(origin: String = "hmmkit", buildID: String? = nil) throws(ReportError) {
        guard Self.isValidOrigin(origin) else {
            throw ReportError(.badOption, "KCIDB origin '\(origin)' must be lower-case letters, digits and '_'")
        }
        if let buildID, !Self.isValidID(buildID) {
            throw ReportError(.badOption, "KCIDB build ID '\(buildID)' must be '<origin>:<anything>' (origin: a-z, 0-9, _)")
        }
        self.origin = origin
        self.buildID = buildID
    }

    static func isValidOrigin(_ s: some StringProtocol) -> Bool {
        !s.isEmpty && s.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }
    }

    static func isValidID(_ s: String) -> Bool {
        guard let colon = s.firstIndex(of: ":") else { return false }
        return isValidOrigin(s[..<colon])
    }

    public func document(for set: ResultSet) -> JSONValue {
        let run = Self.runKey(set)
        let checkoutID = "\(origin):checkout-\(run)"
        let build = buildID ?? "\(origin):build-\(run)"
        let start = set.startedAt.map { JSONValue.string(Timestamp.format($0)) }
        let runMisc: [(String, JSONValue?)] = [
            ("tool", .string(set.tool.rawValue)),
            ("hmmkit_version", .string(set.hmmkitVersion)),
            ("kernel_release", set.kernelRelease.map(JSONValue.string)),
            ("profile", set.profile.map(JSONValue.string)),
        ]
        let kernel = set.kernelRelease.map { "Linux \($0)" } ?? "an unknown kernel"

        var members: [(String, JSONValue?)] = [
            ("version", .object([("major", .number(Double(Self.schemaMajor))), ("minor", .number(Double(Self.schemaMinor)))])),
        ]
        if buildID == nil {
            members.append(("checkouts", .array([.members([
                ("id", .string(checkoutID)),
                ("origin", .string(origin)),
                ("comment", .string(Self.clean("\(kernel), as tested by \(set.tool.rawValue)"))),
                ("start_time", start),
                ("valid", .bool(true)),
                ("misc", Self.cleaned(.members(runMisc))),
            ])])))
            members.append(("builds", .array([.members([
                ("id", .string(build)),
                ("checkout_id", .string(checkoutID)),
                ("origin", .string(origin)),
                ("comment", .string(Self.clean(kernel))),
                ("status", .string("PASS")),  // the kernel booted and ran the tests
                ("misc", Self.cleaned(.members(runMisc))),
            ])])))
        }
        members.append(("tests", .array(set.tests.map { test in
            .members([
                ("id", .string(Self.clean("\(build):\(test.name)"))),
                ("build_id", .string(build)),
                ("origin", .string(origin)),
                ("path", .string(TestPath.kcidbPath(test.name))),
                ("comment", .string(Self.clean(test.name))),
                ("status", .string(Self.status(test.status))),
                ("start_time", start),
                ("duration", test.duration.map(JSONValue.number)),
                ("log_excerpt", test.diagnostics.isEmpty ? nil : .string(Self.excerpt(test.diagnostics))),
                ("misc", Self.cleaned(.members([
                    ("name", .string(test.name)),
                    ("status", .string(test.status.rawValue)),
                    ("reason", test.reason.map(JSONValue.string)),
                ] + runMisc))),
            ])
        })))
        return .members(members)
    }

    /// The KCIDB JSON text, ending with a newline.
    public func text(for set: ResultSet) -> String { document(for: set).rendered() + "\n" }

    public static func status(_ status: ResultSet.Status) -> String {
        switch status {
        case .pass, .xfail, .xpass: "PASS"
        case .fail: "FAIL"
        case .timeout, .error: "ERROR"
        case .skip: "SKIP"
        }
    }

    /// A string the schema accepts (no NUL).
    static func clean(_ s: String) -> String {
        s.contains("\0") ? String(s.map { $0 == "\0" ? "\u{FFFD}" : $0 }) : s
    }

    static func cleaned(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let s): .string(clean(s))
        case .array(let items): .array(items.map(cleaned))
        case .object(let members): .object(members.map { (clean($0.0), cleaned($0.1)) })
        default: value
        }
    }

    /// The diagnostics as lines, keeping the end (where a failure is explained) when too long.
    static func excerpt(_ lines: [String]) -> String {
        // The schema's maxLength counts code points, so cut by Unicode scalars.
        let text = clean(lines.joined(separator: "\n") + "\n").unicodeScalars
        guard text.count > excerptLimit else { return String(text) }
        let marker = "[… earlier lines cut]\n"
        return marker + String(String.UnicodeScalarView(text.suffix(excerptLimit - marker.unicodeScalars.count)))
    }

    /// 16 hex digits of FNV-1a over the results JSON: stable for the same results, whichever
    /// hmmkit version writes them (a resubmission of the same results updates the same objects).
    static func runKey(_ set: ResultSet) -> String {
        var results = set
        results.hmmkitVersion = ""
        return StableHash.hex(results.json.rendered(pretty: false))
    }
}
