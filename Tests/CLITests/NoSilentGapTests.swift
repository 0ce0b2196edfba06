import Foundation
import HMMKernel
import HMMReport
import Testing

@testable import HMMSuite
@testable import hmmkit

/// A new directory under the temporary directory, for one test.
func scratchDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("hmmkit-cli-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// No silent gaps: a check that cannot run says so where the results go.
@Suite struct NoSilentGapTests {
    @Test func missingKernelLogAndTaintFileAreWarningsInTheKTAPHeaderAndTheResults() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let json = dir + "/r.json"
        let box = LineBox()
        do {
            try runPlanned([], timeout: 1, resultFiles: try ResultFileOptions.parse(["--json", json]),
                           output: { box.lines.append($0) },
                           kernelLog: dir + "/no-kmsg", taint: dir + "/no-tainted")
        } catch {}  // no test: an exit status, not what this test is about
        let warnings = box.lines.filter { $0.hasPrefix("# hmmkit: warning: ") }
        #expect(warnings.count == 2, "\(box.lines)")
        #expect(warnings.contains { $0.contains("kernel-log check off") && $0.contains("no-kmsg") })
        #expect(warnings.contains { $0.contains("taint check off: \(dir)/no-tainted cannot be read") })
        // In the header: before any test or the closing totals.
        let plan = try #require(box.lines.firstIndex(of: "1..0"))
        #expect(box.lines.firstIndex { $0.hasPrefix("# hmmkit: warning: ") }.map { $0 > plan } == true)
        let saved = try ResultSet.load(path: json)
        #expect(saved.warnings.count == 2)
        #expect(saved.warnings.contains { $0.contains("kernel-log check off") })
        #expect(saved.warnings.contains { $0.contains("taint check off") })
    }

    @Test func checksThatCanRunAddNoWarning() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(FileManager.default.createFile(atPath: dir + "/tainted", contents: Data("0\n".utf8)))
        let runner = Runner(facts: SystemFacts.gather(generation: UAPIDetection(generation: .v6_1, reason: "test")))
        // /dev/null stands in for a /dev/kmsg that opens.
        #expect(runner.checksThatCannotRun(kernelLog: "/dev/null", taint: dir + "/tainted") == [])
        let gaps = runner.checksThatCannotRun(kernelLog: dir + "/no-kmsg", taint: dir + "/no-tainted")
        #expect(gaps.count == 2, "\(gaps)")
        var quiet = runner
        quiet.watchKernelLog = false
        #expect(quiet.checksThatCannotRun(kernelLog: dir + "/no-kmsg", taint: dir + "/tainted") == [])
    }
}

/// `module run-program` (how `vm run --program` runs a C test) reports the kernel's faults
/// after the program's own KTAP, which cannot know about them.
@Suite struct RunProgramKernelLogTests {
    @Test func faultLinesAndWhereTheyHit() throws {
        let log = [
            "6,100,4000000,-;HMM test module loaded.",
            "1,101,4370798,-;BUG: unable to handle page fault for address: ff1100fcfffff000",
            "4,102,4372357,-;Oops: Oops: 0000 [#1] SMP",
            "4,103,4373224,-;RIP: 0010:dmirror_do_read+0x65/0x80 [test_hmm]",
            "4,104,4376361,-;Call Trace:",
        ].compactMap { KernelLogRecord(line: $0) }
        #expect(ModuleCommand.RunProgram.kernelFaultLines(log) == [
            "BUG: unable to handle page fault for address: ff1100fcfffff000",
            "Oops: Oops: 0000 [#1] SMP",
            "RIP: 0010:dmirror_do_read+0x65/0x80 [test_hmm]",
        ])
        #expect(ModuleCommand.RunProgram.kernelFaultLines(Array(log.prefix(1))).isEmpty)
    }
}
