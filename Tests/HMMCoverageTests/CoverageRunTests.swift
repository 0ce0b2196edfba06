import Foundation
import HMMGuest
import HMMVM
import Testing
@testable import HMMCoverage

@Suite struct CoverageRunTests {
    @Test func countersTravelUnderNamesTheChannelAccepts() {
        for object in CoverageKernel.defaultObjects {
            let name = CoverageFiles.channelName(of: object)
            #expect(GuestChannel.isSafeFileName(name), "\(name)")
        }
        #expect(CoverageFiles.channelName(of: "mm/migrate_device") == "gcov.mm.migrate_device.gcda")
        // No host path: the boot archive ships what the command names, and this names nothing.
        #expect(!CoverageFiles.argument(CoverageKernel.defaultObjects).hasPrefix("/"))
    }

    @Test func aKernelWithoutGcovSaysHowToGetOne() throws {
        let dir = NSTemporaryDirectory() + "hmmkit-cov-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            _ = try CoverageKernel(artifacts: KernelArtifacts(directory: dir))
            Issue.record("accepted a kernel without gcov/")
        } catch {
            #expect("\(error)".contains("not a coverage kernel"))
            #expect("\(error)".contains("--coverage"))
        }
        try FileManager.default.createDirectory(atPath: dir + "/gcov/mm", withIntermediateDirectories: true)
        try "mm/hmm\n".write(toFile: dir + "/gcov/objects", atomically: true, encoding: .utf8)
        try "/b/build\n".write(toFile: dir + "/gcov/build-dir", atomically: true, encoding: .utf8)
        #expect(throws: (any Error).self) { try CoverageKernel(artifacts: KernelArtifacts(directory: dir)) }
        try Data([0x67]).write(to: URL(fileURLWithPath: dir + "/gcov/mm/hmm.gcno"))
        let kernel = try CoverageKernel(artifacts: KernelArtifacts(directory: dir))
        #expect(kernel.objects == ["mm/hmm"] && kernel.buildDirectory == "/b/build")
    }

    @Test func missingGcovIsAClearError() {
        do {
            _ = try CoverageRun.locateGcov("gcov-that-is-not-installed")
            Issue.record("found a gcov that does not exist")
        } catch {
            #expect("\(error)".contains("not found on PATH"))
        }
    }

    @Test func workloadsRunWhatTheirVMRunsWould() throws {
        let kernel = KernelArtifacts(directory: "/nonexistent")
        let suite = try CoverageWorkload.suite(fixtures: CoverageWorkload.mainJobFixtures(release: "6.12.118"))
            .guestCommand(executable: "/x/hmmkit", kernel: kernel).command
        #expect(suite.starts(with: ["/x/hmmkit", "run", "--no-shrink", "--fixtures", GuestLayout.fixtures + "/corpus"]))
        #expect(suite.contains(GuestLayout.fixtures + "/scenarios/linux-6.12"))
        #expect(suite.contains("--load-module"))
        let corpus = try CoverageWorkload.corpus(["/c"]).guestCommand(executable: "/x/hmmkit", kernel: kernel).command
        #expect(corpus.starts(with: ["/x/hmmkit", "replay", "--no-shrink", "/c", "--load-module", "--spm"]))
        #expect(throws: (any Error).self) { try CoverageWorkload.kselftest.guestCommand(executable: "/x/hmmkit", kernel: kernel) }
    }
}
