import Foundation
import Testing
@testable import HMMGuest
@testable import HMMVM

@Suite struct CPIOArchiveTests {
    /// The host's cpio(1) must list what the writer wrote, parents first, with a device node.
    @Test func cpioReadsItBack() throws {
        let dir = NSTemporaryDirectory() + "hmmkit-cpio-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var archive = try CPIOArchive(path: dir + "/a.cpio")
        try archive.characterDevice("/dev/console", major: 5, minor: 1)
        try archive.file("/usr/share/x/hello", bytes: Array("hello\n".utf8), mode: 0o755)
        try archive.symlink("/init", to: "bin/hmmkit")
        try archive.finish()
        let data = try #require(FileManager.default.contents(atPath: dir + "/a.cpio"))
        #expect(data.count % 4 == 0)
        let listing = try run("/usr/bin/cpio", ["-itv", "-F", dir + "/a.cpio"])
        let names = listing.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }
        #expect(names.prefix(6) == ["dev", "console", "usr", "share", "x", "hello"] || listing.contains("usr/share/x/hello"))
        #expect(listing.contains("crw-------"))
        #expect(listing.contains("-rwxr-xr-x"))
        #expect(listing.contains("init -> bin/hmmkit"))
        let firstDirectory = try #require(listing.split(separator: "\n").firstIndex { $0.hasSuffix(" usr") })
        let file = try #require(listing.split(separator: "\n").firstIndex { $0.hasSuffix("usr/share/x/hello") })
        #expect(firstDirectory < file)
    }

    @Test func headerIsNewcWithTheNameSizeCountingItsNUL() {
        let header = CPIOArchive.header(name: "init", inode: 7, mode: 0o120777, size: 10, rdev: (0, 0))
        let text = String(decoding: header, as: UTF8.self)
        #expect(text.count == 110)
        #expect(text.hasPrefix("070701" + "00000007" + "0000a1ff"))
        #expect(text.dropFirst(6 + 11 * 8).prefix(8) == "00000005")
    }

    func run(_ program: String, _ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return out
    }
}

@Suite struct GuestChannelTests {
    @Test func filesAndExitCodeRoundTrip() {
        let bytes: [UInt8] = (0..<300).map { UInt8($0 % 256) }
        let text = GuestChannel.header + "\r\n" + GuestChannel.encodeFile(name: "repro-1.fixture", bytes: bytes)
            + GuestChannel.encodeFile(name: "empty.c", bytes: []) + GuestChannel.encodeExit(4)
        let report = GuestChannel.decode(text)
        #expect(report.problems == [])
        #expect(report.exitCode == 4)
        #expect(report.files.map(\.name) == ["repro-1.fixture", "empty.c"])
        #expect(report.files.first?.bytes == bytes)
    }

    @Test(arguments: ["../etc/passwd", ".hidden", "a/b", "", "x y", String(repeating: "a", count: 201)])
    func refusesNamesThatAreNotPlainFiles(_ name: String) {
        let report = GuestChannel.decode(GuestChannel.header + "\nfile \(name) 1\nAA==\nend\nexit 0\n")
        #expect(report.files.isEmpty)
        #expect(report.exitCode == 0)
        #expect(!report.problems.isEmpty)
    }

    @Test func hostileInputIsReportedNotTrusted() {
        let cases = [
            "file big 99999999999999999999\n",            // a huge number
            "file a 4\nAAAA\nAAAA\nAAAA\nend\n",            // more content than announced
            "file a 3\n!!!!\nend\n",                        // not base64
            "file a 3\nAAAA\n",                             // stopped mid-file
            "exit 300\n", "exit -1\n", "gibberish\n",
        ]
        for body in cases {
            let report = GuestChannel.decode(GuestChannel.header + "\n" + body)
            #expect(report.files.isEmpty, "\(body)")
            #expect(report.exitCode == nil, "\(body)")
            #expect(report.problems.count == 1, "\(body): \(report.problems)")
        }
        #expect(GuestChannel.decode("exit 0\n").problems == ["line 1: no 'hmmkit-channel 1' header"])
        #expect(GuestChannel.decode("").exitCode == nil)
    }
}

