import HMMModel
import HMMUAPI

/// One step of a fixture: an action plus the model's expectation when the fixture was written.
public struct Step: Equatable, Sendable {
    public var action: Action
    /// The envelope text (`Envelope.description`) the model derived; nil if not derived.
    public var expectation: String?
    /// Machine notes (envelope notes, hazards, expected warnings), one per line.
    public var notes: [String]

    public init(_ action: Action, expectation: String? = nil, notes: [String] = []) {
        self.action = action
        self.expectation = expectation
        self.notes = notes
    }
}

/// A reproducible test: header (format version, seed, profile, environment) and steps.
/// See `Fixtures/README.md` for the text format.
public struct Fixture: Equatable, Sendable {
    public static let formatVersion = 1
    /// Header lines between `hmmkit-fixture`/`about` and the first step.
    public static let headerKeys: Set<String> = [
        "seed", "profile", "devices", "nodes", "local-node", "thp", "coherent-capacity", "files", "data",
    ]

    public var seed: UInt64?
    /// Free text from `about` header lines (what the fixture reproduces).
    public var about: [String] = []
    public var profile: KernelProfile
    public var environment: Environment
    public var steps: [Step]
    /// How page tokens become bytes on the kernel (`data int-runs`: hmm-tests' int patterns,
    /// as hmmkit's kselftest-named tests write them; default: ``PageContent``).
    public var data: PageCodec = .mixed

    public init(seed: UInt64? = nil, profile: KernelProfile, environment: Environment = Environment(), steps: [Step] = []) {
        self.seed = seed
        self.profile = profile
        self.environment = environment
        self.steps = steps
    }

    public var actions: [Action] { steps.map(\.action) }

    /// A fresh model for this fixture's profile and environment.
    public func makeModel() -> Model { Model(profile: profile, environment: environment) }

    /// The index of the first step whose precondition fails, with the reason (nil if all hold).
    public func firstViolation() -> (index: Int, reason: String)? {
        var m = makeModel()
        for (i, st) in steps.enumerated() {
            if let v = m.violation(of: st.action) { return (i, v) }
            m.step(st.action)
        }
        if m.inChild { return (steps.count, "fork block not closed") }
        return nil
    }

    /// The same steps with expectations and notes re-derived by the model (primary outcomes).
    /// Steps that violate preconditions keep no expectation.
    public func derived() -> Fixture {
        var out = self
        var m = makeModel()
        for i in out.steps.indices {
            let a = out.steps[i].action
            if m.violation(of: a) != nil {
                out.steps[i].expectation = nil
                out.steps[i].notes = []
                continue
            }
            let e = m.step(a)
            switch a {
            case .fork, .exitChild:
                out.steps[i].expectation = nil
            default:
                out.steps[i].expectation = e.description
            }
            var notes = e.notes
            if let h = e.hazard { notes.append("HAZARD: " + h) }
            if let w = e.kernelWarning { notes.append("WARN: " + w) }
            out.steps[i].notes = notes
        }
        return out
    }

    /// Whether a kernel described by `other` may replay this fixture as written: `other` is the
    /// fixture's profile, or the model derives the same expectation for every step under both
    /// (the switches that differ do not matter to these steps). A replayer recomputes
    /// expectations with `other` either way.
    public func sameExpectations(under other: KernelProfile) -> Bool {
        if other == profile { return true }
        var there = self
        there.profile = other
        return there.sameExpectations(as: self)
    }

    /// Whether the model derives the same expectation for every step of this fixture and
    /// of `other` (the same steps under another profile or environment).
    public func sameExpectations(as other: Fixture) -> Bool {
        derived().steps.map(\.expectation) == other.derived().steps.map(\.expectation)
    }

    /// The text form (format version 1).
    public var text: String { FixtureWriter.write(self) }

