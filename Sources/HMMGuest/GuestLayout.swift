/// Where things are in the guest's root filesystem: the payload's initramfs (written by
/// the host, read by the guest's init), so both sides name each path once.
public enum GuestLayout {
    /// hmmkit itself; `/init` is a symlink to it.
    public static let executable = "/bin/hmmkit"
    public static let initLink = "/init"
    /// Marks a root filesystem as an hmmkit payload (its content: hmmkit's version).
    public static let payloadMarker = "/hmmkit/payload"
    /// The payload's fixtures (the repository's Fixtures/ directory).
    public static let fixtures = "/usr/share/hmmkit/Fixtures"

    /// What the host adds for one boot (a second cpio archive after the payload's).
    public enum Boot {
        public static let directory = "/hmmkit/boot"
        /// argv of the command to run, NUL-separated.
        public static let command = directory + "/cmd"
        /// The command's working directory (one line).
        public static let workingDirectory = directory + "/cwd"
        /// The kernel's build configuration, when the host knows it.
        public static let kernelConfig = directory + "/kernel-config"
        /// `NAME=VALUE` lines the host passes into the command's environment (its
        /// `HMMKIT_GIT_COMMIT`, so the guest's hmmkit reports the same version as the host's).
        public static let environment = directory + "/environment"
        /// Serial device for KTAP (one line, e.g. /dev/ttyS1); else the console.
        public static let ktapDevice = directory + "/ktap-device"
        /// Serial device for the channel back to the host (one line, e.g. /dev/ttyS2).
        public static let channelDevice = directory + "/channel-device"
    }

    /// Files the command saves for the host ($HMMKIT_OUTPUT_DIR in the guest).
    public static let outputDirectory = "/tmp/hmmkit-out"
    public static func modulesDirectory(release: String) -> String { "/lib/modules/\(release)" }
}
