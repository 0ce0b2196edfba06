import Foundation

/// The lines of one source file gcov knows about: those with code (instrumented) and those
/// that ran at least once (executed, a subset).
public struct LineCoverage: Equatable, Sendable {
    public var instrumented: Set<Int>
    public var executed: Set<Int>

    public init(instrumented: Set<Int> = [], executed: Set<Int> = []) {
        self.instrumented = instrumented
        self.executed = executed.intersection(instrumented)
    }

    /// Lines run by either: the union of two workloads over the same object.
    public func union(_ other: LineCoverage) -> LineCoverage {
        LineCoverage(instrumented: instrumented.union(other.instrumented), executed: executed.union(other.executed))
    }

    public var percent: Double { instrumented.isEmpty ? 0 : Double(executed.count) * 100 / Double(instrumented.count) }
}

public struct GcovParseError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// gcov's JSON intermediate format (`gcov --json-format --stdout`, GCC 9 and later): one
/// document per object, `files` holding the object's source file and every header whose
/// inline functions it compiled, each with `lines` (`line_number`, `count`). A line listed
/// several times (code of one line in several blocks or inlined instances) counts once,
/// executed when any of its entries ran; gcov's own "Lines executed" summary counts the same.
public enum GcovJSON {
    struct Document: Decodable {
        var files: [File]
        struct File: Decodable {
            var file: String
            var lines: [Line]
        }
        struct Line: Decodable {
            var line_number: Int
            var count: UInt64
        }
    }

    /// The coverage of the source file whose path ends with `source` (`mm/hmm.c`: gcov names
    /// it as the compiler saw it, relative to the build directory or absolute), from one or
    /// more documents (gcov prints one per object it reads). Nil when no document names it.
    public static func coverage(of source: String, in output: Data) throws -> LineCoverage? {
        var result: LineCoverage?
        for document in try documents(in: output) {
            for file in document.files where matches(file.file, source) {
                var instrumented = Set<Int>()
                var executed = Set<Int>()
                for line in file.lines {
                    instrumented.insert(line.line_number)
                    if line.count > 0 { executed.insert(line.line_number) }
                }
                let c = LineCoverage(instrumented: instrumented, executed: executed)
                result = result.map { $0.union(c) } ?? c
            }
        }
        return result
    }

    /// The source files the documents name, in order (for error messages).
    public static func fileNames(in output: Data) throws -> [String] {
        try documents(in: output).flatMap { $0.files.map(\.file) }
    }

    static func matches(_ path: String, _ source: String) -> Bool {
        path == source || path.hasSuffix("/" + source)
    }

    /// gcov writes one JSON document per line with --stdout; blank lines are skipped.
    static func documents(in output: Data) throws -> [Document] {
        var documents: [Document] = []
        for (index, line) in output.split(separator: UInt8(ascii: "\n")).enumerated() {
            let trimmed = line.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }
            if trimmed.isEmpty { continue }
            do {
                documents.append(try JSONDecoder().decode(Document.self, from: Data(trimmed)))
            } catch {
                throw GcovParseError("gcov JSON, document \(index + 1): not gcov's JSON format (\(describe(error)))")
            }
        }
        if documents.isEmpty { throw GcovParseError("gcov printed no JSON document") }
        return documents
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case let DecodingError.keyNotFound(key, context):
            "missing '\(key.stringValue)' at \(path(context))"
        case let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context):
            "wrong type at \(path(context))"
        case let DecodingError.dataCorrupted(context):
            "malformed JSON at \(path(context))"
        default:
            "\(error)"
        }
    }

    static func path(_ context: DecodingError.Context) -> String {
        let p = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
        return p.isEmpty ? "the top" : p
    }
}
