import Foundation

/// What `hmmkit vm run` asks for, turned into a kernel and a guest command line.
public enum VMRun {
    /// The kernel `--kernel` names: a bzImage built elsewhere (with its `modules` and
    /// optional `kernelConfig`), or a source, tree or build directory built or found with
    /// `config` (see ``KernelBuilder``).
    public static func artifacts(kernel: String, modules: String?, kernelConfig: String?, config: String?,
                                 progress: (String) -> Void) throws -> KernelArtifacts {
        if ImportedKernel.isKernelImage(kernel) {
            guard let modules else { throw HMMKitError("--kernel \(kernel) is a kernel image: give its modules with --modules") }
            return try ImportedKernel.artifacts(bzImage: kernel, modules: modules, config: kernelConfig, progress: progress)
        }
        return try KernelBuilder.artifacts(for: kernel, config: config, progress: progress)
    }

    /// The guest's command line: a C kselftest program (the kernel's own hmm-tests when
    /// `kselftest`, else `program`) under `module run-program` with test_hmm loaded as
    /// hmmkit's runs load it, or hmmkit with `guestArguments`. `hostFiles` are the files the
    /// guest needs from the host.
    public static func guestCommand(kselftest: Bool, program: String?, guestArguments: [String], artifacts: KernelArtifacts,
                                    executable: String = Repository.executable) throws
        -> (command: [String], resumable: Bool, hostFiles: [String]) {
        guard kselftest || program != nil else {
            let (command, resumable) = GuestCommand.hmmkit(guestArguments, executable: executable, peer: artifacts.kselftest)
            return (command, resumable, [])
        }
        guard let peer = program ?? artifacts.kselftest else {
            throw HMMKitError("\(artifacts.directory) has no hmm-tests binary (the tree lacks tools/testing/selftests/mm/hmm-tests.c?)")
        }
        // Same module load as hmmkit's own runs, then the peer exactly as test_hmm.sh smoke runs it.
        let command = [executable, "module", "run-program", "--parameters"]
            + GuestCommand.spmParameters.map { "\($0.0)=\($0.1)" } + ["--", peer]
        return (command, false, [peer])
    }
}
