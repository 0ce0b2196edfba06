import FoundationEssentials

/// Whether this process runs inside an hmmkit test VM, where loading test_hmm is expected:
/// its init exported HMMKIT_IN_VM=1 and PID 1 is that init (the payload's hmmkit as /init,
/// or scripts/vm-init on the host's 9p root). A variable alone is not enough: anyone can set it.
public enum TestVM {
    public static var isCurrentMachine: Bool {
        guard ProcessInfo.processInfo.environment["HMMKIT_IN_VM"] == "1" else { return false }
        let cmdline = (try? String(contentsOfFile: "/proc/1/cmdline", encoding: .utf8)) ?? ""
        if cmdline.contains("vm-init") { return true }
        return cmdline == GuestLayout.initLink + "\0" && FileManager.default.fileExists(atPath: GuestLayout.payloadMarker)
    }
}
