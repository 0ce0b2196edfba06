import FoundationEssentials
import HMMKernel
import HMMSystem

/// The guest side of a coverage run (`hmmkit coverage collect`, inside the VM): zero the
/// kernel's gcov counters, run the workload, copy each object's counters (`.gcda`) into the
/// output directory the channel sends back to the host.
///
/// gcov's counters are the kernel's, not a thread's: every process the workload forks (hmmkit
/// runs each test in a child, the kselftest harness too) counts, and so does whatever else the
/// guest does meanwhile. A module's counters stay readable after it is unloaded (the kernel's
/// default `gcov_persist=1`) and add up over reloads.
public enum GuestCollector {
    public static let gcovRoot = "/sys/kernel/debug/gcov"

    /// Runs `command` between a reset and the copy; returns its exit code (the collector's own
    /// failure, a kernel without gcov, is 1 before anything runs).
    public static func run(command: [String], objects: [String], outputDirectory: String,
                           say: (String) -> Void) -> Int32 {
        guard fileExists(gcovRoot + "/reset") else {
            say("\(gcovRoot)/reset is missing: this kernel has no CONFIG_GCOV_KERNEL (or debugfs is not mounted)")
            return 1
        }
        do { try writeTextFile(gcovRoot + "/reset", "1\n") } catch {
            say("cannot reset the gcov counters: \(error)")
            return 1
        }
        let started = monotonicSeconds()
        var code: Int32
        do {
            let pid = try InitProcess.spawn(command, environment: ProcessInfo.processInfo.environment.map { "\($0)=\($1)" },
                                            directory: FileManager.default.currentDirectoryPath,
                                            stdin: nil, stdout: nil, stderr: nil)
            code = InitProcess.waitForExit(of: pid)
        } catch {
            say("\(error)")
            code = 127
        }
        say("workload exited \(code) after \((monotonicSeconds() - started).fixed(1)) s; copying gcov counters")
        let found = dataFiles()
        try? FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
        for object in objects {
            let matching = found.filter { $0.hasSuffix("/" + object + ".gcda") }
            guard matching.count == 1, let path = matching.first else {
                say("\(object).gcda: \(matching.isEmpty ? "not under \(gcovRoot)" : "\(matching.count) candidates: \(matching)")")
                continue
            }
            // debugfs reports size 0: read to the end.
            let bytes: [UInt8]
            do { bytes = try readFileBytes(path) } catch {
                say("cannot read \(path): \(error)")
                continue
            }
            let target = outputDirectory + "/" + CoverageFiles.channelName(of: object)
            do { try Data(bytes).write(to: URL(fileURLWithPath: target)) } catch { say("cannot write \(target): \(error)") }
            say("\(object).gcda: \(bytes.count) bytes")
        }
        return code
    }

    /// Every `.gcda` under the gcov tree (regular files; the `.gcno` entries are symlinks).
    static func dataFiles() -> [String] {
        var result: [String] = []
        // The tree mirrors the kernel's build directories, a few levels deep.
        func walk(_ directory: String, depth: Int) {
            guard depth < 32, let names = try? listDirectory(directory) else { return }
            for name in names {
                let path = directory + "/" + name
                if name.hasSuffix(".gcda") { result.append(path) } else if isDirectory(path) { walk(path, depth: depth + 1) }
            }
        }
        walk(gcovRoot, depth: 0)
        return result
    }
}

/// The names a coverage run's counters travel under, shared by the guest's collector and the host.
public enum CoverageFiles {
    public static func channelName(of object: String) -> String {
        "gcov." + object.replacing("/", with: ".") + ".gcda"
    }

    /// The objects as the guest command takes them (`--objects`): comma-separated, so the
    /// host's boot archive never mistakes them for host paths to ship.
    public static func argument(_ objects: [String]) -> String { objects.joined(separator: ",") }
}
