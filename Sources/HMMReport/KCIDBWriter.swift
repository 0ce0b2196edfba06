import KTAP

/// KCIDB I/O data, schema v5.3 (the `kcidb-io` package's `kcidb_io.schema.V5_3`): one
/// checkout, one build, a boot test and one test per result.
///
/// - IDs are `<origin>:<key>` as the schema requires. Without a given build, the checkout and
///   build are `<origin>:checkout-<run>` / `<origin>:build-<run>`, where `<run>` is a hash of
///   the results (the same results always give the same IDs, so a resubmission updates
///   rather than duplicates). Test IDs are `<origin>:<build id>:<path>`: namespaced by the
///   origin and, through the path, by the tool, so hmmkit's results and the kernel's own
///   hmm-tests results converted by hmmkit never collide on one build (a path two names of
///   one set share gets `:2`, `:3` …).
/// - `path`: every test sits under the root `hmmkit`; the kernel's own selftest's results
///   under `hmmkit.kselftest`. Below it, the test's name with its parts joined by dots, other
///   characters as `_` (see ``TestPath/kcidbPath(_:)``): `hmmkit.hmm.hmm_device_private.migrate`.
/// - That the kernel booted and ran the tests is the test `hmmkit.boot` (PASS), not a build
///   status: the build carries what the results know of it, `architecture` (uname -m),
///   `config_name` and `compiler` (the kernel's /proc/version), and no status.
/// - A checkout's git facts come from ``checkout`` when the caller knows them
///   (`hmmkit series`): `git_repository_url` (https only, as the schema wants), `git_commit_hash`,
///   `patchset_hash` (``patchsetHash(_:)``), `message_id`.
/// - Status: pass, xfail, xpass → PASS; fail → FAIL; timeout, error → ERROR (the test did not
///   complete); skip → SKIP. hmmkit's own status is kept in `misc.status`, the hmmkit version
///   in every object's `misc.hmmkit_version`.
/// - Every test has an `environment`: the machine facts line as its comment, the facts as its
///   `misc`.
/// - `start_time` of every object is the run's start, when known (hmmkit records no
///   per-test start); `duration` is the test's own.
/// - `log_excerpt` holds the test's diagnostics and its outcome, the last 16 KiB of UTF-8
///   when longer (so also within the schema's 16384 characters).
///   NUL characters, which the schema forbids, become U+FFFD everywhere.
public struct KCIDBWriter: Sendable {
    public static let schemaMajor = 5
    public static let schemaMinor = 3
    /// The most UTF-8 bytes of a `log_excerpt`.
    static let excerptLimit = 16384
    /// The root of every test path hmmkit writes.
    public static let pathRoot = "hmmkit"

    /// The CI system's name (`^[a-z0-9_]+$`).
    public var origin: String
    /// An existing KCIDB build (`origin:…`) the tests ran on; when set, no checkout or
    /// build objects are written.
    public var buildID: String?
    /// What is known of the checkout the kernel was built from (`hmmkit series` knows it).
    public var checkout: Checkout?

    /// The source a kernel was built from, as KCIDB keys checkouts. Every field is optional;
    /// a value the schema would refuse goes into the checkout's `misc` instead.
    public struct Checkout: Sendable, Hashable {
        /// Where the tree can be fetched from (`remote.origin.url`); only https URLs are KCIDB's.
        public var repositoryURL: String?
        /// The full commit the patches (if any) apply to, 40 hex digits.
        public var commitHash: String?
        /// ``KCIDBWriter/patchsetHash(_:)`` of the patches applied on top; "" for none.
        public var patchsetHash: String?
        /// The Message-ID of the mail that brought the (last) patch, without `<>`.
        public var messageID: String?

        public init(repositoryURL: String? = nil, commitHash: String? = nil, patchsetHash: String? = nil, messageID: String? = nil) {
            self.repositoryURL = repositoryURL
            self.commitHash = commitHash
            self.patchsetHash = patchsetHash
            self.messageID = messageID
        }
    }

    public init(origin: String = "hmmkit", buildID: String? = nil, checkout: Checkout? = nil) throws(ReportError) {
        guard Self.isValidOrigin(origin) else {
            throw ReportError(.badOption, "KCIDB origin '\(origin)' must be lower-case letters, digits and '_'")
        }
        if let buildID, !Self.isValidID(buildID) {
            throw ReportError(.badOption, "KCIDB build ID '\(buildID)' must be '<origin>:<anything>' (origin: a-z, 0-9, _)")
        }
        self.origin = origin
        self.buildID = buildID
        self.checkout = checkout
    }

