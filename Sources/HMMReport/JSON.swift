/// A JSON value with object keys kept in order, so written files read the same every time.
///
/// hmmkit writes and reads its JSON through this small type instead of Foundation's coders:
/// the output is byte-for-byte predictable, and a parse error can name the line it is on.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case let (.bool(x), .bool(y)): x == y
        case let (.number(x), .number(y)): x == y
        case let (.string(x), .string(y)): x == y
        case let (.array(x), .array(y)): x == y
        case let (.object(x), .object(y)): x.map(\.0) == y.map(\.0) && x.map(\.1) == y.map(\.1)
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let b): hasher.combine(b)
        case .number(let n): hasher.combine(n)
        case .string(let s): hasher.combine(s)
        case .array(let a): hasher.combine(a)
        case .object(let o):
            for (key, value) in o {
                hasher.combine(key)
                hasher.combine(value)
            }
        }
    }

    /// The member `key` of an object (the first, if repeated); nil for other values.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    public var stringValue: String? {
        if case .string(let s) = self { s } else { nil }
    }

    public var numberValue: Double? {
        if case .number(let n) = self { n } else { nil }
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { a } else { nil }
    }

    /// An object built from optional members: nil values are left out.
    public static func members(_ pairs: [(String, JSONValue?)]) -> JSONValue {
        .object(pairs.compactMap { key, value in value.map { (key, $0) } })
    }
}

// MARK: Writing

extension JSONValue {
    /// The JSON text: two-space indentation when `pretty`, otherwise one line; ends without a newline.
    public func rendered(pretty: Bool = true) -> String {
        var out = ""
        write(into: &out, indent: pretty ? "" : nil)
        return out
    }

    private func write(into out: inout String, indent: String?) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += Self.numberText(n)
        case .string(let s): Self.writeString(s, into: &out)
        case .array(let items):
            writeContainer(open: "[", close: "]", count: items.count, into: &out, indent: indent) { i, out, inner in
                items[i].write(into: &out, indent: inner)
            }
        case .object(let members):
            writeContainer(open: "{", close: "}", count: members.count, into: &out, indent: indent) { i, out, inner in
                Self.writeString(members[i].0, into: &out)
                out += inner == nil ? ":" : ": "
                members[i].1.write(into: &out, indent: inner)
            }
        }
    }

    private func writeContainer(
        open: String, close: String, count: Int, into out: inout String, indent: String?,
        item: (Int, inout String, String?) -> Void
    ) {
        out += open
        guard count > 0 else { out += close; return }
        let inner = indent.map { $0 + "  " }
        for i in 0..<count {
            if i > 0 { out += "," }
            if let inner { out += "\n" + inner }
            item(i, &out, inner)
        }
        if let indent { out += "\n" + indent }
        out += close
    }

    /// Integers without a fraction; others in Swift's shortest round-tripping form.
    /// JSON has no infinity or NaN: those become 0 (no writer here produces them).
    static func numberText(_ n: Double) -> String {
        guard n.isFinite else { return "0" }
        if n == n.rounded(), abs(n) < 1e15 { return String(Int64(n)) }
        return String(n)
    }

    static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

// MARK: Reading

/// The limits a JSON text must stay within, so that no file can make hmmkit allocate
/// without bound or recurse too deeply.
public enum JSONLimits {
    /// Values (objects, arrays, strings, numbers, literals) in one document.
    public static let values = 8_388_608
    /// Nesting of objects and arrays.
    public static let depth = 512
}

/// One step of a path into a JSON document: an object member or an array element.
public enum JSONPathComponent: Sendable, Hashable {
    case key(String)
    case index(Int)
}

extension JSONValue {
    /// Parses a complete JSON text. Errors carry the 1-based line of the problem.
    ///
    /// Stricter than RFC 8259 where hmmkit's files never differ: a member name repeated in
    /// one object, a number that is not a finite double (`1e400`), more than
    /// ``JSONLimits/values`` values or deeper nesting than ``JSONLimits/depth`` are errors.
    public static func parse(_ text: String, file: String? = nil) throws(ReportError) -> JSONValue {
        var parser = JSONReader(bytes: Array(text.utf8), file: file)
        return try parser.document()
    }

    /// The 1-based line where the value at `path` starts in `text` (nil when the text does not
    /// parse or has no such value): errors about a well-formed document's content use it to
    /// name their line, at the cost of a second parse only when there is an error.
    public static func line(of path: [JSONPathComponent], in text: String) -> Int? {
        var parser = JSONReader(bytes: Array(text.utf8), file: nil)
        parser.target = path
        _ = try? parser.document()
        return parser.foundLine
    }
}

/// A strict RFC 8259 reader over UTF-8 bytes.
private struct JSONReader {
    let bytes: [UInt8]
    let file: String?
    var index = 0
    var depth = 0
    var valueCount = 0
    /// When set, the path of the value whose line ``foundLine`` records.
    var target: [JSONPathComponent]?
    var foundLine: Int?
    private var path: [JSONPathComponent] = []

    init(bytes: [UInt8], file: String?) {
        self.bytes = bytes
        self.file = file
    }

    /// Line of `index`, counted only when an error needs it.
    private func fail(_ message: String) -> ReportError {
        ReportError(.badJSON, "invalid JSON: " + message, file: file, line: currentLine)
    }

