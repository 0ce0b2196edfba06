import Foundation
import HMMLab
import HMMReport
import HMMVM
import KTAP
import Testing

private func machine() -> VMConfiguration {
    VMConfiguration(bzImage: "", guestRoot: .initramfs(path: "", channelLog: ""), consoleLog: "", ktapLog: "")
}

private func job(shard: Shard) -> LavaJob {
    LavaJob(kernelLabel: "debian-6.12-abc", kernelURL: "file:///k/bzImage", ramdiskURL: "file:///k/ramdisk.cpio",
            shard: shard, machine: machine(), hmmkitVersion: "0.2.0")
}

@Suite struct LavaJobTests {
    @Test func theJobHasTheTestVMsShapeAndItsShard() throws {
        let definition = try job(shard: Shard(2, of: 4)).definition()
        #expect(definition.contains("device_type: qemu\n"))
        #expect(definition.contains("  memory: 2560\n"), "the nodes' sum: 2048 + 512 MiB")
        #expect(definition.contains("  - '-numa node,nodeid=1,memdev=mem1'\n"))
        #expect(definition.contains("  - '-object memory-backend-ram,id=mem0,size=2048M'\n"))
        #expect(definition.contains("hmmkit.shard=2/4"))
        #expect(definition.contains("memmap=512M$0x40000000"))
        #expect(definition.contains("console=ttyS0,115200"))
        #expect(!definition.contains("earlyprintk"), "boot noise would share the console with KTAP")
        #expect(definition.contains("      start: 'TAP version'\n"), "hmmkit prints TAP version 13, others KTAP version 1")
        #expect(definition.contains("      end: 'hmmkit-vm: command exited'\n"))
        #expect(definition.contains("job_name: 'hmmkit debian-6.12-abc shard 2/4'\n"))
    }

    @Test func theJobRunsTheVCPUsAsTheKernelAllows() throws {
        #expect(try job(shard: Shard(1, of: 1)).definition().contains("  - '-accel tcg,thread=single'\n"))
        var parallel = job(shard: try Shard(1, of: 1))
        parallel.machine.tcgThreading = .threadPerVCPU
        #expect(try parallel.definition().contains("  - '-accel tcg,thread=multi'\n"))
    }

    @Test func aSingleShardRunsTheWholeSuite() throws {
        let definition = try job(shard: Shard(1, of: 1)).definition()
        #expect(!definition.contains("hmmkit.shard="))
    }

    @Test func quotesCannotBreakOutOfTheYAMLOrTheCommandLine() throws {
        var j = job(shard: try Shard(1, of: 1))
        j.kernelURL = "file:///it's/bzImage"
        #expect(try j.definition().contains("url: 'file:///it''s/bzImage'"))
        var quoted = job(shard: try Shard(1, of: 1))
        quoted.machine.extraKernelArguments = ["x=\"y\""]
        #expect(throws: LabError.self) { try quoted.definition() }
    }

    @Test func shardSpecsAreChecked() {
        #expect(throws: ShardError.self) { try Shard(0, of: 3) }
        #expect(throws: ShardError.self) { try Shard(4, of: 3) }
        #expect(throws: ShardError.self) { try Shard.all(Int.max) }
        #expect((try? Shard.all(3))?.map(\.fileStem) == ["shard-1-of-3", "shard-2-of-3", "shard-3-of-3"])
    }
}

@Suite struct LavaLogTests {
    static let log = [
        #"- {"dt": "2026-12-03T09:59:59.7", "lvl": "info", "msg": "start: 0 validate"}"#,
        #"- {"dt": "2026-12-03T10:00:00.6", "lvl": "target", "#
            + "\"msg\": \"c\u{1b}[?7l\u{1b}[2J[    0.000000] Linux version 6.12.118\"}",
        #"- {"dt": "2026-12-03T10:00:02.3", "lvl": "target", "msg": "hmmkit-vm: running: /bin/hmmkit run --load-module"}"#,
        #"- {"dt": "2026-12-03T10:00:02.4", "lvl": "target", "msg": "KTAP version 1\r"}"#,
        #"- {"dt": "2026-12-03T10:00:02.4", "lvl": "target", "msg": "1..2"}"#,
        ##"- {"dt": "2026-12-03T10:00:02.4", "lvl": "target", "msg": "# hmmkit: kernel 6.12.118"}"##,
        #"- {"dt": "2026-12-03T10:00:02.5", "lvl": "target", "msg": "[   12.000000] hmm_dmirror: loaded"}"#,
        #"- {"dt": "2026-12-03T10:00:02.5", "lvl": "target", "msg": "ok 1 hmm.open_close"}"#,
        #"- {"dt": "2026-12-03T10:00:02.6", "lvl": "target", "msg": "  KTAP version 1"}"#,
        ##"- {"dt": "2026-12-03T10:00:02.6", "lvl": "target", "msg": "not ok 2 hmm.migrate # TIMEOUT"}"##,
        "- {\"dt\": \"2026-12-03T10:00:02.6\", \"lvl\": \"target\", \"msg\": \"1..2x\"}",
        #"- {"dt": "2026-12-03T10:00:02.7", "lvl": "target", "msg": "hmmkit-vm: command exited 1 after 3.20s"}"#,
        #"- {"dt": "2026-12-03T10:00:02.8", "lvl": "results", "msg": {"case": "hmm.open_close", "result": "pass"}}"#,
        #"- {"dt": "x", "lvl": "target", "msg": "cut off"#,
        #"- {"dt": "x", "lvl": "results", "msg": {"extra": {"size": !!python/int 3}}}"#,
        "garbage",
    ].joined(separator: "\n")

