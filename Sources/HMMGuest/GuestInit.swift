import FoundationEssentials
import HMMKernel
import HMMSystem

/// hmmkit as a test VM's PID 1, booted from the payload's initramfs: mounts what the suite
/// needs, runs the command the host put in the boot archive (or, booted on its own, the
/// whole suite), streams the files it saved and its exit code back, and powers off.
///
/// Console (stdout, stderr) carries progress; KTAP goes to its own serial line when the host
/// gave one, else to the console, where a lab such as LAVA reads it. Nothing here may end
/// the process: PID 1 exiting panics the kernel, so every failure is reported and the VM
/// powers off.
public enum GuestInit {
    /// PID 1 started as /init, as the kernel starts an initramfs's init (words of the kernel
    /// command line it did not recognise become arguments, and are ignored). Before /proc is
    /// mounted Swift may see no arguments at all: on Linux it reads them from /proc/self/cmdline.
    public static var isRequested: Bool {
        InitProcess.isPID1 && (CommandLine.arguments.isEmpty || CommandLine.arguments.first == GuestLayout.initLink)
    }

    public static func run() -> Never {
        for (type, target, options) in [("proc", "/proc", nil), ("sysfs", "/sys", nil), ("devtmpfs", "/dev", nil),
                                        // Not /tmp: the initramfs is writable memory already, and a tmpfs
                                        // there would hide host files the boot archive put under /tmp.
                                        ("tmpfs", "/run", nil),
                                        ("debugfs", "/sys/kernel/debug", nil)] as [(String, String, String?)] {
            do { try InitProcess.mount(type, on: target, options: options) } catch { say("\(error)") }
        }
        let release = Machine.kernelRelease
        say("up after \(format(uptime()))s, kernel \(release), \(ProcessInfo.processInfo.activeProcessorCount) CPUs")

        let plan = BootPlan.read(release: release, kernelCommandLine: readLine("/proc/cmdline") ?? "")
        for device in [plan.ktapDevice, plan.channelDevice].compactMap({ $0 }) {
            do { try InitProcess.makeTerminalRaw(device) } catch { say("\(error)") }
        }
        try? FileManager.default.createDirectory(atPath: GuestLayout.outputDirectory, withIntermediateDirectories: true)
        say("running: \(plan.command.joined(separator: " "))")
        var code: Int32
        do {
            let pid = try InitProcess.spawn(plan.command, environment: plan.environment, directory: plan.workingDirectory,
                                            stdout: plan.ktapDevice ?? "/dev/console", stderr: "/dev/console")
            code = InitProcess.waitForExit(of: pid)
        } catch {
            say("\(error)")
            code = 127
        }
        report(exitCode: code, to: plan.channelDevice)
        say("command exited \(code) after \(format(uptime()))s")
        InitProcess.sync()
        // Booted by a lab (no channel: the console is all it reads), the line above ends the
        // lab's watch; powering off at once closes the console under it first, and LAVA then
        // fails the job as an infrastructure error. The lab powers the VM off itself.
        if plan.channelDevice == nil { sleepSeconds(labGraceSeconds) }
        do { try Machine.powerOff() } catch { say("\(error)") }
        while true { sleepSeconds(60) }
    }

    /// The saved files and the exit code, over the channel; booted without one, only the
    /// exit code, on the console.
    static func report(exitCode: Int32, to channelDevice: String?) {
        guard let channelDevice, let channel = try? FileDescriptor.open(channelDevice) else {
            say("# hmmkit: guest command exit code \(exitCode)")
            return
        }
        do {
            try channel.write((GuestChannel.header + "\n").utf8)
            let names = ((try? listDirectory(GuestLayout.outputDirectory)) ?? []).sorted()
            for name in names {
                guard GuestChannel.isSafeFileName(name), let bytes = try? readFileBytes(GuestLayout.outputDirectory + "/" + name) else {
                    say("not sent to the host: \(name)")
                    continue
                }
                try channel.write(GuestChannel.encodeFile(name: name, bytes: bytes).utf8)
            }
            try channel.write(GuestChannel.encodeExit(exitCode).utf8)
        } catch {
            say("\(channelDevice): \(error)")
        }
        try? channel.synchronize()
    }

    /// How long a lab's boot stays up after its last line, before powering off on its own.
    static let labGraceSeconds: UInt32 = 10

    static func say(_ text: String) {
        StandardStream.error.write("hmmkit-vm: \(text)\n")
    }

    static func uptime() -> Double {
        Double(readLine("/proc/uptime")?.split(separator: " ").first ?? "") ?? 0
    }

    static func format(_ seconds: Double) -> String { seconds.fixed(2) }

    static func readLine(_ path: String) -> String? {
        (try? readTextFile(path))?.trimmed
    }
}
