import Foundation
import Testing
@testable import HMMCoverage

/// Samples/: demo.c and helper.h compiled with `gcc --coverage`, run once as `./demo a b`;
/// demo.gcov.json is `gcov --json-format --stdout demo.gcda` of that run (GCC 12.2), and
/// demo.gcov-n.txt gcov's own summary of it, which the parser must agree with.
let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Samples")

func sample(_ name: String) throws -> Data {
    try Data(contentsOf: samples.appendingPathComponent(name))
}

@Suite struct GcovJSONTests {
    @Test func sourceFileCountsAsGcovSummarisesIt() throws {
        let c = try #require(try GcovJSON.coverage(of: "demo.c", in: sample("demo.gcov.json")))
        // gcov -n: "File 'demo.c' Lines executed:66.67% of 9".
        #expect(c.instrumented.count == 9)
        #expect(c.executed.count == 6)
        #expect(c.instrumented == [3, 5, 8, 10, 12, 13, 14, 15, 16])
        #expect(c.executed == [8, 10, 12, 13, 14, 16])
        let summary = try String(contentsOf: samples.appendingPathComponent("demo.gcov-n.txt"), encoding: .utf8)
        #expect(summary.contains("File 'demo.c'\nLines executed:66.67% of 9"))
    }

    @Test func headersAreTheirOwnFiles() throws {
        // The inline function of helper.h is listed under helper.h, not demo.c (gcov -n: 75.00% of 4).
        let h = try #require(try GcovJSON.coverage(of: "helper.h", in: sample("demo.gcov.json")))
        #expect(h.instrumented.count == 4 && h.executed.count == 3)
        #expect(try GcovJSON.fileNames(in: sample("demo.gcov.json")) == ["demo.c", "helper.h"])
    }

    /// kernel-6.12.118-mm-hmm.gcov.json: gcov's JSON of mm/hmm.o from `hmmkit coverage --workload
    /// hm-tests` on 6.12.118 (line numbers, counts, function names and paths; no source text).
    /// The source is named by its absolute path and the headers whose inline functions hmm.o
    /// compiled come after it; gcov -n's summary of the same data is beside it.
    @Test func kernelObjectCountsItsOwnSourceOnly() throws {
        let json = try sample("kernel-6.12.118-mm-hmm.gcov.json")
        let c = try #require(try GcovJSON.coverage(of: "mm/hmm.c", in: json))
        #expect(c.executed.count == 157 && c.instrumented.count == 204)
        let summary = try String(contentsOf: samples.appendingPathComponent("kernel-6.12.118-mm-hmm.gcov-n.txt"), encoding: .utf8)
        #expect(summary.contains("File 'mm/hmm.c'\nLines executed:76.96% of 204"))
        #expect(CoverageTable.cell(c) == "157/204 (77.0%)")
        let mmh = try #require(try GcovJSON.coverage(of: "include/linux/mm.h", in: json))
        #expect(mmh.instrumented.count == 10 && mmh.executed.count == 6)
        #expect(try GcovJSON.fileNames(in: json).first?.hasSuffix("/linux-source-6.12-6.12.118-1~deb12u1/mm/hmm.c") == true)
    }

    @Test func pathsMatchBySuffixAtADirectoryBoundary() throws {
        let doc = #"{"files": [{"file": "/src/linux/mm/hmm.c", "lines": [{"line_number": 7, "count": 2}]}]}"#
        #expect(try GcovJSON.coverage(of: "mm/hmm.c", in: Data(doc.utf8)) == LineCoverage(instrumented: [7], executed: [7]))
        #expect(try GcovJSON.coverage(of: "m/hmm.c", in: Data(doc.utf8)) == nil)
        #expect(try GcovJSON.coverage(of: "mm/rmap.c", in: Data(doc.utf8)) == nil)
    }

    @Test func aLineListedTwiceCountsOnceAndRanIfEitherRan() throws {
        let doc = """
            {"files": [{"file": "a.c", "lines": [{"line_number": 4, "count": 0}, {"line_number": 4, "count": 3},
            {"line_number": 9, "count": 0}]}]}
            {"files": [{"file": "a.c", "lines": [{"line_number": 9, "count": 0}, {"line_number": 11, "count": 18446744073709551615}]}]}
            """.replacingOccurrences(of: ",\n{\"line_number\": 9", with: ", {\"line_number\": 9")
        let c = try #require(try GcovJSON.coverage(of: "a.c", in: Data(doc.utf8)))
        #expect(c.instrumented == [4, 9, 11])
        #expect(c.executed == [4, 11])
    }

    @Test func notGcovJSONSaysWhere() {
        #expect(throws: GcovParseError("gcov printed no JSON document")) { try GcovJSON.coverage(of: "a.c", in: Data()) }
        do {
            _ = try GcovJSON.coverage(of: "a.c", in: Data(#"{"files": [{"file": "a.c"}]}"#.utf8))
            Issue.record("accepted a file without lines")
        } catch {
            #expect("\(error)".contains("missing 'lines'"))
        }
        do {
            _ = try GcovJSON.coverage(of: "a.c", in: Data("{\"files\": [\n<html>".utf8))
            Issue.record("accepted HTML")
        } catch {
            #expect("\(error)".contains("document 1") || "\(error)".contains("document 2"))
        }
    }
}

@Suite struct CoverageTableTests {
    let a = LineCoverage(instrumented: [1, 2, 3, 4], executed: [1, 2])
    let b = LineCoverage(instrumented: [1, 2, 3, 4], executed: [2, 3])

    @Test func columnsSideBySideWithUnionAndTotal() {
        let table = CoverageTable(sources: ["mm/hmm.c", "lib/test_hmm.c"], columns: [
            .init(title: "suite", files: ["mm/hmm.c": a, "lib/test_hmm.c": LineCoverage(instrumented: [1, 2, 3], executed: [1])]),
            .init(title: "hm-tests", files: ["mm/hmm.c": b]),
        ])
        #expect(table.markdown() == """
            | file | suite | hm-tests | union |
            |---|---:|---:|---:|
            | mm/hmm.c | 2/4 (50.0%) | 2/4 (50.0%) | 3/4 (75.0%) |
            | lib/test_hmm.c | 1/3 (33.3%) | — | 1/3 (33.3%) |
            | **total** | 3/7 (42.9%) | — | 4/7 (57.1%) |

            """)
    }

    @Test func oneColumnHasNoUnion() {
        let table = CoverageTable(sources: ["mm/hmm.c"], columns: [.init(title: "suite", files: ["mm/hmm.c": a])])
        #expect(!table.markdown().contains("union"))
    }

    @Test func executedLinesOutsideTheInstrumentedOnesAreDropped() {
        #expect(LineCoverage(instrumented: [1], executed: [1, 5]).executed == [1])
        #expect(CoverageTable.cell(LineCoverage()) == "0/0 (0.0%)")
        #expect(CoverageTable.cell(LineCoverage(instrumented: [1, 2, 3], executed: [1, 2])) == "2/3 (66.7%)")
    }
}
