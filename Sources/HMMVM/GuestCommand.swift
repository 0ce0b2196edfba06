/// The command line hmmkit runs in a test VM's guest, shared by `hmmkit vm run` and
/// `hmmkit series`.
public enum GuestCommand {
    /// test_hmm's two SPM addresses in the test VM's reserved range, as `--spm` takes them.
    public static var spmAddresses: String { spmParameters.map(\.1).joined(separator: ",") }

    /// test_hmm's parameters for the test VM's reserved range.
    public static var spmParameters: [(String, String)] {
        VMConfiguration(bzImage: "", guestRoot: .initramfs(path: "", channelLog: ""), consoleLog: "", ktapLog: "")
            .spmModuleParameters
    }

    /// hmmkit with `arguments` (default `run`) in the guest. `run` and `replay` load test_hmm
    /// with the VM's SPM addresses (unless the arguments load it themselves) and can resume
    /// after a crash with `--start-after`; `bench suite` loads it too and gets the kernel's
    /// own hmm-tests (`peer`) to compare with; `bench migrate` loads it.
    public static func hmmkit(_ arguments: [String], executable: String = Repository.executable,
                              peer: String? = nil) -> (command: [String], resumable: Bool) {
        var args = arguments.isEmpty ? ["run"] : arguments
        let resumable = args.first == "run" || args.first == "replay"
        let bench = args.starts(with: ["bench", "suite"])
        let loads = resumable || bench || args.starts(with: ["bench", "migrate"])
        if loads && !args.contains("--load-module") { args += ["--load-module", "--spm", spmAddresses] }
        if bench && !args.contains("--hmm-tests"), let peer { args += ["--hmm-tests", peer] }
        return ([executable] + args, resumable)
    }
}
