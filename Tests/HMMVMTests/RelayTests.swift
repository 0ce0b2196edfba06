import KTAP
import Testing

@testable import HMMVM

@Suite struct RelayTests {
    func relay() -> (KTAPRelay, () -> [String]) {
        final class Box: @unchecked Sendable { var lines: [String] = [] }
        let box = Box()
        return (KTAPRelay { box.lines.append($0) }, { box.lines })
    }

    static let firstBoot = [
        "TAP version 13", "1..3", "# Starting 3 tests from 1 test cases.",
        "#  RUN           hmm.v.a ...", "#            OK  hmm.v.a", "ok 1 hmm.v.a",
        "#  RUN           hmm.v.b ...", "# some diagnostic",
    ]

    @Test func crashMidTestIsReportedAndTheResumedBootIsRenumbered() {
        let (r, out) = relay()
        Self.firstBoot.forEach(r.feed)
        #expect(r.runningTest == "hmm.v.b")
        let aborted = r.abort(status: .error, reason: "VM died: Kernel panic", excerpt: ["Kernel panic - not syncing"])
        #expect(aborted == "hmm.v.b")
        r.restart()
        ["TAP version 13", "1..1", "# Starting 1 tests from 1 test cases.",
         "#  RUN           hmm.v.c ...", "#            OK  hmm.v.c", "ok 1 hmm.v.c",
         "# PASSED: 1 / 1 tests passed.", "# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0"].forEach(r.feed)
        let code = r.finish()
        let lines = out()
        #expect(lines.filter { $0.hasPrefix("TAP version") }.count == 1)
        #expect(lines.filter { $0.hasPrefix("1..") } == ["1..3"])
        #expect(lines.contains("ok 1 hmm.v.a"))
        #expect(lines.contains("not ok 2 hmm.v.b # ERROR VM died: Kernel panic"))
        #expect(lines.contains("ok 3 hmm.v.c"))
        #expect(lines.contains("# console: Kernel panic - not syncing"))
        #expect(lines.filter { $0.hasPrefix("# Totals:") } == ["# Totals: pass:2 fail:0 xfail:0 xpass:0 skip:0 error:1"])
        #expect(code == .fail)
        // The host's output is itself valid KTAP for a consumer.
        let doc = KTAPParser.parse(lines.joined(separator: "\n"))
        #expect(doc.cases.map(\.name) == ["hmm.v.a", "hmm.v.b", "hmm.v.c"])
        #expect(doc.plan == 3)
    }

    @Test func theGuestsVersionLineStaysRightAfterThePlan() {
        let (r, out) = relay()
        let version = "# hmmkit version: " + HMMKitVersion.current
        ["TAP version 13", "1..1", version, "# Starting 1 tests from 1 test cases.",
         "#  RUN           hmm.v.a ...", "#            OK  hmm.v.a", "ok 1 hmm.v.a"].forEach(r.feed)
        _ = r.finish()
        #expect(Array(out().prefix(4)) == ["TAP version 13", "1..1", version, "# Starting 1 tests from 1 test cases."])
    }

    /// A kernel that oopses after the last test (e.g. while the module unloads) fails the run:
    /// it gets a result of its own, and the plan no longer matches.
    @Test func crashBetweenTestsIsAFailingResult() {
        let (r, out) = relay()
        ["TAP version 13", "1..1", "# Starting 1 tests from 1 test cases.",
         "#  RUN           hmm.v.a ...", "#            OK  hmm.v.a", "ok 1 hmm.v.a",
         "# PASSED: 1 / 1 tests passed."].forEach(r.feed)
        let aborted = r.abort(status: .error, reason: "VM died: BUG: kernel NULL pointer dereference",
                              excerpt: ["RIP: 0010:rmap_walk_anon+0x92/0x182"])
        #expect(aborted == nil)
        #expect(r.lastFinishedTest == "hmm.v.a")
        let code = r.finish()
        #expect(out().contains("not ok 2 vm.died_after.hmm.v.a # ERROR VM died: BUG: kernel NULL pointer dereference (between tests)"))
        #expect(out().contains("# console: RIP: 0010:rmap_walk_anon+0x92/0x182"))
        #expect(code == .fail)
    }

