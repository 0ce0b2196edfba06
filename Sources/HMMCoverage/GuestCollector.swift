import Foundation
import HMMKernel

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
        guard FileManager.default.fileExists(atPath: gcovRoot + "/reset") else {
            say("\(gcovRoot)/reset is missing: this kernel has no CONFIG_GCOV_KERNEL (or debugfs is not mounted)")
            return 1
        }
        do { try Data("1\n".utf8).write(to: URL(fileURLWithPath: gcovRoot + "/reset")) } catch {
            say("cannot reset the gcov counters: \(error)")
            return 1
        }
        let started = Date()
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
        say(String(format: "workload exited %d after %.1f s; copying gcov counters", code, Date().timeIntervalSince(started)))
        let found = dataFiles()
        try? FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
        for object in objects {
            let matching = found.filter { $0.hasSuffix("/" + object + ".gcda") }
            guard matching.count == 1, let path = matching.first else {
                say("\(object).gcda: \(matching.isEmpty ? "not under \(gcovRoot)" : "\(matching.count) candidates: \(matching)")")
                continue
            }
            guard let handle = FileHandle(forReadingAtPath: path) else {
                say("cannot open \(path)")
                continue
            }
            // debugfs reports size 0: read to the end.
            let bytes = handle.readDataToEndOfFile()
            try? handle.close()
            let target = outputDirectory + "/" + CoverageFiles.channelName(of: object)
            do { try bytes.write(to: URL(fileURLWithPath: target)) } catch { say("cannot write \(target): \(error)") }
            say("\(object).gcda: \(bytes.count) bytes")
        }
        return code
    }

    /// Every `.gcda` under the gcov tree (regular files; the `.gcno` entries are symlinks).
    static func dataFiles() -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: gcovRoot) else { return [] }
        var result: [String] = []
        while let relative = walker.nextObject() as? String {
            if relative.hasSuffix(".gcda") { result.append(gcovRoot + "/" + relative) }
        }
        return result
    }
}
