import Foundation
import HMMModel
import HMMUAPI
import Testing

@testable import HMMFixtures

/// The checked-in corpus (`Fixtures/corpus`) must parse, satisfy preconditions and carry the
/// expectations the current model derives. Set `HMMKIT_WRITE_CORPUS=1` to regenerate it,
/// and `HMMKIT_EMIT_C=<file>` to write the C selftest of the first corpus fixture.
@Suite struct CorpusTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/corpus")

    static let generated: [(String, KernelProfile, Environment, UInt64, Int)] = [
        ("gen-6.12-private-seed1", .linux6_12, Environment(devices: [0, 1]), 1, 40),
        ("gen-6.12-coherent-seed2", .linux6_12, Environment(devices: [0, 1, 2, 3]), 2, 40),
        ("gen-6.12-numa-seed3", .linux6_12, Environment(devices: [0, 1], nodes: [0, 1]), 3, 40),
        ("gen-6.1-seed4", .linux6_1, Environment(devices: [0, 1]), 4, 40),
        ("thp-migration/gen-thp-migration-seed5", .thpMigration, Environment(devices: [0, 1], thp: .madvise), 5, 40),
    ]

    @Test func corpusIsCurrent() throws {
        let env = ProcessInfo.processInfo.environment
        if env["HMMKIT_WRITE_CORPUS"] == "1" {
            try FileManager.default.createDirectory(at: Self.root.appendingPathComponent("thp-migration"),
                                                    withIntermediateDirectories: true)
            for (name, profile, e, seed, n) in Self.generated {
                var g = FixtureGenerator(seed: seed, profile: profile, environment: e)
                try g.generate(steps: n).text.write(to: Self.root.appendingPathComponent(name + ".fixture"),
                                                    atomically: true, encoding: .utf8)
            }
        }
        // Fixtures for kernels newer than 6.12 live in a subdirectory, so `hmmkit replay
        // Fixtures/corpus` on 6.1/6.12 replays exactly the ones that apply.
        let files = try (FileManager.default.contentsOfDirectory(atPath: Self.root.path)
            + FileManager.default.contentsOfDirectory(atPath: Self.root.path + "/thp-migration").map { "thp-migration/" + $0 })
            .filter { $0.hasSuffix(".fixture") }.sorted()
        #expect(!files.isEmpty)
        if env["HMMKIT_WRITE_CORPUS"] == "1" {
            // Hand-written fixtures get their expectations (re-)derived.
            for name in files {
                let url = Self.root.appendingPathComponent(name)
                let f = try Fixture.parse(try String(contentsOf: url, encoding: .utf8), file: name)
                try f.derived().text.write(to: url, atomically: true, encoding: .utf8)
            }
        }
        for name in files {
            let text = try String(contentsOf: Self.root.appendingPathComponent(name), encoding: .utf8)
            let f = try Fixture.parse(text, file: name)
            #expect(f.firstViolation() == nil, "\(name)")
            #expect(f.derived().text == text, "\(name): expectations differ from the current model; regenerate with HMMKIT_WRITE_CORPUS=1")
        }
        if let out = env["HMMKIT_EMIT_C"] {
            // A directory (ending in "/") gets one C file per fixture; a file gets the first.
            for name in out.hasSuffix("/") ? files : Array(files.prefix(1)) {
                let text = try String(contentsOf: Self.root.appendingPathComponent(name), encoding: .utf8)
                let f = try Fixture.parse(text, file: name)
                let c = CSelftestEmitter(testName: String(name.dropLast(8))).emit(f)
                try c.write(toFile: out.hasSuffix("/") ? out + name.dropLast(8) + ".c" : out, atomically: true, encoding: .utf8)
            }
        }
        if let out = env["HMMKIT_BENCH"] {
            let b = ModelBenchmark.run()
            try b.description.write(toFile: out, atomically: true, encoding: .utf8)
        }
    }
}

