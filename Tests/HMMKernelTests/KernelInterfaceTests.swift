import HMMSystem
import Testing

@testable import HMMKernel

#if canImport(Glibc)
import Glibc
#endif

@Suite struct KmodErrorPathTests {
    @Test func missingModuleNamesTheModuleAndTheDirectory() throws {
        let modules = try KernelModules(modulesDirectory: "/nonexistent/hmmkit-modules")
        #expect(!modules.isLoaded("hmmkit_no_such_module"))
        do {
            try modules.load("hmmkit_no_such_module", parameters: [("x", "1")])
            Issue.record("loading a module that does not exist succeeded")
        } catch {
            #expect(error.errno == .ENOENT)
            #expect(error.description.contains("hmmkit_no_such_module"))
            #expect(error.description.contains("/nonexistent/hmmkit-modules"))
        }
        #expect(throws: KmodError.self) { try modules.parameters(of: "hmmkit_no_such_module") }
    }

    @Test func unloadingAModuleThatIsNotLoadedFails() throws {
        let modules = try KernelModules()
        do {
            try modules.unload("hmmkit_no_such_module")
            Issue.record("unload of a module that is not loaded succeeded")
        } catch {
            #expect(error.description.contains("hmmkit_no_such_module"))
        }
    }
}

@Suite struct NumaTests {
    @Test(.enabled(if: Numa.isAvailable)) func nodesAndPageQuery() throws {
        let nodes = try Numa.nodes()
        #expect(!nodes.isEmpty)
        let region = try MappedRegion.anonymous(length: Machine.pageSize)
        region.withBytes(pages: 0..<1) { $0[0] = 1 }  // populate
        let status = try Numa.nodes(ofPages: [region.address])
        #expect(nodes.map { Int32($0.id) }.contains(status[0]))
    }

    @Test(.enabled(if: Numa.isAvailable)) func bindingToANodeOutsideTheMaskIsAnError() throws {
        let region = try MappedRegion.anonymous(length: Machine.pageSize)
        #expect(throws: Numa.Failure.self) { try Numa.bind(address: region.address, length: region.length, policy: .bind, nodes: [200]) }
        // A node id the kernel does not have: mbind answers EINVAL.
        do {
            try Numa.bind(address: region.address, length: region.length, policy: .bind, nodes: [63])
            Issue.record("mbind to node 63 succeeded")
        } catch let Numa.Failure.system(e) {
            #expect(e.call == "mbind")
        }
    }

    @Test(.enabled(if: !Numa.isAvailable)) func withoutNumaEveryCallSaysWhy() {
        #expect(throws: Numa.Failure.self) { try Numa.nodes() }
    }
}

@Suite struct KernelHealthTests {
    @Test func kmsgRecordParsing() throws {
        let r = try #require(KernelLogRecord(line: "4,1234,5678901,-;WARNING: CPU: 0 PID: 1 at mm/migrate_device.c:123\n SUBSYSTEM=x"))
        #expect(r.priority == 4)
        #expect(r.sequence == 1234)
        #expect(r.text == "WARNING: CPU: 0 PID: 1 at mm/migrate_device.c:123")
        #expect(r.isFault)
        #expect(KernelLogRecord(line: "6,1,2,-;HMM test module loaded.")?.isFault == false)
        #expect(KernelLogRecord(line: "garbage") == nil)
    }

    @Test func pagemapBits() {
        let e = PagemapEntry(rawValue: (1 << 62) | (1 << 61) | 0x1234)
        #expect(e.swapped && e.fileOrSharedAnon && !e.present)
        #expect(e.pfn == 0x1234)
    }

    @Test func pagemapOfThisProcess() throws {
        let region = try MappedRegion.anonymous(length: 2 * Machine.pageSize)
        region.withBytes(pages: 0..<1) { $0[0] = 7 }
        let entries = try PagemapEntry.read(address: region.address, count: 2)
        #expect(entries[0].present)
        #expect(!entries[1].present)
    }

    @Test func taintReads() {
        #expect(Taint.current() != nil)
    }
}

@Suite struct MemoryTests {
    @Test func mprotectMadviseAndPartialUnmap() throws {
        let region = try MappedRegion.anonymous(length: 4 * Machine.pageSize)
        region.withBytes(pages: 0..<4) { $0[0] = 9; $0[3 * Machine.pageSize] = 9 }
        try region.protect(pages: 1..<2, .read)
        try region.advise(pages: 0..<1, .dontNeed)
        #expect(region.withBytes(pages: 0..<1) { $0[0] } == 0)  // DONTNEED drops private anon contents
        try region.unmap(pages: 2..<3)
        #expect(try PagemapEntry.read(address: region.address(ofPage: 3), count: 1)[0].present)
    }

    @Test func dmirrorDeviceMissingIsATypedError() {
        #expect(throws: SystemError.self) { try DmirrorDevice(minor: 9, generation: .v6_1) }
    }
}

@Suite struct ProcVersionTests {
    @Test(arguments: [
        ("Linux version 6.12.117-hmmkit (root@build) (gcc (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) "
            + "#1 SMP PREEMPT_DYNAMIC Thu Jan  1 00:00:00 UTC 2026\n",
         "gcc (Debian 12.2.0-14) 12.2.0"),
        ("Linux version 5.4.0-42-generic (buildd@lgw01-amd64-038) (gcc version 9.3.0 (Ubuntu 9.3.0-10ubuntu2)) "
            + "#46-Ubuntu SMP Fri Jul 10 00:24:02 UTC 2020",
         "gcc version 9.3.0 (Ubuntu 9.3.0-10ubuntu2)"),
        ("Linux version 6.6.0 (me@box) (Debian clang version 16.0.6 (15), Debian LLD 16.0.6) #1 SMP", "Debian clang version 16.0.6 (15)"),
    ])
    func compilerOfTheToolchainGroup(text: String, compiler: String) {
        #expect(ProcVersion.compiler(in: text) == compiler)
    }

    @Test func withoutAToolchainGroupThereIsNoCompiler() {
        #expect(ProcVersion.compiler(in: "") == nil)
        #expect(ProcVersion.compiler(in: "Linux version 6.12 (root@host) #1 SMP") == nil)
        #expect(ProcVersion.compiler(in: "Linux version 6.12 (root@host) () #1") == nil)
        #expect(ProcVersion.compiler(in: "Linux version 6.12 (root@host) (gcc 12, unbalanced #1") == nil)
        #expect(ProcVersion.compiler(in: "))((") == nil)
    }

    @Test func theRunningKernelsLineReadsTheSameWay() throws {
        let text = try readTextFile("/proc/version")
        let compiler = ProcVersion.compiler(in: text)
        #expect(Machine.kernelCompiler == compiler)
        if let compiler { #expect(text.contains(compiler)) }
        #expect(!Machine.architecture.isEmpty)
    }
}