@Suite struct BootPlanTests {
    @Test func theHostsCommandWins() {
        let plan = BootPlan.make(hostCommand: ["/bin/hmmkit", "run", "-t", "migrate"], workingDirectory: "/work",
                                 kernelConfig: "/hmmkit/boot/kernel-config", ktapDevice: "/dev/ttyS1",
                                 channelDevice: "/dev/ttyS2", release: "6.12.118", kernelCommandLine: "",
                                 fixtureDirectoryExists: { _ in true })
        #expect(plan.command == ["/bin/hmmkit", "run", "-t", "migrate"])
        #expect(plan.workingDirectory == "/work")
        #expect(plan.environment.contains("HMMKIT_MODULES_DIR=/lib/modules/6.12.118"))
        #expect(plan.environment.contains("HMMKIT_KERNEL_CONFIG=/hmmkit/boot/kernel-config"))
        #expect(plan.environment.contains("HMMKIT_IN_VM=1"))
    }

    @Test func bootedAloneItRunsTheSuiteWithTheReservedRange() {
        let plan = BootPlan.make(hostCommand: nil, workingDirectory: nil, kernelConfig: nil, ktapDevice: nil,
                                 channelDevice: nil, release: "6.1.192", kernelCommandLine: "console=ttyS0 memmap=512M$0x40000000 quiet",
                                 fixtureDirectoryExists: { !$0.hasSuffix("linux-6.1") })
        #expect(plan.command == ["/bin/hmmkit", "run", "--load-module", "--spm", "0x40000000,0x50000000",
                                 "--fixtures", "/usr/share/hmmkit/Fixtures/corpus", "--fixtures", "/usr/share/hmmkit/Fixtures/selftest",
                                 "--fixtures", "/usr/share/hmmkit/Fixtures/scenarios"])
        #expect(plan.ktapDevice == nil && plan.channelDevice == nil)
        #expect(!plan.environment.contains { $0.hasPrefix("HMMKIT_KERNEL_CONFIG=") })
    }

    @Test func aLabPicksTheShardOnTheKernelCommandLine() {
        let plan = BootPlan.make(hostCommand: nil, workingDirectory: nil, kernelConfig: nil, ktapDevice: nil,
                                 channelDevice: nil, release: "6.12.118", kernelCommandLine: "console=ttyS0 hmmkit.shard=3/4 quiet",
                                 fixtureDirectoryExists: { _ in false })
        #expect(plan.command == ["/bin/hmmkit", "run", "--load-module", "--shard", "3/4"])
    }

    @Test func theHostsCommitReachesTheGuestAndNothingElseDoes() {
        let passed = BootPlan.passedEnvironment(["HMMKIT_GIT_COMMIT": "0123abcd", "HOME": "/root", "SECRET": "x",
                                                 "HMMKIT_CACHE": "/host/cache"])
        #expect(passed == ["HMMKIT_GIT_COMMIT=0123abcd"])
        #expect(BootPlan.passedEnvironment(["HMMKIT_GIT_COMMIT": "a\nHMMKIT_IN_VM=0"]).isEmpty)
        let plan = BootPlan.make(hostCommand: ["/bin/hmmkit", "run"], workingDirectory: "/", kernelConfig: nil,
                                 hostEnvironment: passed + ["PATH=/host/bin", "HMMKIT_IN_VM=0", "junk"], ktapDevice: nil,
                                 channelDevice: nil, release: "6.12.118", kernelCommandLine: "", fixtureDirectoryExists: { _ in true })
        #expect(plan.environment.contains("HMMKIT_GIT_COMMIT=0123abcd"))
        #expect(!plan.environment.contains("PATH=/host/bin") && !plan.environment.contains("HMMKIT_IN_VM=0"))
        #expect(!plan.environment.contains("junk"))
    }

    @Test func theKernelsConfigNameReachesTheGuest() throws {
        let plan = BootPlan.make(hostCommand: ["/bin/hmmkit", "run"], workingDirectory: "/", kernelConfig: nil,
                                 hostEnvironment: ["HMMKIT_CONFIG_NAME=defconfig+distro.config"], ktapDevice: nil,
                                 channelDevice: nil, release: "6.12.118", kernelCommandLine: "", fixtureDirectoryExists: { _ in true })
        #expect(plan.environment.contains("\(BootPlan.configNameVariable)=defconfig+distro.config"))
        // The host's own setting of it is not passed: the name comes from the kernel's build.
        #expect(BootPlan.passedEnvironment([BootPlan.configNameVariable: "mine"]).isEmpty)

        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hmmkit-artifacts-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let built = root.appendingPathComponent("debian-6.12-6.12.118-1~deb12u1-1ea9280eb75f").path
        try FileManager.default.createDirectory(atPath: built, withIntermediateDirectories: true)
        // A build from before scripts/kernel-build wrote config-name: named by its config hash.
        #expect(KernelArtifacts(directory: built).configName == "config-1ea9280eb75f")
        try Data("tinyconfig+hmmkit.config\n".utf8).write(to: URL(fileURLWithPath: built + "/config-name"))
        #expect(KernelArtifacts(directory: built).configName == "tinyconfig+hmmkit.config")
        #expect(KernelArtifacts(directory: root.appendingPathComponent("0123456789abcdef").path).configName == nil)
    }

    @Test func spmRangeFromTheCommandLine() {
        #expect(SPMRange(kernelCommandLine: "memmap=1G$0x100000000") == SPMRange(base: 1 << 32, bytes: 1 << 30))
        #expect(SPMRange(kernelCommandLine: "memmap=512M@0x40000000") == nil, "@ is usable RAM, not a reservation")
        #expect(SPMRange(kernelCommandLine: "memmap=99999999999999999999G$0x0") == nil)
        #expect(SPMRange(kernelCommandLine: "quiet") == nil)
        #expect(SPMRange(base: 0x4000_0000, bytes: 512 << 20).deviceAddresses == [0x4000_0000, 0x5000_0000])
    }
}