    @Test func hangBecomesTimeout() {
        let (r, out) = relay()
        Self.firstBoot.forEach(r.feed)
        r.abort(status: .timeout, reason: "300 seconds without output, VM killed", excerpt: [])
        _ = r.finish()
        #expect(out().contains("not ok 2 hmm.v.b # TIMEOUT 300 seconds without output, VM killed"))
        #expect(out().contains("# Planned tests != run tests (3 != 2)"))
    }

    @Test func bailOutBeforeAnyPlanStillYieldsADocument() {
        let (r, out) = relay()
        ["TAP version 13", "Bail out! could not load test_hmm: not found"].forEach(r.feed)
        let code = r.finish()
        #expect(out().first == "TAP version 13")
        #expect(out().contains("Bail out! could not load test_hmm: not found"))
        #expect(code != .pass)
    }

    @Test func nestedLinesPassThrough() {
        let (r, out) = relay()
        ["KTAP version 1", "1..1", "  KTAP version 1", "  # Subtest: fixtures", "  1..1", "  ok 1 seed-1", "ok 1 fixtures"].forEach(r.feed)
        #expect(out().contains("  ok 1 seed-1"))
        #expect(out().contains("ok 1 fixtures"))
    }
}

@Suite struct QEMUConfigurationTests {
    @Test func vmShape() {
        let c = VMConfiguration(bzImage: "/k/bzImage",
                                guestRoot: .hostRoot(modulesDirectory: "/k/mods", exchangeDirectory: "/x",
                                                     initPath: "/repo/scripts/vm-init"),
                                consoleLog: "/x/c", ktapLog: "/x/k")
        let args = c.qemuArguments
        #expect(args.contains("node,nodeid=1,memdev=mem1"))  // a memory-only node
        #expect(args.contains("node,nodeid=0,cpus=0-1,memdev=mem0"))
        #expect(args.contains("-no-reboot"))
        #expect(c.kernelCommandLine.contains("memmap=512M$0x40000000"))
        #expect(c.kernelCommandLine.contains("init=/repo/scripts/vm-init"))
        #expect(c.kernelCommandLine.contains("panic=-1"))
        #expect(c.spmModuleParameters.map(\.1) == ["0x40000000", "0x50000000"])
        #expect(Int(args[args.firstIndex(of: "-smp")! + 1])! >= 2)
    }

    @Test func aCPUOnEachNodeWithTheSPMRangeInNode1() {
        var c = VMConfiguration(bzImage: "b", guestRoot: .initramfs(path: "i", channelLog: "ch"), consoleLog: "c", ktapLog: "k")
        c.nodeShape = .cpuPerNode
        c.thp = .always
        let args = c.qemuArguments
        #expect(args.contains("node,nodeid=0,cpus=0,memdev=mem0"))
        #expect(args.contains("node,nodeid=1,cpus=1-1,memdev=mem1"))
        #expect(args.contains("memory-backend-ram,id=mem0,size=1024M"))
        #expect(c.spmBase >= UInt64(c.nodes[0].mib) << 20, "the SPM range starts in node 1")
        #expect(c.kernelCommandLine.contains("transparent_hugepage=always"))
    }

    @Test func thePayloadBootSharesNothingWithTheHost() {
        let c = VMConfiguration(bzImage: "b", guestRoot: .initramfs(path: "/w/initrd.cpio", channelLog: "/w/channel.log"),
                                consoleLog: "c", ktapLog: "k")
        let args = c.qemuArguments
        #expect(!args.contains { $0.contains("9p") || $0.contains("fsdev") }, "no host filesystem reaches the guest")
        #expect(args[args.firstIndex(of: "-initrd")! + 1] == "/w/initrd.cpio")
        #expect(args.contains("file,id=channel,path=/w/channel.log"))
        #expect(args.filter { $0 == "-serial" }.count == 3)
        #expect(c.kernelCommandLine.contains("rdinit=/init"))
        #expect(c.kernelCommandLine.contains("8250.nr_uarts=3"))
        #expect(!c.kernelCommandLine.contains("root="))
    }