    private var currentLine: Int {
        1 + bytes[..<min(index, bytes.count)].reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipSpace() {
        while let c = current, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { index += 1 }
    }

    mutating func document() throws(ReportError) -> JSONValue {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }  // a UTF-8 byte order mark
        let value = try self.value()
        skipSpace()
        if index < bytes.count { throw fail("unexpected text after the end of the value") }
        return value
    }

    private mutating func value() throws(ReportError) -> JSONValue {
        skipSpace()
        guard let c = current else { throw fail("unexpected end of input") }
        valueCount += 1
        if valueCount > JSONLimits.values { throw fail("more than \(JSONLimits.values) values") }
        if let target, foundLine == nil, path == target { foundLine = currentLine }
        switch c {
        case UInt8(ascii: "{"): return try nested { (r: inout JSONReader) throws(ReportError) in try r.object() }
        case UInt8(ascii: "["): return try nested { (r: inout JSONReader) throws(ReportError) in try r.array() }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw fail("unexpected character '\(Character(Unicode.Scalar(c)))'")
        }
    }

    private mutating func nested(_ body: (inout JSONReader) throws(ReportError) -> JSONValue) throws(ReportError) -> JSONValue {
        depth += 1
        defer { depth -= 1 }
        if depth > JSONLimits.depth { throw fail("nested more than \(JSONLimits.depth) deep") }
        return try body(&self)
    }

    private mutating func literal(_ word: String) throws(ReportError) {
        let expected = Array(word.utf8)
        guard bytes[index...].starts(with: expected) else { throw fail("expected '\(word)'") }
        index += expected.count
    }

    private mutating func object() throws(ReportError) -> JSONValue {
        index += 1
        var members: [(String, JSONValue)] = []
        var names: Set<String> = []
        skipSpace()
        if current == UInt8(ascii: "}") { index += 1; return .object(members) }
        while true {
            skipSpace()
            guard current == UInt8(ascii: "\"") else { throw fail("expected a member name in quotes") }
            let key = try string()
            guard names.insert(key).inserted else { throw fail("member \"\(key)\" appears twice in one object") }
            skipSpace()
            guard current == UInt8(ascii: ":") else { throw fail("expected ':' after \"\(key)\"") }
            index += 1
            if target != nil { path.append(.key(key)) }
            let member = try value()
            if target != nil { path.removeLast() }
            members.append((key, member))
            skipSpace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return .object(members)
            default: throw fail("expected ',' or '}' in an object")
            }
        }
    }

    private mutating func array() throws(ReportError) -> JSONValue {
        index += 1
        var items: [JSONValue] = []
        skipSpace()
        if current == UInt8(ascii: "]") { index += 1; return .array(items) }
        while true {
            if target != nil { path.append(.index(items.count)) }
            let item = try value()
            if target != nil { path.removeLast() }
            items.append(item)
            skipSpace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return .array(items)
            default: throw fail("expected ',' or ']' in an array")
            }
        }
    }

    private mutating func number() throws(ReportError) -> Double {
        let start = index
        func digits(_ r: inout JSONReader) -> Int {
            let from = r.index
            while let c = r.current, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") { r.index += 1 }
            return r.index - from
        }
        if current == UInt8(ascii: "-") { index += 1 }
        let intStart = index
        let intDigits = digits(&self)
        if intDigits == 0 { throw fail("a number needs digits") }
        if intDigits > 1 && bytes[intStart] == UInt8(ascii: "0") { throw fail("a number cannot start with 0") }
        if current == UInt8(ascii: ".") {
            index += 1
            if digits(&self) == 0 { throw fail("digits expected after '.'") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            if digits(&self) == 0 { throw fail("digits expected in the exponent") }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw fail("number '\(text.prefix(40))' is out of range") }
        return value
    }

    private mutating func string() throws(ReportError) -> String {
        index += 1
        var scalars = String.UnicodeScalarView()
        var runStart = index
        func flush(_ r: JSONReader) {
            scalars.append(contentsOf: String(decoding: r.bytes[runStart..<r.index], as: UTF8.self).unicodeScalars)
        }
        while true {
            guard let c = current else { throw fail("unterminated string") }
            if c == UInt8(ascii: "\"") {
                flush(self)
                index += 1
                return String(scalars)
            }
            if c < 0x20 { throw fail("control character in a string (write it as \\u\(c < 0x10 ? "000" : "00")\(String(c, radix: 16)))") }
            if c != UInt8(ascii: "\\") { index += 1; continue }
            flush(self)
            index += 1
            guard let escape = current else { throw fail("unterminated string") }
            index += 1
            switch escape {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code) {
                    // A surrogate pair: the low half must follow as another \u escape.
                    guard bytes[index...].starts(with: [UInt8(ascii: "\\"), UInt8(ascii: "u")]) else {
                        throw fail("unpaired surrogate \\u\(String(code, radix: 16))")
                    }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate \\u\(String(code, radix: 16))") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(code) else { throw fail("invalid \\u escape") }
                scalars.append(scalar)
            default: throw fail("unknown escape '\\\(Character(Unicode.Scalar(escape)))'")
            }
            runStart = index
        }
    }

    private mutating func hex4() throws(ReportError) -> UInt32 {
        guard index + 4 <= bytes.count, bytes[index..<index + 4].allSatisfy({ Character(Unicode.Scalar($0)).isHexDigit }),
              let code = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16)
        else { throw fail("\\u needs four hex digits") }
        index += 4
        return code
    }
}