    /// Parses the text form. `expectedProfile`, when given, must equal the fixture's profile.
    public static func parse(_ text: String, file: String = "<fixture>",
                             expectedProfile: KernelProfile? = nil) throws(FixtureError) -> Fixture {
        try FixtureParser(text: text, file: file).parse(expectedProfile: expectedProfile).fixture
    }

    /// ``parse(_:file:expectedProfile:)`` plus the 1-based line number of every step.
    public static func parseWithLines(_ text: String, file: String = "<fixture>") throws(FixtureError) -> (fixture: Fixture, lines: [Int]) {
        try FixtureParser(text: text, file: file).parse(expectedProfile: nil)
    }
}

/// A problem in a fixture file, with where it is.
public struct FixtureError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }
    public var description: String { "\(file):\(line): \(message)" }
}

// MARK: - Text form

enum Syntax {
    static func op(_ c: DmirrorOperation) -> String {
        switch c {
        case .read: "read"
        case .write: "write"
        case .migrateToDevice: "migrate-to-dev"
        case .migrateToSystem: "migrate-to-sys"
        case .snapshot: "snapshot"
        case .exclusive: "exclusive"
        case .checkExclusive: "check-exclusive"
        case .release: "release"
        case .flags: "flags"
        }
    }

    static let ops: [String: DmirrorOperation] = Dictionary(uniqueKeysWithValues: DmirrorOperation.allCases.map { (op($0), $0) })

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    static func range(_ r: PageRange) -> String { "r\(r.region) \(r.first) \(r.count)" }

    /// Token lists: `[a,b*3,c..d]` (hex or decimal).
    static func tokens(_ values: [UInt64]) -> String {
        ValueList.render(PageValues(values), hex: true, width: 0)
    }

    static func action(_ a: Action) -> String {
        switch a {
        case let .mmap(r, pages, prot, kind, file, offset):
            var s = "mmap r\(r) pages=\(pages) prot=\(prot.rawValue) kind=\(kind.rawValue)"
            if let file { s += " file=F\(file) offset=\(offset)" }
            return s
        case let .munmap(r): return "munmap " + range(r)
        case let .mprotect(r, p): return "mprotect " + range(r) + " prot=\(p.rawValue)"
        case let .mremap(r, to): return "mremap " + range(r) + " to=r\(to)"
        case let .madvise(r, adv): return "madvise " + range(r) + " \(adv.rawValue)"
        case let .cpuRead(r, p): return "cpu-read r\(r) \(p)"
        case let .cpuWrite(r, p, t): return "cpu-write r\(r) \(p) \(hex(t))"
        case .fork: return "fork {"
        case .exitChild: return "}"
        case let .fileCreate(f, pages): return "file-create F\(f) pages=\(pages)"
        case let .fileWrite(f, p, t): return "file-write F\(f) \(p) \(hex(t))"
        case let .fileTruncate(f, pages): return "file-truncate F\(f) pages=\(pages)"
        case let .filePunchHole(f, first, count): return "file-punch F\(f) \(first) \(count)"
        case let .open(fd, minor): return "open f\(fd) dev=\(minor)"
        case let .close(fd): return "close f\(fd)"
        case let .ioctl(c):
            var s = "ioctl f\(c.fd) \(op(c.command)) " + range(c.range)
            if c.misalign != 0 { s += " misalign=\(c.misalign)" }
            if c.command == .write { s += " data=" + tokens(c.data) }
            return s
        case let .mbind(r, node): return "mbind " + range(r) + " node=\(node)"
        case let .movePages(r, node): return "move-pages " + range(r) + " node=\(node)"
        case let .queryNodes(r): return "query-nodes " + range(r)
        }
    }
}

