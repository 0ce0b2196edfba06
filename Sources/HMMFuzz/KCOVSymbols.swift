import Foundation
import HMMFixtures

/// Which of the five instrumented files a canonical PC (``KCOVWire``) lies in, from what
/// `scripts/kernel-build --kcov` keeps under `<artifact dir>/kcov/`: `System.map` (the
/// kernel's symbols; no KASLR, so KCOV's kernel PCs are these addresses), `objects` (the
/// instrumented objects, `mm/hmm` …) and `<object>.functions` (each object's defined
/// function names). A kernel PC belongs to the function starting at or before it; that
/// function to the object defining a function of that name. Module PCs are test_hmm's.
public struct KCOVSymbols: Sendable {
    /// Function starts, sorted by address.
    var starts: [UInt64] = []
    var names: [String] = []
    /// Function name to the instrumented object's source file.
    var fileOfFunction: [String: String] = [:]
    /// The instrumented files, in the kernel-build's order.
    public var files: [String] = []
    /// The module's file (`lib/test_hmm.c`).
    public var moduleFile = "lib/test_hmm.c"

    public init() {}

    /// Reads `directory/kcov/`; an error that names the file when it is missing or bad.
    public init(artifactDirectory directory: String) throws {
        let kcov = directory + "/kcov"
        func read(_ name: String) throws -> String {
            do { return try String(contentsOfFile: kcov + "/" + name, encoding: .utf8) } catch {
                throw FuzzError("\(kcov)/\(name): cannot read (is this a 'scripts/kernel-build --kcov' kernel?): "
                                + error.localizedDescription)
            }
        }
        let objects = try read("objects").split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        var functions: [(object: String, names: [Substring])] = []
        for object in objects { functions.append((object, try read(object + ".functions").split(separator: "\n"))) }
        try self.init(systemMap: read("System.map"), file: kcov + "/System.map", objects: functions)
    }

    /// `systemMap`: `ADDRESS TYPE NAME` lines; `objects`: each object and its function names.
    public init(systemMap: String, file: String, objects: [(object: String, names: [Substring])]) throws {
        var symbols: [(UInt64, String)] = []
        for (i, line) in systemMap.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            let fields = line.split(separator: " ")
            guard fields.count >= 3, let address = UInt64(fields[0], radix: 16) else {
                throw FuzzError("\(file):\(i + 1): not a System.map line: '\(line.prefix(80))'")
            }
            if ["t", "T", "w", "W"].contains(fields[1]) { symbols.append((address, String(fields[2]))) }
        }
        symbols.sort { $0.0 < $1.0 }
        starts = symbols.map(\.0)
        names = symbols.map(\.1)
        for (object, functionNames) in objects {
            let source = object + ".c"
            files.append(source)
            if object.hasSuffix("test_hmm") { moduleFile = source; continue }
            for name in functionNames where fileOfFunction[String(name)] == nil { fileOfFunction[String(name)] = source }
        }
    }

    /// The instrumented file of `pc`, or nil when its function is in none of them.
    public func file(of pc: UInt64) -> String? {
        if KCOVWire.isModulePC(pc) { return moduleFile }
        // The last start at or before pc.
        var low = 0
        var high = starts.count
        while low < high {
            let mid = (low + high) / 2
            if starts[mid] <= pc { low = mid + 1 } else { high = mid }
        }
        guard low > 0 else { return nil }
        return fileOfFunction[names[low - 1]]
    }

    /// PCs per file, in the files' order, and how many fell in none.
    public func breakdown(_ pcs: some Sequence<UInt64>) -> (perFile: [(file: String, pcs: Int)], unmapped: Int) {
        var counts: [String: Int] = [:]
        var unmapped = 0
        for pc in pcs {
            if let file = file(of: pc) { counts[file, default: 0] += 1 } else { unmapped += 1 }
        }
        return (files.map { ($0, counts[$0] ?? 0) }, unmapped)
    }
}
