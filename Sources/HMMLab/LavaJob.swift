import HMMGuest
import HMMVM
import KTAP

/// One shard of the suite on one kernel, as a LAVA job on a QEMU device: the kernel, and
/// the payload's initramfs with test_hmm's modules appended (the guest's /init runs the
/// standalone suite, KTAP on the console); a `monitors` test turns each KTAP result into a
/// LAVA test case. The VM has the shape `hmmkit vm run` gives its own guests (nodes, SPM
/// range, THP, huge pages), so the lab's results compare with a single machine's.
public struct LavaJob: Sendable, Equatable {
    /// Names the kernel in job names and result paths (the artifact directory's name).
    public var kernelLabel: String
    public var kernelURL: String
    public var ramdiskURL: String
    public var shard: Shard
    public var machine: VMConfiguration
    public var timeouts = Timeouts()
    public var hmmkitVersion: String

    public struct Timeouts: Sendable, Equatable {
        /// Boot to the first KTAP line (LAVA also ends the test when the console is silent this long).
        public var bootMinutes = 5
        /// The monitored run, from `KTAP version 1` to init's last line.
        public var testMinutes = 30
        public var jobMinutes: Int { bootMinutes + testMinutes + 5 }
        public init() {}
    }

    public init(kernelLabel: String, kernelURL: String, ramdiskURL: String, shard: Shard,
                machine: VMConfiguration, hmmkitVersion: String) {
        self.kernelLabel = kernelLabel
        self.kernelURL = kernelURL
        self.ramdiskURL = ramdiskURL
        self.shard = shard
        self.machine = machine
        self.hmmkitVersion = hmmkitVersion
    }

    /// The line init prints when the suite has ended: the end of the monitored section. The
    /// KTAP trailer cannot be it: LAVA powers the VM off at once, and `# Totals:` also ends
    /// each nested level.
    public static let endMarker = "hmmkit-vm: command exited"

    public var name: String { "hmmkit \(kernelLabel) shard \(shard)" }

    /// The guest's kernel command line: the test VM's, quieter (KTAP shares the console, so
    /// only errors and worse are printed there; hmmkit reads the kernel log itself), and the shard.
    public var kernelCommandLine: String {
        var words = machine.kernelCommandLine.split(separator: " ").map(String.init)
            .filter { !$0.hasPrefix("console=") && !$0.hasPrefix("earlyprintk=") }
        words.insert(contentsOf: ["console=ttyS0,115200", "loglevel=3"], at: 0)
        if shard.count > 1 { words.append(BootPlan.shardParameter + shard.description) }
        return words.joined(separator: " ")
    }

    /// QEMU options the lab's device template does not give: TCG's threading, the CPU model,
    /// and the NUMA nodes (the template's `-m` is the nodes' sum, from `memory`).
    public var extraQEMUOptions: [String] {
        var options = ["-accel " + machine.tcgAccelerator, "-cpu " + VMConfiguration.tcgCPU]
        let numa = machine.numaArguments
        for index in stride(from: 0, to: numa.count - 1, by: 2) { options.append(numa[index] + " " + numa[index + 1]) }
        return options
    }

    /// The job definition (YAML), for `POST /api/v0.2/jobs/` or `lavacli jobs submit`.
    public func definition() throws(LabError) -> String {
        let commandLine = kernelCommandLine
        // LAVA splits image_arg like a shell; the command line sits in double quotes.
        guard !commandLine.contains("\"") && !commandLine.contains("\\") else {
            throw LabError("the kernel command line may not hold quotes or backslashes: \(commandLine)")
        }
        let lines = [
            "# Written by hmmkit \(hmmkitVersion) ('hmmkit lava job'): one shard of the suite on one kernel.",
            "device_type: qemu",
            "job_name: \(yamlQuoted(name))",
            "priority: medium",
            "visibility: public",
            "timeouts:",
            "  job:",
            "    minutes: \(timeouts.jobMinutes)",
            "  action:",
            "    minutes: \(timeouts.testMinutes)",
            "  connection:",
            "    minutes: 2",
            "context:",
            "  arch: amd64",
            "  memory: \(machine.memoryMiB)",
            "  extra_options:",
        ] + extraQEMUOptions.map { "  - \(yamlQuoted($0))" } + [
            "metadata:",
            "  hmmkit.version: \(yamlQuoted(hmmkitVersion))",
            "  hmmkit.kernel: \(yamlQuoted(kernelLabel))",
            "  hmmkit.shard: \(yamlQuoted(shard.description))",
            "actions:",
            "- deploy:",
            "    to: tmpfs",
            "    timeout:",
            "      minutes: \(timeouts.bootMinutes)",
            "    images:",
            "      kernel:",
            "        url: \(yamlQuoted(kernelURL))",
            "        image_arg: \(yamlQuoted("-kernel {kernel} -append \"\(commandLine)\""))",
            "      ramdisk:",
            "        url: \(yamlQuoted(ramdiskURL))",
            "        image_arg: '-initrd {ramdisk}'",
            "- boot:",
            "    method: qemu",
            "    media: tmpfs",
            "    timeout:",
            "      minutes: \(timeouts.bootMinutes)",
            "- test:",
            "    timeout:",
            "      minutes: \(timeouts.testMinutes)",
            "    monitors:",
            "    - name: hmmkit",
            // A substring: hmmkit prints kselftest's "TAP version 13", KTAP producers "KTAP version 1".
            "      start: 'TAP version'",
            "      end: \(yamlQuoted(Self.endMarker))",
            // The line end belongs to the pattern, so a line split across two console reads
            // cannot yield a truncated name; [\r\n], as the serial line arrives as "\r\r\n".
            "      pattern: '(?P<result>ok|not ok) \\d+ (?P<test_case_id>[^\\s#]+)[^\\r\\n]*[\\r\\n]'",
            "      fixupdict:",
            "        ok: pass",
            "        not ok: fail",
        ]
        return lines.joined(separator: "\n") + "\n"
    }
}

/// A YAML single-quoted scalar: no escapes but '' for a quote, so nothing is interpreted.
func yamlQuoted(_ text: String) -> String {
    "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
}

public struct LabError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