enum FixtureWriter {
    static func write(_ f: Fixture) -> String {
        var out = "hmmkit-fixture \(Fixture.formatVersion)\n"
        for a in f.about { out += "about \(a)\n" }
        if let seed = f.seed { out += "seed \(seed)\n" }
        out += "profile \(f.profile.name)\n"
        out += "devices " + f.environment.devices.map(String.init).joined(separator: " ") + "\n"
        out += "nodes " + f.environment.nodes.map(String.init).joined(separator: " ") + "\n"
        out += "local-node " + (f.environment.localNode.map(String.init) ?? "unknown") + "\n"
        out += "thp \(f.environment.thp.rawValue)\n"
        if f.environment.coherentCapacity != Environment().coherentCapacity {
            out += "coherent-capacity \(f.environment.coherentCapacity)\n"
        }
        if f.environment.files != Environment().files { out += "files \(f.environment.files.rawValue)\n" }
        if f.data == .intRuns { out += "data int-runs\n" }
        out += "# steps\n"
        var depth = 0
        for st in f.steps {
            if case .exitChild = st.action { depth = max(0, depth - 1) }
            let indent = String(repeating: "  ", count: depth)
            var line = indent + Syntax.action(st.action)
            if let e = st.expectation { line += "  => " + e }
            out += line + "\n"
            for n in st.notes { out += indent + "#: " + n + "\n" }
            if case .fork = st.action { depth += 1 }
        }
        return out
    }
}

struct FixtureParser {
    let text: String
    let file: String

    func fail(_ line: Int, _ message: String) -> FixtureError { FixtureError(file: file, line: line, message: message) }