@Suite struct KernelImportTests {
    @Test func moduleClosureFollowsModulesDep() {
        let dep = ModuleClosure.parse("""
            kernel/lib/test_hmm.ko.xz: kernel/mm/helper.ko.xz
            kernel/mm/helper.ko.xz: kernel/base/low-level.ko.xz
            kernel/base/low-level.ko.xz:
            kernel/drivers/gpu/big.ko.xz: kernel/mm/helper.ko.xz
            """)
        #expect(ModuleClosure.closure(of: ["test_hmm"], dependencies: dep)
                == ["kernel/lib/test_hmm.ko.xz", "kernel/mm/helper.ko.xz", "kernel/base/low-level.ko.xz"])
        #expect(ModuleClosure.moduleName("kernel/base/low-level.ko.zst") == "low_level")
        #expect(ModuleClosure.closure(of: ["absent"], dependencies: dep).isEmpty)
    }

    @Test func lddOutputNamesEveryLibraryAndTheLoader() throws {
        let text = """
            \tlinux-vdso.so.1 (0x00007ffd)
            \tlibkmod.so.2 => /lib/x86_64-linux-gnu/libkmod.so.2 (0x00007f)
            \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)
            \t/lib64/ld-linux-x86-64.so.2 (0x00007f)
            """
        #expect(try SharedLibraries.parse(text, program: "p")
                == ["/lib/x86_64-linux-gnu/libkmod.so.2", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"])
        #expect(throws: HMMKitError.self) { try SharedLibraries.parse("\tlibgone.so => not found\n", program: "p") }
    }

    @Test func kernelImageHeaderAndRelease() throws {
        let path = NSTemporaryDirectory() + "hmmkit-fake-bzimage-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var bytes = [UInt8](repeating: 0, count: 0x400)
        bytes.replaceSubrange(0x202..<0x206, with: Array("HdrS".utf8))
        bytes[0x20e] = 0x00; bytes[0x20f] = 0x01   // kernel_version at 0x100 + 0x200
        bytes.replaceSubrange(0x300..<0x300 + 18, with: Array("6.12.9-ci (ci@lab)".utf8))
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(ImportedKernel.isKernelImage(path))
        #expect(ImportedKernel.release(ofImage: path) == "6.12.9-ci")
        try Data("not a kernel".utf8).write(to: URL(fileURLWithPath: path))
        #expect(!ImportedKernel.isKernelImage(path))
        #expect(ImportedKernel.release(ofImage: path) == nil)
    }

    @Test func hostPathsAreOnlyThoseTheCommandNames() throws {
        let dir = NSTemporaryDirectory() + "hmmkit-named-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir + "/Fixtures", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let paths = BootArchive.hostPaths(namedBy: ["run", "--fixtures", "Fixtures", "--results=/", "-t", "absent",
                                                    "--results=\(dir)/Fixtures"],
                                          workingDirectory: dir)
        #expect(paths == [dir + "/Fixtures"])
    }
}