    @Test func keepsTheConsoleAndOnlyKTAPGrammarInTheKTAP() {
        let log = LavaLog(yaml: Self.log)
        #expect(log.targetLines.count == 11)
        #expect(log.unreadableLines == 2)
        #expect(log.ktap == "KTAP version 1\n1..2\n# hmmkit: kernel 6.12.118\nok 1 hmm.open_close\n"
                + "  KTAP version 1\nnot ok 2 hmm.migrate # TIMEOUT\n")
        #expect(log.guestExitCode == 1)
    }

    /// Seen on a local lab (lava-dispatcher 2023.01, job 15): the monitor matched the end
    /// string, stopped, and the line holding it was logged later as `feedback`.
    @Test func theEndLineMayArriveAsFeedback() {
        let log = LavaLog(yaml: [
            ##"- {"dt": "2026-12-04T07:14:00.754555", "lvl": "target", "msg": "# Totals: pass:39 fail:0 xfail:0 skip:0 error:0"}"##,
            #"- {"dt": "2026-12-04T07:14:01.080031", "lvl": "info", "msg": "ok: end string found, lava test monitoring stopped"}"#,
            #"- {"dt": "2026-12-04T07:14:01.081198", "lvl": "feedback", "#
                + #""msg": "hmmkit-vm: command exited 0 after 11.61s", "ns": "common"}"#,
            #"- {"dt": "2026-12-04T07:14:02.086593", "lvl": "input", "msg": "poweroff\n"}"#,
        ].joined(separator: "\n"))
        #expect(log.guestExitCode == 0)
        #expect(log.targetLines.count == 2)
    }

    @Test func aLogWithoutKTAPHasNone() {
        let log = LavaLog(yaml: #"- {"dt": "x", "lvl": "target", "msg": "Kernel panic - not syncing"}"#)
        #expect(log.ktap.isEmpty)
        #expect(log.guestExitCode == nil)
    }
}

/// Answers from a table; records what was asked.
private final class MockLab: HTTPTransport, @unchecked Sendable {
    var answers: [String: HTTPResponse] = [:]
    var requests: [HTTPRequest] = []
    func send(_ request: HTTPRequest) throws(LabError) -> HTTPResponse {
        requests.append(request)
        guard let answer = answers[request.method.rawValue + " " + request.url] else {
            return HTTPResponse(status: 404, body: Data("{\"detail\": \"Not found.\"}".utf8))
        }
        return answer
    }
}

