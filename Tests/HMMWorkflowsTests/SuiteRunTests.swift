import Foundation
import HMMGuest
import HMMKernel
import HMMReport
import HMMWorkflows
import KTAP
import Testing

@testable import HMMSuite

/// A new directory under the temporary directory, for one test.
func scratchDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("hmmkit-workflows-\(UUID().uuidString)").path
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
        // No test: the exit code is not what this is about.
        _ = SuiteRun.run([], timeout: 1, resultFiles: ResultFiles(json: json), output: { box.lines.append($0) }, log: { _ in },
                         kernelLog: dir + "/no-kmsg", taint: dir + "/no-tainted")
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

/// `module run-program` (ModuleProgram; how `vm run --program` runs a C test) reports the kernel's faults
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
        #expect(ModuleProgram.kernelFaultLines(log) == [
            "BUG: unable to handle page fault for address: ff1100fcfffff000",
            "Oops: Oops: 0000 [#1] SMP",
            "RIP: 0010:dmirror_do_read+0x65/0x80 [test_hmm]",
        ])
        #expect(ModuleProgram.kernelFaultLines(Array(log.prefix(1))).isEmpty)
    }
}

/// Collects the lines a KTAPSink writes.
final class LineBox: @unchecked Sendable {
    var lines: [String] = []
}

@Suite struct RecordingSinkTests {
    @Test func keepsWhatTheRunnerReports() {
        let box = LineBox()
        let recorder = RecordingSink(forwardingTo: KTAPSink(testCases: 1) { box.lines.append($0) }, kernelRelease: "6.12.117",
                                     startedAt: Date(timeIntervalSince1970: 0))
        let a = TestID(fixture: "hmm", variant: "hmm_device_private", name: "open_close")
        let b = TestID(fixture: "hmm", variant: "hmm_device_private", name: "migrate")
        recorder.begin(plan: 2)
        recorder.started(a)
        recorder.finished(a, TestOutcome(status: .pass, reason: nil, diagnostics: [], seconds: 0.25))
        recorder.started(b)
        recorder.finished(b, TestOutcome(status: .timeout, reason: "30 seconds", diagnostics: ["stuck"], seconds: 30))
        recorder.end()
        let results = recorder.results
        #expect(results.tool == .hmmkit)
        #expect(results.hmmkitVersion == HMMKitVersion.current)
        // The version right after the plan, then the header; the log reads back as what was recorded.
        #expect(box.lines.prefix(3) == ["TAP version 13", "1..2", "# hmmkit version: \(HMMKitVersion.current)"])
        #expect(box.lines.contains { $0.hasPrefix("# hmmkit: kernel release 6.12.117, profile linux-6.12, started 1970-01-01T00:00:00Z") })
        #expect(results.architecture != nil)  // uname -m of this machine
        var reread = try? ResultSet.parse(box.lines.joined(separator: "\n") + "\n")
        reread?.source = nil
        #expect(reread?.hmmkitVersion == results.hmmkitVersion)
        #expect(reread?.tests.map(\.name) == results.tests.map(\.name))
        #expect(results.kernelRelease == "6.12.117")
        #expect(results.profile == "linux-6.12")
        #expect(results.tests == [
            .init(name: "hmm.hmm_device_private.open_close", status: .pass, duration: 0.25),
            .init(name: "hmm.hmm_device_private.migrate", status: .timeout, reason: "30 seconds", duration: 30, diagnostics: ["stuck"]),
        ])
    }
}

extension RecordingSinkTests {
    @Test func printsTheMachineFactsItWasGiven() throws {
        let box = LineBox()
        let recorder = RecordingSink(forwardingTo: KTAPSink(testCases: 1) { box.lines.append($0) }, kernelRelease: "6.12.117",
                                     startedAt: Date(timeIntervalSince1970: 0), warnings: ["no /dev/kmsg"], architecture: "x86_64",
                                     compiler: "gcc 12", configName: "tinyconfig+hmmkit.config", machine: "nodes 0 (CPUs 0 1, 1 MiB)")
        recorder.begin(plan: 0)
        recorder.end()
        for line in recorder.results.ktapHeaderLines { #expect(box.lines.contains("# " + line), "\(line)") }
        var reread = try ResultSet.parse(box.lines.joined(separator: "\n") + "\n")
        reread.source = nil
        #expect(reread == recorder.results)
    }
}

/// The host names the model-thread switch through HMMGuest's BootPlan, the suite reads it
/// through its own constant (HMMSuite does not import HMMGuest): one name for both.
@Test func theModelThreadSwitchHasOneName() {
    #expect(ModelChecker.modelThreadVariable == BootPlan.modelThreadVariable)
    #expect(BootPlan.bootVariables.contains(ModelChecker.modelThreadVariable))
}