    @Test func kvmAndTcgDiffer() {
        var c = VMConfiguration(bzImage: "b", guestRoot: .initramfs(path: "i", channelLog: "ch"), consoleLog: "c", ktapLog: "k")
        c.accelerator = .kvm
        #expect(c.qemuArguments.starts(with: ["-accel", "kvm"]))
        c.accelerator = .tcg
        #expect(c.qemuArguments.starts(with: ["-accel", "tcg,thread=single"]))
        #expect(!c.qemuArguments.contains("-icount"))
    }

    @Test func aThreadPerVCPUOnlyForAKernelWithoutJumpLabels() {
        #expect(VMConfiguration.tcgThreading(forKernelConfig: nil) == .oneThread, "unknown: the safe way")
        #expect(VMConfiguration.tcgThreading(forKernelConfig: "CONFIG_SMP=y\nCONFIG_JUMP_LABEL=y\n") == .oneThread)
        #expect(VMConfiguration.tcgThreading(forKernelConfig: "CONFIG_SMP=y\n# CONFIG_JUMP_LABEL is not set\n")
                    == .threadPerVCPU)
        #expect(VMConfiguration.tcgThreading(forKernelConfig: "CONFIG_SMP=y\n") == .oneThread, "no word on it")
        #expect(VMConfiguration.tcgThreading(forKernelConfig: "# CONFIG_JUMP_LABEL_X is not set\n") == .oneThread)
    }

    @Test func vCPUsSideBySideRunTheModelOnItsOwnThread() {
        var c = VMConfiguration(bzImage: "b", guestRoot: .initramfs(path: "i", channelLog: "ch"), consoleLog: "c", ktapLog: "k")
        #expect(c.vCPUsTakeTurns)
        c.tcgThreading = .threadPerVCPU
        #expect(c.qemuArguments.starts(with: ["-accel", "tcg,thread=multi"]))
        #expect(!c.vCPUsTakeTurns)
        c.instructionCountShift = 3
        #expect(c.qemuArguments.starts(with: ["-accel", "tcg,thread=single"]), "-icount needs one thread")
        #expect(c.vCPUsTakeTurns)
        c.instructionCountShift = nil
        c.accelerator = .kvm
        #expect(!c.vCPUsTakeTurns)
    }

    @Test func instructionCountingIsTCGOnly() {
        var c = VMConfiguration(bzImage: "b", guestRoot: .initramfs(path: "i", channelLog: "ch"), consoleLog: "c", ktapLog: "k")
        c.instructionCountShift = 3
        c.accelerator = .tcg
        #expect(c.qemuArguments.starts(with: ["-accel", "tcg,thread=single", "-cpu", "max,-erms,-fsrm", "-icount", "shift=3"]))
        c.accelerator = .kvm
        #expect(!c.qemuArguments.contains("-icount"))
    }
}

@Suite struct ConsoleExcerptTests {
    @Test func startsAtTheFirstFaultAfterInitIgnoringBootNoise() {
        let console = """
        [    0.29] rcu: Hierarchical RCU implementation.
        [    3.50] hmmkit-vm: up after 3.5s, kernel 6.12.117, 2 CPUs
        [    8.20] sysrq: Trigger a crash\r\n[    8.21] Kernel panic - not syncing: sysrq triggered crash
        [    8.22] Call Trace:
        """
        let excerpt = VMSession.consoleExcerpt(console)
        #expect(excerpt.first == "[    8.21] Kernel panic - not syncing: sysrq triggered crash")
        #expect(excerpt.count == 2)
    }

    @Test func withoutAFaultTheLastLinesAreQuoted() {
        let console = (1...30).map { "line \($0)" }.joined(separator: "\n")
        #expect(VMSession.consoleExcerpt(console) == (21...30).map { "line \($0)" })
    }
}