@Suite struct LavaServerTests {
    @Test func submitsWithTheTokenAndReadsTheJobsState() throws {
        let mock = MockLab()
        mock.answers["POST http://lab:8000/api/v0.2/jobs/"] = HTTPResponse(
            status: 201, body: Data(#"{"message": "job(s) successfully submitted", "job_ids": [42]}"#.utf8))
        mock.answers["GET http://lab:8000/api/v0.2/jobs/42/"] = HTTPResponse(status: 200, body: Data(
            (#"{"id": 42, "state": "Finished", "health": "Complete", "#
                + #""start_time": "2026-12-03T10:00:00.000000Z", "end_time": "2026-12-03T10:01:30.500000Z"}"#).utf8))
        let lab = try LavaServer(url: "http://lab:8000/", token: "secret", transport: mock)
        #expect(try lab.submit(definition: "device_type: qemu\n") == 42)
        #expect(mock.requests[0].headers["Authorization"] == "Token secret")
        let body = try JSONSerialization.jsonObject(with: mock.requests[0].body ?? Data()) as? [String: String]
        #expect(body?["definition"] == "device_type: qemu\n")
        guard case let .finished(health, seconds) = try lab.state(of: 42) else {
            Issue.record("job 42 should be finished")
            return
        }
        #expect(health == "Complete")
        #expect(seconds.map { abs($0 - 90.5) < 0.01 } == true)
    }

    @Test func errorsNameTheRequestAndTheAnswer() throws {
        let lab = try LavaServer(url: "http://lab", token: nil, transport: MockLab())
        #expect { try lab.state(of: 7) } throws: { error in
            "\(error)" == #"GET http://lab/api/v0.2/jobs/7/: HTTP 404: {"detail": "Not found."}"#
        }
        #expect(throws: LabError.self) { try LavaServer(url: "lab:8000", token: nil) }
    }
}

@Suite struct LavaResultsTests {
    func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hmmkit-lava-\(UUID().uuidString)/debian-6.12-abc").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func outcome(_ dir: String, _ k: Int, of n: Int, ktap: String, health: String = "Complete",
                 exit: Int32? = 0) throws -> LavaCampaign.Outcome {
        let prepared = try LavaCampaign.jobs(in: [write("", to: dir + "/shard-\(k)-of-\(n).yaml")])[0]
        _ = try write(ktap, to: prepared.ktapPath)
        return LavaCampaign.Outcome(job: prepared, id: 100 + k, url: "http://lab/scheduler/job/\(100 + k)", health: health,
                                    seconds: 30, guestExitCode: exit, ktapLines: ktap.split(separator: "\n").count)
    }

    func write(_ text: String, to path: String) throws -> String {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func shardsMergeIntoOneSortedSetWithATestPerJob() throws {
        let dir = try directory()
        let kernels = try LavaResults.collect([
            outcome(dir, 1, of: 2, ktap: "KTAP version 1\n1..2\nok 1 b.test\nok 2 d.test # SKIP no THP\n"),
            outcome(dir, 2, of: 2, ktap: "KTAP version 1\n1..2\nnot ok 1 c.test\nok 2 a.test\n"),
        ])
        #expect(kernels.count == 1)
        let names = kernels[0].results.tests.map(\.name)
        #expect(names == ["a.test", "b.test", "c.test", "d.test", "lava.shard-1-of-2", "lava.shard-2-of-2"])
        #expect(kernels[0].results.test(named: "c.test")?.status == .fail)
        #expect(kernels[0].results.test(named: "lava.shard-2-of-2")?.status == .pass)
        var lines: [String] = []
        #expect(LavaResults.ktap(kernels) { lines.append($0) } == .fail)
        #expect(lines.contains("  # Subtest: debian-6.12-abc"))
        #expect(lines.contains("not ok 1 debian-6.12-abc"))
    }

    @Test func aJobThatDidNotFinishItsShardIsAnError() throws {
        let dir = try directory()
        let kernels = try LavaResults.collect([
            outcome(dir, 1, of: 2, ktap: "KTAP version 1\n1..3\nok 1 a.test\n", health: "Incomplete", exit: nil),
            outcome(dir, 2, of: 2, ktap: ""),
        ])
        let first = kernels[0].results.test(named: "lava.shard-1-of-2")
        #expect(first?.status == .error)
        #expect(first?.reason?.contains("ended Incomplete") == true)
        #expect(first?.reason?.contains("never reported its exit") == true)
        #expect(kernels[0].results.test(named: "lava.shard-2-of-2")?.reason == "no KTAP in the job's log")
        #expect(kernels[0].results.test(named: "a.test")?.status == .pass, "what the shard did report is kept")
    }

    @Test func shardsThatDisagreeAreRefused() throws {
        let dir = try directory()
        #expect(throws: LabError.self) {
            try LavaResults.collect([
                outcome(dir, 1, of: 2, ktap: "KTAP version 1\n1..1\nok 1 a.test\n"),
                outcome(dir, 2, of: 2, ktap: "KTAP version 1\n1..1\nnot ok 1 a.test\n"),
            ])
        }
    }

    @Test func onlyJobFilesLavaJobWroteAreAccepted() throws {
        let dir = try directory()
        #expect(throws: LabError.self) { try LavaCampaign.jobs(in: [write("", to: dir + "/other.yaml")]) }
        #expect(throws: LabError.self) { try LavaCampaign.jobs(in: [write("", to: dir + "/shard-5-of-4.yaml")]) }
        #expect(throws: LabError.self) { try LavaCampaign.jobs(in: [dir + "/missing"]) }
    }
}
