import Foundation
import HMMVM
import Testing

/// What `hmmkit vm run` boots and runs in the guest.
@Suite struct VMRunTests {
    let artifacts = KernelArtifacts(directory: "/nonexistent/build")

    @Test func hmmkitRunsInTheGuestByDefault() throws {
        let (command, resumable, hostFiles) = try VMRun.guestCommand(kselftest: false, program: nil, guestArguments: [],
                                                                     artifacts: artifacts, executable: "/h")
        #expect(command == ["/h", "run", "--load-module", "--spm", GuestCommand.spmAddresses])
        #expect(resumable && hostFiles.isEmpty)
    }

    @Test func aCProgramRunsUnderModuleRunProgram() throws {
        let (command, resumable, hostFiles) = try VMRun.guestCommand(kselftest: false, program: "/t/emitted", guestArguments: [],
                                                                     artifacts: artifacts, executable: "/h")
        #expect(command == ["/h", "module", "run-program", "--parameters"] + GuestCommand.spmParameters.map { "\($0.0)=\($0.1)" }
                + ["--", "/t/emitted"])
        #expect(!resumable && hostFiles == ["/t/emitted"])
        // The kernel's own hmm-tests must have been built beside the kernel.
        #expect(throws: HMMKitError.self) {
            try VMRun.guestCommand(kselftest: true, program: nil, guestArguments: [], artifacts: artifacts, executable: "/h")
        }
    }

    @Test func aKernelImageNeedsItsModules() throws {
        let image = FileManager.default.temporaryDirectory.appendingPathComponent("hmmkit-vmrun-\(UUID().uuidString)").path
        var bytes = [UInt8](repeating: 0, count: 0x300)
        bytes.replaceSubrange(0x202..<0x206, with: Array("HdrS".utf8))
        #expect(FileManager.default.createFile(atPath: image, contents: Data(bytes)))
        defer { try? FileManager.default.removeItem(atPath: image) }
        try #require(ImportedKernel.isKernelImage(image))
        let refused = #expect(throws: HMMKitError.self) {
            try VMRun.artifacts(kernel: image, modules: nil, kernelConfig: nil, config: nil) { _ in }
        }
        #expect(refused?.description.contains("give its modules with --modules") == true)
    }
}
