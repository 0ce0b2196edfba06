import Foundation
import HMMVM
import KTAP

/// Replays fixture directories in VMs of one kernel: `hmmkit run -f replay --fixtures DIR`
/// in the payload guest. The kernel panics on an oops (`oops=panic`), so a crash ends
/// the boot at once with the oops on the console, and the session resumes after the
/// program it struck in a fresh boot.
public struct VMProgramRunner: ProgramRunner {
    public var artifacts: KernelArtifacts
    public var accelerator: VMConfiguration.AcceleratorChoice = .auto
    /// No output for this long: hung. A generated program's step takes well under a second.
    public var stallTimeout: Double = 120
    /// Seconds the guest may shrink one divergence (0: none).
    public var divergenceShrinkSeconds: Double = 30
    /// Where the guest's shrunk divergences go.
    public var divergenceDirectory: String
    public var progress: (String) -> Void
    /// Campaign batches replay with `--kcov` (a guided campaign on a KCOV kernel).
    public var kcov = false

    public init(artifacts: KernelArtifacts, divergenceDirectory: String, progress: @escaping (String) -> Void) {
        self.artifacts = artifacts
        self.divergenceDirectory = divergenceDirectory
        self.progress = progress
    }

    public func replay(directory: String, purpose: ReplayPurpose, log: String) throws -> ProgramRun {
        var arguments = ["run", "-f", "replay", "--fixtures", directory, "--step-timeout", "20"]
        switch purpose {
        case .campaign:
            arguments += divergenceShrinkSeconds > 0
                ? ["--shrink-seconds", String(Int(divergenceShrinkSeconds))] : ["--no-shrink"]
            if kcov { arguments.append("--kcov") }
        case .reproduction:
            arguments += ["--no-shrink", "--allow-hazards"]
        }
        let programs = (try? FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".fixture") }.count) ?? 1
        let (command, resumable) = GuestCommand.hmmkit(arguments)
        var options = VMSession.Options(artifacts: artifacts, command: command, resumable: resumable)
        options.accelerator = accelerator
        options.stallTimeout = stallTimeout
        // One boot per program that may crash, plus the first.
        options.maxBoots = programs + 1
        options.artifactsDirectory = divergenceDirectory
        // oops=panic, not panic_on_oops=1: Debian's 6.12 takes the latter as unknown and
        // passes it to init (seen in a 6.12.118 boot log).
        options.extraKernelArguments = ["oops=panic"]
        FileManager.default.createFile(atPath: log, contents: nil)
        let output = FileHandle(forWritingAtPath: log)
        defer { try? output?.close() }
        var parser = KTAPParser()
        let session = VMSession(options: options, progress: progress) { line in
            output?.write(Data((line + "\n").utf8))
            parser.feed(line: line)
        }
        let report = try session.run()
        let results = parser.finish().cases.flatMap(\.flattened).filter { $0.subtests == nil }
        return ProgramRun(results: results, boots: report.boots)
    }
}