    static func isValidOrigin(_ s: some StringProtocol) -> Bool {
        !s.isEmpty && s.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }
    }

    static func isValidID(_ s: String) -> Bool {
        guard let colon = s.firstIndex(of: ":") else { return false }
        return isValidOrigin(s[..<colon])
    }

    /// KCIDB's patchset hash: SHA-256 over the newline-terminated SHA-256 hex digests of each
    /// patch, in the order they were applied; "" for no patches.
    public static func patchsetHash(_ patches: [String]) -> String {
        guard !patches.isEmpty else { return "" }
        return SHA256.hex(Array(patches.map { SHA256.hex(Array($0.utf8)) + "\n" }.joined().utf8))
    }

    /// The path root of a tool's tests: `hmmkit`, or `hmmkit.kselftest` for the kernel's own.
    public static func root(of tool: ResultSet.Tool) -> String {
        switch tool {
        case .hmmkit: pathRoot
        case .kselftest: pathRoot + ".kselftest"
        }
    }

    /// The KCIDB path of test `name` from `tool`: under the tool's root.
    public static func path(_ name: String, tool: ResultSet.Tool) -> String {
        let below = TestPath.kcidbPath(name)
        return root(of: tool) + "." + (below.isEmpty ? "_" : below)
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
            let git = Self.gitFields(checkout)
            members.append(("checkouts", .array([.members([
                ("id", .string(checkoutID)),
                ("origin", .string(origin)),
                ("comment", .string(Self.clean("\(kernel), as tested by \(set.tool.rawValue)"))),
            ] + git.fields + [
                ("start_time", start),
                ("valid", .bool(true)),
                ("misc", Self.cleaned(.members(runMisc + git.misc))),
            ])])))
            let architecture = set.architecture.map(Self.architectureName)
            members.append(("builds", .array([.members([
                ("id", .string(build)),
                ("checkout_id", .string(checkoutID)),
                ("origin", .string(origin)),
                ("comment", .string(Self.clean(([kernel] + [set.configName, set.compiler].compactMap { $0 }).joined(separator: ", ")))),
                ("architecture", architecture.map(JSONValue.string)),
                ("config_name", set.configName.map { .string(Self.clean($0)) }),
                ("compiler", set.compiler.map { .string(Self.clean($0)) }),
                ("misc", Self.cleaned(.members(runMisc + [("architecture", set.architecture.map(JSONValue.string))]))),
            ])])))
        }

        let environment = Self.environment(set)
        var ids: Set<String> = []
        func test(path: String, name: String, status: String, duration: Double?, excerpt: String,
                  misc: [(String, JSONValue?)]) -> JSONValue {
            var id = Self.clean("\(origin):\(build):\(path)")
            if !ids.insert(id).inserted {
                var n = 2
                while !ids.insert("\(id):\(n)").inserted { n += 1 }
                id += ":\(n)"
            }
            return .members([
                ("id", .string(id)),
                ("build_id", .string(build)),
                ("origin", .string(origin)),
                ("path", .string(path)),
                ("comment", .string(Self.clean(name))),
                ("status", .string(status)),
                ("environment", environment),
                ("start_time", start),
                ("duration", duration.map(JSONValue.number)),
                ("log_excerpt", .string(excerpt)),
                ("misc", Self.cleaned(.members(misc + runMisc))),
            ])
        }
        let bootName = Self.root(of: set.tool) + ".boot"
        var tests = [test(path: bootName, name: "\(kernel) booted and ran the tests", status: "PASS", duration: nil,
                          excerpt: Self.excerpt(set.warnings.map { "warning: " + $0 } + ["booted \(kernel)"]),
                          misc: [("name", .string("boot")), ("status", .string("pass"))])]
        for result in set.tests {
            tests.append(test(path: Self.path(result.name, tool: set.tool), name: result.name, status: Self.status(result.status),
                              duration: result.duration, excerpt: Self.excerpt(result.diagnostics + [Self.outcomeLine(result)]),
                              misc: [("name", .string(result.name)), ("status", .string(result.status.rawValue)),
                                     ("reason", result.reason.map(JSONValue.string))]))
        }
        members.append(("tests", .array(tests)))
        return .members(members)
    }

    /// The test's outcome as the last line of its excerpt: `fail: <reason>`, `pass`.
    static func outcomeLine(_ test: ResultSet.Test) -> String {
        test.status.rawValue + (test.reason.map { ": " + $0 } ?? "")
    }

    /// A test's `environment`: the machine facts, as far as the results know them.
    static func environment(_ set: ResultSet) -> JSONValue {
        let described = [set.architecture, set.machine].compactMap { $0 }
        let comment = described.isEmpty ? "machine facts not recorded" : described.joined(separator: ": ")
        return cleaned(.members([
            ("comment", .string(comment)),
            ("misc", .members([
                ("architecture", set.architecture.map(JSONValue.string)),
                ("machine", set.machine.map(JSONValue.string)),
                ("kernel_release", set.kernelRelease.map(JSONValue.string)),
                ("hmmkit_version", .string(set.hmmkitVersion)),
            ])),
        ]))
    }

    /// KCIDB's architecture names (`^[a-z0-9_]*$`): lower case, other characters `_`.
    static func architectureName(_ machine: String) -> String {
        String(machine.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") ? $0 : "_" })
    }

    /// The checkout's git fields the schema accepts, and the rest for `misc`.
    static func gitFields(_ checkout: Checkout?) -> (fields: [(String, JSONValue?)], misc: [(String, JSONValue?)]) {
        guard let checkout else { return ([], []) }
        var fields: [(String, JSONValue?)] = []
        var misc: [(String, JSONValue?)] = []
        if let url = checkout.repositoryURL {
            if isHTTPSURL(url) {
                fields.append(("git_repository_url", .string(url)))
            } else {
                misc.append(("git_repository", .string(url)))
            }
        }
        if let commit = checkout.commitHash {
            if isHex(commit, count: 40) {
                fields.append(("git_commit_hash", .string(commit)))
            } else {
                misc.append(("git_commit", .string(commit)))
            }
        }
        if let hash = checkout.patchsetHash {
            if hash.isEmpty || isHex(hash, count: 64) {
                fields.append(("patchset_hash", .string(hash)))
            } else {
                misc.append(("patchset", .string(hash)))
            }
        }
        if let id = checkout.messageID {
            if isMessageID(id) { fields.append(("message_id", .string(id))) } else { misc.append(("message", .string(id))) }
        }
        return (fields, misc)
    }

    static func isHex(_ s: String, count: Int) -> Bool {
        s.utf8.count == count && s.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// `https://host/…` with no space or control character.
    static func isHTTPSURL(_ s: String) -> Bool {
        s.hasPrefix("https://") && s.count > 8
            && !s.unicodeScalars.contains { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }
    }

    /// `local@domain` as the schema's e-mail format reads it: one `@`, both sides non-empty,
    /// printable ASCII without spaces, brackets or quotes.
    static func isMessageID(_ s: String) -> Bool {
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty }) else { return false }
        return s.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F && !"<>()[]\\,;:\"".unicodeScalars.contains($0) }
    }

    /// The KCIDB JSON text, ending with a newline.
    public func text(for set: ResultSet) -> String { document(for: set).rendered() + "\n" }

    public static func status(_ status: TestStatus) -> String {
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

    /// The lines, keeping the end (where a failure is explained) when longer than
    /// ``excerptLimit`` bytes of UTF-8; cut between characters, never inside one.
    static func excerpt(_ lines: [String]) -> String {
        let text = clean(lines.joined(separator: "\n") + "\n")
        guard text.utf8.count > excerptLimit else { return text }
        let marker = "[… earlier lines cut]\n"
        var budget = excerptLimit - marker.utf8.count
        var kept = String.UnicodeScalarView()
        var tail: [Unicode.Scalar] = []
        for scalar in text.unicodeScalars.reversed() {
            let size = UTF8.width(scalar)
            guard size <= budget else { break }
            budget -= size
            tail.append(scalar)
        }
        kept.append(contentsOf: tail.reversed())
        return marker + String(kept)
    }

    /// 16 hex digits of FNV-1a over the results JSON: stable for the same results, whichever
    /// hmmkit version writes them (a resubmission of the same results updates the same objects).
    static func runKey(_ set: ResultSet) -> String {
        var results = set
        results.hmmkitVersion = ""
        return StableHash.hex(results.json.rendered(pretty: false))
    }
}