@Suite struct PayloadCacheTests {
    let now = Date(timeIntervalSince1970: 1_000_000)

    func payloads(_ ages: [Double]) -> [(directory: String, used: Date)] {
        ages.enumerated().map { ("/c/p\($0.offset)", now.addingTimeInterval(-$0.element)) }
    }

    @Test func keepsTheMostRecentlyUsedAndDeletesTheRest() {
        let stale = GuestPayload.prune(payloads([7200, 10, 9000, 20, 8000]), keeping: 2, current: "/c/none", grace: 3600, now: now)
        #expect(Set(stale) == ["/c/p0", "/c/p2", "/c/p4"])
    }

    @Test func neverDeletesThePayloadInUseNorOneUsedWithinTheGrace() {
        let stale = GuestPayload.prune(payloads([7200, 100, 9000, 3000]), keeping: 1, current: "/c/p2", grace: 3600, now: now)
        #expect(stale == ["/c/p0"])
    }

    @Test func aCacheWithinTheBoundIsLeftAlone() {
        #expect(GuestPayload.prune(payloads([99_999, 88_888]), keeping: 6, current: "/c/x", grace: 3600, now: now).isEmpty)
    }
}

/// Which executable the payload ships: hmmkit-guest when it is up to date, else hmmkit.
@Suite struct GuestExecutableTests {
    /// A build directory with hmmkit, optionally hmmkit-guest, one object of a module and,
    /// when `linked`, SwiftPM's list of the guest's objects naming it; times are seconds
    /// after an arbitrary epoch.
    func buildDirectory(guest: Double?, object: Double, linked: Bool = true) throws -> String {
        let dir = NSTemporaryDirectory() + "hmmkit-guestexe-\(getpid())-\(UUID().uuidString)"
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/HMMSuite.build", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/hmmkit-guest.product", withIntermediateDirectories: true)
        func file(_ path: String, at time: Double, text: String = "x") throws {
            #expect(fm.createFile(atPath: path, contents: Data(text.utf8)))
            try fm.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_700_000_000 + time)], ofItemAtPath: path)
        }
        try file(dir + "/hmmkit", at: 500)
        if let guest { try file(dir + "/hmmkit-guest", at: guest) }
        try file(dir + "/HMMSuite.build/Runner.swift.o", at: object)
        let list = (linked ? [dir + "/HMMSuite.build/Runner.swift.o"] : []) + [dir + "/KTAP.build/gone.o"]
        try file(dir + "/hmmkit-guest.product/Objects.LinkFileList", at: 0, text: list.joined(separator: "\n") + "\n")
        return dir
    }

    @Test func shipsTheGuestExecutableWhenItIsNewerThanItsObjects() throws {
        let dir = try buildDirectory(guest: 100, object: 50)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var said: [String] = []
        #expect(GuestExecutable.choose(beside: dir + "/hmmkit") { said.append($0) } == dir + "/hmmkit-guest")
        #expect(said.isEmpty)
    }

    @Test func shipsHmmkitWhenTheGuestExecutableIsStale() throws {
        let dir = try buildDirectory(guest: 100, object: 200)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var said: [String] = []
        #expect(GuestExecutable.choose(beside: dir + "/hmmkit") { said.append($0) } == dir + "/hmmkit")
        #expect(said.count == 1 && said[0].contains("older than") && said[0].contains("HMMSuite.build/Runner.swift.o"))
    }

    @Test func anObjectItDoesNotLinkDoesNotMakeItStale() throws {
        let dir = try buildDirectory(guest: 100, object: 200, linked: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(GuestExecutable.choose(beside: dir + "/hmmkit") { _ in } == dir + "/hmmkit-guest")
    }

    @Test func shipsHmmkitWhenThereIsNoGuestExecutable() throws {
        let dir = try buildDirectory(guest: nil, object: 50)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var said: [String] = []
        #expect(GuestExecutable.choose(beside: dir + "/hmmkit") { said.append($0) } == dir + "/hmmkit")
        #expect(said.count == 1 && said[0].contains("no hmmkit-guest"))
    }
}
