/// A forgiving KTAP / TAP 13/14 reader for kselftest output, kernel consoles and runner logs.
///
/// It never fails: problems become ``KTAPParseError``s in the document, and lines it does not
/// understand are kept as ``KTAPDocument/unknownLines``. Nesting is recognised two ways:
/// - KTAP v1: an indented version line (or `# Subtest:`) opens a block whose lines carry that
///   indentation; the parent's unindented result line closes it.
/// - kselftest runners (`runner.sh`, `run_vmtests.sh`): a program's whole output is prefixed
///   with `# `, so `# TAP version 13` opens a block and the runner's own result line closes it.
///
/// `# ` diagnostics attach to the next result at their level; the harness's `#  RUN` line
/// starts a fresh test, so nothing printed before it (`# Starting …`) is blamed on that test.
public struct KTAPParser: Sendable {
    /// What one line meant, for callers that follow a run live.
    public enum Event: Sendable, Hashable {
        /// The harness announced a test (`#  RUN`); `depth` 0 is the outermost document.
        case started(name: String, depth: Int)
        case result(KTAPTestCase, depth: Int)
        case bailOut(String, depth: Int)
    }

    /// One open nesting level.
    private struct Frame: Sendable {
        var prefix: String
        var startLine: Int
        var version: KTAPDocument.Version?
        var plan: Int?
        var skipReason: String?
        var name: String?
        var cases: [KTAPTestCase] = []
        var seenNumbers: Set<Int> = []
        /// Diagnostics waiting for the next result line.
        var pending: [String] = []
        /// Diagnostics that belong to no test.
        var loose: [String] = []
        var pendingDuration: Duration?
        var running: (name: String, line: Int)?
        var reportedTotals: KTAPTotals?
        var bailOut: String?

        init(prefix: String, startLine: Int) {
            self.prefix = prefix
            self.startLine = startLine
        }

        /// Whether `line` is at this level or deeper. A `# ` prefix also owns a bare `#`
        /// (the prefixed form of an empty line, after trailing blanks are dropped).
        func owns(_ line: Substring) -> Bool {
            line.hasPrefix(prefix) || (prefix.hasSuffix(" ") && line == prefix.trimmed)
        }
    }

    /// The deepest nesting read: kselftest's runners nest 2 or 3 deep. A deeper block's opening
    /// line is an error and is not read, so neither memory nor the time per line (every line
    /// is matched against the open blocks' prefixes) grows with what a log claims.
    public static let maximumDepth = 16

    private var frames = [Frame(prefix: "", startLine: 1)]
    private var lineNumber = 0
    private var unknownLines: [KTAPLine] = []
    private var errors: [KTAPParseError] = []

    public init() {}