/// Compiles an emitted C test against a kernel tree when one is available
/// (`HMMKIT_KERNEL_SRC`, default: the 6.12 tree the project unpacks).
@Suite struct EmittedCCompiles {
    static let tree = ProcessInfo.processInfo.environment["HMMKIT_KERNEL_SRC"]
        ?? "/root/.cache/hmmkit/src/linux-source-6.12-6.12.117-1~deb12u1"

    @Test(.enabled(if: FileManager.default.fileExists(atPath: tree + "/lib/test_hmm_uapi.h")
        && FileManager.default.fileExists(atPath: "/usr/bin/gcc")))
    func compiles() throws {
        for data in [PageCodec.mixed, .intRuns] { try compile(data) }
    }

    func compile(_ data: PageCodec) throws {
        var g = FixtureGenerator(seed: 11, profile: .linux6_12, environment: Environment(devices: [0, 1, 2, 3], nodes: [0, 1]))
        var f = g.generate(steps: 60)
        f.data = data
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hmmkit-emit-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = dir.appendingPathComponent("t.c")
        try CSelftestEmitter(testName: "seed11").emit(f).write(to: src, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
        p.arguments = ["-Wall", "-Werror", "-fsyntax-only", "-I", Self.tree + "/tools/testing/selftests", "-I", Self.tree, src.path]
        let err = Pipe()
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        let msg = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(p.terminationStatus == 0, "\(msg)")
    }
}

/// The C helpers a `data int-runs` reproducer uses must write and recognise the same ints
/// as ``IntRun`` does in Swift.
@Suite struct EmittedIntRunHelpers {
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/gcc")))
    func agreeWithSwift() throws {
        let runs = [IntRun(start: 0, stride: 1), IntRun(start: -4096, stride: -1), IntRun(start: Int32.max, stride: 1),
                    IntRun(start: 7, stride: 0), IntRun(start: 3, stride: (1 << 30) - 1), IntRun(start: 3, stride: -(1 << 30))]
        let tokens = [UInt64(0)] + runs.map(\.token)
        var c = "#include <stdint.h>\n#include <stdio.h>\n#include <stddef.h>\n" + CSelftestEmitter.tokenHelpers(.intRuns)
        c += "int main(void) {\n\tstatic int32_t page[1024];\n\tuint64_t t[] = "
            + "{" + tokens.map { "0x\(String($0, radix: 16))ULL" }.joined(separator: ", ") + "};\n"
        c += "\tfor (size_t k = 0; k < sizeof(t) / 8; k++) {\n\t\thk_fill(page, sizeof(page), t[k]);\n"
        c += "\t\tprintf(\"%d %d %d %d\\n\", page[0], page[1], page[1023], hk_is(page, sizeof(page), t[k]) && !hk_is(page, sizeof(page), "
            + "t[k] ^ 1));\n\t}\n\treturn 0;\n}\n"
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hmmkit-intrun-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try c.write(to: dir.appendingPathComponent("t.c"), atomically: true, encoding: .utf8)
        let gcc = Process()
        gcc.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
        gcc.arguments = ["-Wall", "-Werror", "-O2", "-o", dir.appendingPathComponent("t").path, dir.appendingPathComponent("t.c").path]
        try gcc.run()
        gcc.waitUntilExit()
        #expect(gcc.terminationStatus == 0)
        let run = Process()
        run.executableURL = dir.appendingPathComponent("t")
        let out = Pipe()
        run.standardOutput = out
        try run.run()
        run.waitUntilExit()
        let lines = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        #expect(lines.count == tokens.count)
        for (token, line) in zip(tokens, lines) {
            var page = [UInt8](repeating: 0, count: 4096)
            page.withUnsafeMutableBytes { IntRun.fill($0, token: token) }
            let ints = page.withUnsafeBytes { raw in (0..<1024).map { raw.load(fromByteOffset: $0 * 4, as: Int32.self) } }
            // hk_is must accept the page and reject a neighbouring token.
            #expect(line == "\(ints[0]) \(ints[1]) \(ints[1023]) 1", "token 0x\(String(token, radix: 16))")
        }
    }
}