    func parse(expectedProfile: KernelProfile?) throws(FixtureError) -> (fixture: Fixture, lines: [Int]) {
        guard text.utf8.count <= FixtureLimits.fileBytes else {
            throw fail(1, "file is \(text.utf8.count) bytes, over the limit of \(FixtureLimits.fileBytes)")
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let first = lines.first?.trimmingSpaces, !first.isEmpty else {
            throw fail(1, "empty file: expected 'hmmkit-fixture <version>'")
        }
        let head = first.split(separator: " ")
        guard head.count == 2, head[0] == "hmmkit-fixture" else {
            throw fail(1, "not an hmmkit fixture: expected 'hmmkit-fixture <version>', found '\(first)'")
        }
        guard let version = Int(head[1]) else { throw fail(1, "format version '\(head[1])' is not a number") }
        guard version == Fixture.formatVersion else {
            throw fail(1, "unsupported format version \(version) (this reader knows version \(Fixture.formatVersion))")
        }
        var seed: UInt64?
        var about: [String] = []
        var profile: KernelProfile?
        var env = Environment()
        var data = PageCodec.mixed
        var steps: [Step] = []
        var stepLines: [Int] = []
        var inSteps = false
        var forkLine: Int?
        var localNodeLine = 0
        var totalPages = 0
        var dataTokens = 0
        for (i, raw) in lines.enumerated().dropFirst() {
            let n = i + 1
            guard raw.utf8.count <= FixtureLimits.lineLength else {
                throw fail(n, "line is \(raw.utf8.count) characters, over the limit of \(FixtureLimits.lineLength)")
            }
            let line = raw.trimmingSpaces
            if line.isEmpty { continue }
            if line.hasPrefix("#:") {
                guard !steps.isEmpty else { throw fail(n, "a '#:' note must follow a step") }
                steps[steps.count - 1].notes.append(String(line.dropFirst(2)).trimmingSpaces)
                continue
            }
            if line.hasPrefix("#") { continue }
            var body = line
            var expectation: String?
            if let r = line.find("=>") {
                body = String(line[..<r.lowerBound]).trimmingSpaces
                expectation = String(line[r.upperBound...]).trimmingSpaces
                if expectation!.isEmpty { throw fail(n, "empty expectation after '=>'") }
            }
            if line.hasPrefix("about ") || line == "about" {
                if inSteps { throw fail(n, "header line 'about' after the first step") }
                about.append(String(line.dropFirst(5)).trimmingSpaces)
                continue
            }
            let words = body.split(separator: " ").map(String.init)
            guard let key = words.first else { throw fail(n, "'=>' without a step before it") }
            if Fixture.headerKeys.contains(key) {
                if inSteps { throw fail(n, "header line '\(key)' after the first step") }
                let args = Array(words.dropFirst())
                switch key {
                case "seed":
                    guard args.count == 1, let v = UInt64(args[0]) else { throw fail(n, "seed needs one unsigned number") }
                    seed = v
                case "profile":
                    guard args.count == 1 else { throw fail(n, "profile needs one name") }
                    guard let p = KernelProfile.named(args[0]) else {
                        throw fail(n, "unknown profile '\(args[0])' (known: \(KernelProfile.all.map(\.name).joined(separator: ", ")))")
                    }
                    if let expectedProfile, expectedProfile != p {
                        throw fail(n, "fixture is for profile \(p.name) but the kernel under test is \(expectedProfile.name)")
                    }
                    profile = p
                case "devices", "nodes":
                    var vals: [Int] = []
                    for a in args {
                        guard let v = Int(a), v >= 0 else { throw fail(n, "\(key): '\(a)' is not a number") }
                        guard !vals.contains(v) else { throw fail(n, "\(key): \(v) is listed twice") }
                        vals.append(v)
                    }
                    if key == "devices" {
                        guard vals.allSatisfy({ $0 <= FixtureLimits.largestDevice }) else {
                            throw fail(n, "devices are minors 0...\(FixtureLimits.largestDevice)")
                        }
                        env.devices = vals
                    } else {
                        guard !vals.isEmpty, vals.allSatisfy({ $0 <= FixtureLimits.largestNode }) else {
                            throw fail(n, "nodes: one or more of 0...\(FixtureLimits.largestNode)")
                        }
                        env.nodes = vals
                    }
                case "local-node":
                    guard args.count == 1 else { throw fail(n, "local-node needs a node or 'unknown'") }
                    if args[0] == "unknown" { env.localNode = nil } else {
                        guard let v = Int(args[0]), (0...FixtureLimits.largestNode).contains(v) else {
                            throw fail(n, "local-node: '\(args[0])' is not a node number 0...\(FixtureLimits.largestNode) or 'unknown'")
                        }
                        env.localNode = v
                        localNodeLine = n
                    }
                case "thp":
                    guard args.count == 1, let m = THPMode(rawValue: args[0]) else { throw fail(n, "thp must be never, madvise or always") }
                    env.thp = m
                case "files":
                    guard args.count == 1, let b = FileBacking(rawValue: args[0]) else {
                        throw fail(n, "files must be page-mkwrite or tmpfs")
                    }
                    env.files = b
                case "data":
                    switch args {
                    case ["int-runs"]: data = .intRuns
                    case ["mixed"]: data = .mixed
                    default: throw fail(n, "data must be mixed or int-runs")
                    }
                default:
                    guard args.count == 1, let v = Int(args[0]), v > 0 else { throw fail(n, "coherent-capacity needs a positive number") }
                    env.coherentCapacity = v
                }
                continue
            }
            guard profile != nil else { throw fail(n, "missing 'profile' line before the first step") }
            inSteps = true
            guard steps.count < FixtureLimits.steps else { throw fail(n, "more than \(FixtureLimits.steps) steps") }
            let action = try parseAction(words, line: n)
            switch action {
            case let .mmap(_, pages, _, _, _, _), let .fileCreate(_, pages), let .fileTruncate(_, pages):
                totalPages += pages
                if totalPages > FixtureLimits.totalPages {
                    throw fail(n, "the fixture's regions and files come to more than \(FixtureLimits.totalPages) pages")
                }
            case let .ioctl(call):
                dataTokens += call.data.count
                if dataTokens > FixtureLimits.dataTokens {
                    throw fail(n, "the fixture's data= lists come to more than \(FixtureLimits.dataTokens) tokens")
                }
            default: break
            }
            switch action {
            case .fork:
                if let f = forkLine { throw fail(n, "nested fork (block opened at line \(f) is still open)") }
                forkLine = n
            case .exitChild:
                if forkLine == nil { throw fail(n, "'}' without an open fork block") }
                forkLine = nil
            default: break
            }
            steps.append(Step(action, expectation: expectation))
            stepLines.append(n)
        }
        if let f = forkLine { throw fail(lines.count, "truncated: fork block opened at line \(f) is not closed") }
        guard let profile else { throw fail(lines.count, "truncated: no 'profile' line") }
        if let local = env.localNode, !env.nodes.contains(local) {
            let nodes = env.nodes.map(String.init).joined(separator: " ")
            throw fail(localNodeLine, "local-node \(local) is not one of the fixture's nodes (\(nodes))")
        }
        var fixture = Fixture(seed: seed, profile: profile, environment: env, steps: steps)
        fixture.about = about
        fixture.data = data
        return (fixture, stepLines)
    }

    func id(_ s: String, _ prefix: Character, line: Int, what: String) throws(FixtureError) -> Int {
        guard s.first == prefix, let v = Int(s.dropFirst()), v >= 0 else {
            throw fail(line, "expected \(what) like '\(prefix)0', found '\(s)'")
        }
        guard v <= FixtureLimits.largestID else {
            throw fail(line, "\(what) '\(s)': numbers go up to \(prefix)\(FixtureLimits.largestID)")
        }
        return v
    }

    /// A page number, page count or offset: 0...pagesPerMapping (so sums never overflow).
    func int(_ s: String, line: Int, what: String, max: Int = FixtureLimits.pagesPerMapping) throws(FixtureError) -> Int {
        guard let v = Int(s) else { throw fail(line, "\(what): '\(s)' is not a number") }
        guard (0...max).contains(v) else { throw fail(line, "\(what): \(v) is outside 0...\(max)") }
        return v
    }

    func token(_ s: String, line: Int) throws(FixtureError) -> UInt64 {
        let v: UInt64? = s.hasPrefix("0x") ? UInt64(s.dropFirst(2), radix: 16) : UInt64(s)
        guard let v else { throw fail(line, "'\(s)' is not a token (hex 0x... or decimal)") }
        return v
    }

    /// `key=value` arguments.
    func options(_ words: ArraySlice<String>, line: Int, allowed: Set<String>) throws(FixtureError) -> [String: String] {
        var out: [String: String] = [:]
        for w in words {
            guard let eq = w.firstIndex(of: "=") else { throw fail(line, "unexpected argument '\(w)' (expected key=value)") }
            let k = String(w[..<eq])
            let v = String(w[w.index(after: eq)...])
            guard allowed.contains(k) else {
                throw fail(line, "unknown option '\(k)' (allowed: \(allowed.sorted().joined(separator: ", ")))")
            }
            out[k] = v
        }
        return out
    }

    func pageRange(_ w: [String], at i: Int, line: Int) throws(FixtureError) -> PageRange {
        guard w.count >= i + 3 else { throw fail(line, "'\(w[0])' needs a range: r<id> <first> <count>") }
        return PageRange(try id(w[i], "r", line: line, what: "a region"), try int(w[i + 1], line: line, what: "first page"),
                         try int(w[i + 2], line: line, what: "page count"))
    }

    func tokenList(_ s: String, line: Int) throws(FixtureError) -> [UInt64] {
        guard s.hasPrefix("["), s.hasSuffix("]") else { throw fail(line, "data must be a list like [0x1,0x2*3,0x5..0x9]") }
        let inner = s.dropFirst().dropLast()
        if inner.isEmpty { return [] }
        var out: [UInt64] = []
        for item in inner.split(separator: ",").map(String.init) {
            if let star = item.firstIndex(of: "*") {
                let v = try token(String(item[..<star]), line: line)
                let c = try int(String(item[item.index(after: star)...]), line: line, what: "repeat count")
                guard c > 0, out.count + c <= FixtureLimits.pagesPerMapping else { throw fail(line, "bad repeat count in '\(item)'") }
                out += [UInt64](repeating: v, count: c)
            } else if let dots = item.find("..") {
                let a = try token(String(item[..<dots.lowerBound]), line: line)
                let b = try token(String(item[dots.upperBound...]), line: line)
                guard b >= a, b - a < UInt64(FixtureLimits.pagesPerMapping - out.count) else { throw fail(line, "bad token run '\(item)'") }
                for v in a...b { out.append(v) }
            } else {
                guard out.count < FixtureLimits.pagesPerMapping else {
                    throw fail(line, "more than \(FixtureLimits.pagesPerMapping) tokens")
                }
                out.append(try token(item, line: line))
            }
        }
        return out
    }

    func parseAction(_ w: [String], line n: Int) throws(FixtureError) -> Action {
        func need(_ count: Int, _ usage: String) throws(FixtureError) {
            if w.count < count { throw fail(n, "truncated '\(w[0])': usage '\(usage)'") }
        }
        switch w[0] {
        case "mmap":
            try need(2, "mmap r<id> pages=N prot=none|r|rw kind=<kind> [file=F<id> offset=N]")
            let r = try id(w[1], "r", line: n, what: "a region")
            let o = try options(w[2...], line: n, allowed: ["pages", "prot", "kind", "file", "offset"])
            guard let ps = o["pages"] else { throw fail(n, "mmap needs pages=N") }
            let pages = try int(ps, line: n, what: "pages")
            guard let prot = Protection(rawValue: o["prot"] ?? "") else { throw fail(n, "mmap needs prot=none|r|rw") }
            guard let kind = MappingKind(rawValue: o["kind"] ?? "") else {
                throw fail(n, "mmap needs kind=\(MappingKind.allCases.map(\.rawValue).joined(separator: "|"))")
            }
            let file = try o["file"].map { (s: String) throws(FixtureError) in try id(s, "F", line: n, what: "a file") }
            let offset = try int(o["offset"] ?? "0", line: n, what: "offset")
            return .mmap(r, pages: pages, prot: prot, kind: kind, file: file, offset: offset)
        case "munmap":
            return .munmap(try pageRange(w, at: 1, line: n))
        case "mprotect":
            let r = try pageRange(w, at: 1, line: n)
            let o = try options(w[4...], line: n, allowed: ["prot"])
            guard let p = Protection(rawValue: o["prot"] ?? "") else { throw fail(n, "mprotect needs prot=none|r|rw") }
            return .mprotect(r, p)
        case "mremap":
            let r = try pageRange(w, at: 1, line: n)
            let o = try options(w[4...], line: n, allowed: ["to"])
            guard let t = o["to"] else { throw fail(n, "mremap needs to=r<id>") }
            return .mremap(r, to: try id(t, "r", line: n, what: "a region"))
        case "madvise":
            let r = try pageRange(w, at: 1, line: n)
            try need(5, "madvise r<id> <first> <count> dontneed|free|hugepage|nohugepage")
            guard let a = Advice(rawValue: w[4]) else { throw fail(n, "unknown advice '\(w[4])'") }
            return .madvise(r, a)
        case "cpu-read":
            try need(3, "cpu-read r<id> <page>")
            return .cpuRead(try id(w[1], "r", line: n, what: "a region"), page: try int(w[2], line: n, what: "page"))
        case "cpu-write":
            try need(4, "cpu-write r<id> <page> <token>")
            return .cpuWrite(try id(w[1], "r", line: n, what: "a region"), page: try int(w[2], line: n, what: "page"),
                             token: try token(w[3], line: n))
        case "fork":
            guard w.count == 2, w[1] == "{" else { throw fail(n, "expected 'fork {'") }
            return .fork
        case "}":
            return .exitChild
        case "file-create":
            try need(3, "file-create F<id> pages=N")
            let o = try options(w[2...], line: n, allowed: ["pages"])
            return .fileCreate(try id(w[1], "F", line: n, what: "a file"), pages: try int(o["pages"] ?? "", line: n, what: "pages"))
        case "file-write":
            try need(4, "file-write F<id> <page> <token>")
            return .fileWrite(try id(w[1], "F", line: n, what: "a file"), page: try int(w[2], line: n, what: "page"),
                              token: try token(w[3], line: n))
        case "file-truncate":
            try need(3, "file-truncate F<id> pages=N")
            let o = try options(w[2...], line: n, allowed: ["pages"])
            return .fileTruncate(try id(w[1], "F", line: n, what: "a file"), pages: try int(o["pages"] ?? "", line: n, what: "pages"))
        case "file-punch":
            try need(4, "file-punch F<id> <first> <count>")
            return .filePunchHole(try id(w[1], "F", line: n, what: "a file"), first: try int(w[2], line: n, what: "first"),
                                  count: try int(w[3], line: n, what: "count"))
        case "open":
            try need(3, "open f<id> dev=N")
            let o = try options(w[2...], line: n, allowed: ["dev"])
            return .open(try id(w[1], "f", line: n, what: "an fd"),
                         minor: try int(o["dev"] ?? "", line: n, what: "dev", max: FixtureLimits.largestDevice))
        case "close":
            try need(2, "close f<id>")
            return .close(try id(w[1], "f", line: n, what: "an fd"))
        case "ioctl":
            try need(6, "ioctl f<id> <command> r<id> <first> <count> [misalign=N] [data=[...]]")
            let fd = try id(w[1], "f", line: n, what: "an fd")
            guard let cmd = Syntax.ops[w[2]] else {
                throw fail(n, "unknown ioctl '\(w[2])' (known: \(Syntax.ops.keys.sorted().joined(separator: ", ")))")
            }
            let r = try pageRange(w, at: 3, line: n)
            let o = try options(w[6...], line: n, allowed: ["misalign", "data"])
            let data = try o["data"].map { (s: String) throws(FixtureError) in try tokenList(s, line: n) } ?? []
            if cmd == .write && data.count != r.count { throw fail(n, "write carries \(data.count) tokens for \(r.count) pages") }
            let misalign = try int(o["misalign"] ?? "0", line: n, what: "misalign", max: FixtureLimits.largestMisalign)
            return .ioctl(IoctlCall(fd: fd, cmd, r, data: data, misalign: misalign))
        case "mbind", "move-pages":
            let r = try pageRange(w, at: 1, line: n)
            let o = try options(w[4...], line: n, allowed: ["node"])
            let node = try int(o["node"] ?? "", line: n, what: "node", max: FixtureLimits.largestNode)
            return w[0] == "mbind" ? .mbind(r, node: node) : .movePages(r, node: node)
        case "query-nodes":
            return .queryNodes(try pageRange(w, at: 1, line: n))
        default:
            throw fail(n, "unknown operation '\(w[0])'")
        }
    }
}

extension String {
    /// The first occurrence of `needle` (no Foundation).
    func find(_ needle: String) -> Range<String.Index>? {
        guard !needle.isEmpty else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(needle) { return i..<index(i, offsetBy: needle.count) }
            i = index(after: i)
        }
        return nil
    }

    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" || c == "\r" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\r" { s = s.dropLast() }
        return String(s)
    }
}

extension Action {
    /// The step as a fixture line writes it (`ioctl f0 migrate-to-dev r1 0 4`).
    public var fixtureText: String { Syntax.action(self) }

    /// What kind of step this is, for grouping divergences: `mmap`, `ioctl migrate-to-dev`.
    public var kindName: String {
        if case let .ioctl(c) = self { return "ioctl " + Syntax.op(c.command) }
        return String(fixtureText.prefix { $0 != " " })
    }
}