    /// Parses a complete text (`\n` or `\r\n` line ends).
    public static func parse(_ text: String) -> KTAPDocument {
        var parser = KTAPParser()
        // "\r\n" is a single Character, so splitting on "\n" alone would miss it.
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            parser.feed(line: line)
        }
        return parser.finish()
    }

    /// The document so far: open tests and blocks are closed as if the input ended here,
    /// so it also serves as a live snapshot.
    public func finish() -> KTAPDocument {
        var copy = self
        while copy.frames.count > 1 { copy.closeUnfinishedFrame() }
        var document = copy.close(copy.frames[0], isRoot: true)
        document.unknownLines = copy.unknownLines
        document.errors = copy.errors
        return document
    }

    /// Consumes one line (without its newline).
    @discardableResult
    public mutating func feed(line raw: some StringProtocol) -> Event? {
        lineNumber += 1
        let line = Substring(raw).trimmedTrailing
        if line.isEmpty { return nil }

        var level = frames.count - 1
        while level > 0 && !frames[level].owns(line) { level -= 1 }
        let content = line.dropFirst(frames[level].prefix.count)
        if content.isEmpty { return nil }

        if openNestedBlock(content, at: level) { return nil }
        if let (version, supported) = KTAPLineSyntax.version(content) {
            if !supported { errors.append(.init(.unsupportedVersion(String(content)), line: lineNumber)) }
            if frames[level].version == nil && frames[level].cases.isEmpty && frames[level].plan == nil {
                frames[level].version = version
            } else if level > 0 {
                // A sibling block: the one at this level never got its parent's result line.
                let prefix = frames[level].prefix
                while frames.count - 1 >= level { closeUnfinishedFrame() }
                var frame = Frame(prefix: prefix, startLine: lineNumber)
                frame.version = version
                frames.append(frame)
            } else {
                errors.append(.init(.unexpectedVersion, line: lineNumber))
            }
            return nil
        }
        if let (count, skipReason) = KTAPLineSyntax.plan(content) {
            if frames[level].plan != nil {
                errors.append(.init(.duplicatePlan, line: lineNumber))
            } else {
                frames[level].plan = count
                frames[level].skipReason = skipReason
            }
            return nil
        }
        if let (number, test) = KTAPLineSyntax.result(content) {
            return record(test, number: number, at: level)
        }
        if let reason = KTAPLineSyntax.bailOut(content) {
            if frames[level].bailOut == nil { frames[level].bailOut = reason }
            return .bailOut(reason, depth: level)
        }
        if let text = KTAPLineSyntax.diagnostic(content) {
            return diagnose(text, at: level)
        }
        unknownLines.append(KTAPLine(number: lineNumber, text: String(line)))
        return nil
    }

    // MARK: Nesting

    /// Opens a block for an indented version / `# Subtest:` line or a `# `-prefixed version line.
    private mutating func openNestedBlock(_ content: Substring, at level: Int) -> Bool {
        let indentation = content.prefix { $0 == " " || $0 == "\t" }
        let addedPrefix: Substring
        var version: (KTAPDocument.Version, supported: Bool)?
        var name: String?
        if !indentation.isEmpty {
            let inner = content.dropFirst(indentation.count)
            version = KTAPLineSyntax.version(inner)
            name = KTAPLineSyntax.diagnostic(inner).flatMap(KTAPLineSyntax.subtestHeader)
            guard version != nil || name != nil else { return false }
            addedPrefix = indentation
        } else if content.hasPrefix("# "), let found = KTAPLineSyntax.version(content.dropFirst(2)) {
            version = found
            addedPrefix = "# "
        } else {
            return false
        }
        if level + 1 > Self.maximumDepth {
            errors.append(.init(.nestedTooDeep(limit: Self.maximumDepth), line: lineNumber))
            return true
        }
        // A new block at this level ends any deeper one that never got its result line.
        while frames.count - 1 > level { closeUnfinishedFrame() }
        var frame = Frame(prefix: frames[level].prefix + addedPrefix, startLine: lineNumber)
        frame.version = version?.0
        frame.name = name
        if let version, !version.supported {
            errors.append(.init(.unsupportedVersion(String(content.trimmed)), line: lineNumber))
        }
        frames.append(frame)
        return true
    }

    /// Ends the innermost block at end of input or when a sibling starts: its results are
    /// kept under a stand-in parent result marked `.error`, so nothing that ran is lost.
    private mutating func closeUnfinishedFrame() {
        let frame = frames.removeLast()
        errors.append(.init(.missingResult(name: frame.name), line: frame.startLine))
        let nested = close(frame, isRoot: false)
        let level = frames.count - 1
        let test = KTAPTestCase(
            name: frame.name ?? "", status: .error, reason: "no result line",
            diagnostics: frames[level].pending + nested.diagnostics, subtests: nested.cases)
        frames[level].pending = []
        frames[level].cases.append(test)
    }

    /// Turns a finished level into a document, checking it against its own plan and totals.
    private mutating func close(_ frame: Frame, isRoot: Bool) -> KTAPDocument {
        if let running = frame.running {
            errors.append(.init(.missingResult(name: running.name), line: running.line))
        }
        if let plan = frame.plan, plan != frame.cases.count {
            errors.append(.init(.planMismatch(planned: plan, ran: frame.cases.count), line: lineNumber))
        }
        let counted = KTAPTotals(counting: frame.cases.map(\.status))
        if let reported = frame.reportedTotals, reported != counted {
            errors.append(.init(.totalsMismatch(reported: reported, counted: counted), line: lineNumber))
        }
        if isRoot, frame.version == nil, !frame.cases.isEmpty {
            errors.append(.init(.missingVersion, line: nil))
        }
        var diagnostics = frame.loose + frame.pending
        if !isRoot, let reason = frame.bailOut { diagnostics.append("Bail out! " + reason) }
        return KTAPDocument(
            version: frame.version, plan: frame.plan, cases: frame.cases, skipReason: frame.skipReason,
            diagnostics: diagnostics, reportedTotals: frame.reportedTotals,
            bailOut: isRoot ? frame.bailOut : nil)
    }

    // MARK: Lines within a level

    private mutating func record(_ parsed: KTAPTestCase, number: Int?, at level: Int) -> Event {
        while frames.count - 1 > level + 1 { closeUnfinishedFrame() }
        var test = parsed
        var childDiagnostics: [String] = []
        if frames.count - 1 == level + 1 {
            let nested = close(frames.removeLast(), isRoot: false)
            test.subtests = nested.cases
            childDiagnostics = nested.diagnostics
        }

        let expected = frames[level].cases.count + 1
        if let number {
            if frames[level].seenNumbers.contains(number) {
                errors.append(.init(.duplicateNumber(number), line: lineNumber))
            } else if number != expected {
                errors.append(.init(.unexpectedNumber(expected: expected, found: number), line: lineNumber))
            }
            frames[level].seenNumbers.insert(number)
        }
        test.diagnostics = frames[level].pending + childDiagnostics
        if test.status == .skip {  // the harness's SKIP notice repeats the directive's reason
            test.diagnostics.removeAll { KTAPLineSyntax.skipNotice($0) != nil }
        }
        test.duration = frames[level].pendingDuration
        frames[level].pending = []
        frames[level].pendingDuration = nil
        frames[level].running = nil
        frames[level].cases.append(test)
        return .result(test, depth: level)
    }

    private mutating func diagnose(_ text: Substring, at level: Int) -> Event? {
        if let name = KTAPLineSyntax.runMarker(text) {
            if let previous = frames[level].running {
                errors.append(.init(.missingResult(name: previous.name), line: previous.line))
            }
            frames[level].loose += frames[level].pending
            frames[level].pending = []
            frames[level].running = (name, lineNumber)
            return .started(name: name, depth: level)
        }
        if KTAPLineSyntax.isVerdictMarker(text) { return nil }
        if let duration = KTAPLineSyntax.duration(text) {
            frames[level].pendingDuration = duration
            return nil
        }
        if level > 0, let name = KTAPLineSyntax.subtestHeader(text), frames[level].name == nil,
           frames[level].cases.isEmpty, frames[level].plan == nil {
            frames[level].name = name
            return nil
        }
        if let totals = KTAPLineSyntax.totals(text) { frames[level].reportedTotals = totals }
        frames[level].pending.append(String(text))
        return nil
    }
}

extension Substring {
    /// Without trailing whitespace (including a `\r` from CRLF consoles).
    var trimmedTrailing: Substring {
        let end = lastIndex { !$0.isWhitespace }.map { index(after: $0) } ?? startIndex
        return self[..<end]
    }
}
