import Foundation
import HMMGuest
import HMMSystem
import HMMVM

/// One workload of a coverage run: what the guest runs between the counters' reset and
/// their copy.
public enum CoverageWorkload: Sendable, Equatable {
    /// hmmkit's suite with fixtures replayed beside it (`run --no-shrink --fixtures ...`): guest paths
    /// (the payload's) or host paths (shipped in the boot archive).
    case suite(fixtures: [String])
    /// The kernel's own hm-tests, built from the same tree, as `vm run --kselftest` runs it.
    case kselftest
    /// A corpus of fixtures replayed without shrinking (`replay --no-shrink DIR...`).
    case corpus([String])

    public var name: String {
        switch self {
        case .suite: "suite"
        case .kselftest: "hm-tests"
        case .corpus: "corpus"
        }
    }

    /// The table's column title.
    public var title: String {
        switch self {
        case .suite: "hmmkit suite + fixtures"
        case .kselftest: "hm-tests"
        case .corpus: "fuzz corpus"
        }
    }

    /// The fixture directories the main job replays (BootPlan's standalone suite): the
    /// payload's corpus, selftest and scenarios, with this kernel series' scenarios.
    public static func mainJobFixtures(release: String) -> [String] {
        let series = release.split(separator: ".").prefix(2).joined(separator: ".")
        return ["corpus", "selftest", "scenarios", "scenarios/linux-\(series)"].map { GuestLayout.fixtures + "/" + $0 }
    }

    /// The guest's command line (before the collector wraps it) and host files it needs.
    func guestCommand(executable: String, kernel: KernelArtifacts) throws -> (command: [String], hostFiles: [String]) {
        switch self {
        case let .suite(fixtures):
            // No shrinking: its extra replays of a divergent fixture would count as the suite's coverage.
            let arguments = ["run", "--no-shrink"] + fixtures.flatMap { ["--fixtures", $0] }
            return (GuestCommand.hmmkit(arguments, executable: executable).command, [])
        case .kselftest:
            guard let peer = kernel.kselftest else {
                throw HMMKitError("\(kernel.directory) has no hm-tests binary (the tree lacks tools/testing/selftests/mm/hmm-tests.c?)")
            }
            return ([executable, "module", "run-program", "--parameters"] + GuestCommand.spmParameters.map { "\($0.0)=\($0.1)" }
                    + ["--", peer], [peer])
        case let .corpus(directories):
            return (GuestCommand.hmmkit(["replay", "--no-shrink"] + directories, executable: executable).command, [])
        }
    }
}

/// The host side of `hmmkit coverage`: per workload one boot of the coverage kernel with the
/// collector around the workload, the counters back over the channel, gcov over them with
/// the kernel's kept notes, and the table.
public final class CoverageRun {
    public struct Options {
        public var kernel: CoverageKernel
        public var workloads: [CoverageWorkload]
        /// Per workload `<name>/`: the guest's files (`guest/`), its KTAP (`ktap.log`), gcov's
        /// inputs and JSON (`gcov/`).
        public var outputDirectory: String
        public var gcov = "gcov"
        public var accelerator: VMConfiguration.AcceleratorChoice = .auto
        public var stallTimeout: Double = 300
        public var instructionCountShift: Int?
        public var keepDirectory: String?

        public init(kernel: CoverageKernel, workloads: [CoverageWorkload], outputDirectory: String) {
            self.kernel = kernel
            self.workloads = workloads
            self.outputDirectory = outputDirectory
        }
    }

    /// What one workload gave.
    public struct WorkloadResult: Sendable {
        public var workload: CoverageWorkload
        public var column: CoverageTable.Column
        public var seconds: Double
        public var boots: Int
        public var exitCode: String
        /// `ok`/`not ok` lines at the top level of its KTAP (`# SKIP` counted apart).
        public var passed = 0, failed = 0, skipped = 0
        /// Objects without counters, with why.
        public var missing: [String] = []
    }

    let options: Options
    let progress: (String) -> Void

    public init(options: Options, progress: @escaping (String) -> Void) {
        self.options = options
        self.progress = progress
    }

    /// Finds gcov on PATH (or the path given); an error naming the package otherwise.
    public static func locateGcov(_ name: String) throws -> String {
        if name.contains("/") {
            guard FileManager.default.isExecutableFile(atPath: name) else { throw HMMKitError("gcov: '\(name)' is not an executable") }
            return name
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return "\(dir)/\(name)"
        }
        throw HMMKitError("'\(name)' not found on PATH: install the gcc the kernel was built with (Debian: apt-get install gcc), "
                          + "or give its gcov with --gcov")
    }

    public func run() throws -> [WorkloadResult] {
        let gcov = try Self.locateGcov(options.gcov)
        try FileManager.default.createDirectory(atPath: options.outputDirectory, withIntermediateDirectories: true)
        var results: [WorkloadResult] = []
        for workload in options.workloads {
            results.append(try run(workload, gcov: gcov))
        }
        return results
    }

    func run(_ workload: CoverageWorkload, gcov: String) throws -> WorkloadResult {
        let kernel = options.kernel
        let dir = options.outputDirectory + "/" + workload.name
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir + "/guest", withIntermediateDirectories: true)
        let executable = Repository.executable
        let (inner, hostFiles) = try workload.guestCommand(executable: executable, kernel: kernel.artifacts)
        let command = [executable, "coverage", "collect", "--objects", CoverageFiles.argument(kernel.objects), "--"] + inner
        // Not resumable: a crash loses the boot's counters, so a resumed run would cover only its tail.
        var vm = VMSession.Options(artifacts: kernel.artifacts, command: command, resumable: false)
        vm.hostFiles = hostFiles
        vm.accelerator = options.accelerator
        vm.stallTimeout = options.stallTimeout
        vm.instructionCountShift = options.instructionCountShift
        vm.keepDirectory = options.keepDirectory.map { $0 + "/" + workload.name }
        vm.artifactsDirectory = dir + "/guest"
        vm.maxBoots = 1
        let ktapPath = dir + "/ktap.log"
        _ = FileManager.default.createFile(atPath: ktapPath, contents: nil)
        let ktap = FileHandle(forWritingAtPath: ktapPath)
        var tally = (passed: 0, failed: 0, skipped: 0)
        progress("\(workload.name): booting \(kernel.artifacts.release): \(inner.joined(separator: " "))")
        let session = VMSession(options: vm, progress: { [progress] in progress("\(workload.name): \($0)") }, emit: { line in
            ktap?.write(Data((line + "\n").utf8))
            if line.hasPrefix("not ok ") {
                tally.failed += 1
            } else if line.hasPrefix("ok ") {
                if line.contains("# SKIP") { tally.skipped += 1 } else { tally.passed += 1 }
            }
        })
        let report = try session.run()
        try? ktap?.close()
        var result = WorkloadResult(workload: workload, column: .init(title: workload.title, files: [:]),
                                    seconds: report.seconds, boots: report.boots, exitCode: "\(report.exitCode)",
                                    passed: tally.passed, failed: tally.failed, skipped: tally.skipped)
        progress(String(format: "%@: %@ in %.1f s (%d passed, %d failed, %d skipped)", workload.name, "\(report.exitCode)",
                        report.seconds, tally.passed, tally.failed, tally.skipped))
        for object in kernel.objects {
            let counters = dir + "/guest/" + CoverageFiles.channelName(of: object)
            guard FileManager.default.fileExists(atPath: counters) else {
                result.missing.append("\(object): no counters came back (the guest died, or the object never ran)")
                continue
            }
            do {
                let source = CoverageKernel.source(of: object)
                let json = try runGcov(gcov, object: object, counters: counters, in: dir + "/gcov")
                guard let coverage = try GcovJSON.coverage(of: source, in: json) else {
                    let names = (try? GcovJSON.fileNames(in: json)) ?? []
                    throw HMMKitError("gcov's output names no \(source) (it names: \(names.prefix(5).joined(separator: ", ")))")
                }
                result.column.files[source] = coverage
            } catch {
                result.missing.append("\(object): \(error)")
            }
        }
        for line in result.missing { progress("\(workload.name): \(line)") }
        return result
    }

    /// gcov over one object: notes and counters side by side under `work/<object dir>/`, gcov
    /// run there, its JSON saved as `work/<object>.gcov.json` and returned.
    func runGcov(_ gcov: String, object: String, counters: String, in work: String) throws -> Data {
        let objectDir = work + "/" + (object.split(separator: "/").dropLast().joined(separator: "/"))
        let base = object.split(separator: "/").last.map(String.init) ?? object
        try FileManager.default.createDirectory(atPath: objectDir, withIntermediateDirectories: true)
        for (from, to) in [(options.kernel.notes(of: object), base + ".gcno"), (counters, base + ".gcda")] {
            try? FileManager.default.removeItem(atPath: objectDir + "/" + to)
            try FileManager.default.copyItem(atPath: from, toPath: objectDir + "/" + to)
        }
        let run = try runProgram([gcov, "--json-format", "--stdout", base + ".gcda"], directory: objectDir, error: .captured)
        let data = Data(run.output.utf8)
        try data.write(to: URL(fileURLWithPath: work + "/" + object + ".gcov.json"))
        guard run.termination == .exited(0) else {
            throw HMMKitError("gcov \(run.termination) on \(object): \(run.errorOutput.prefix(400))")
        }
        return data
    }

    /// The results as markdown: the table, then per workload what ran and how long it took.
    public static func markdown(_ results: [WorkloadResult], sources: [String], release: String) -> String {
        var text = CoverageTable(sources: sources, columns: results.map(\.column)).markdown()
        text += "\nLines executed / lines with code (gcov), kernel \(release).\n\n"
        for r in results {
            text += String(format: "- %@: %@, %.0f s, %d passed, %d failed, %d skipped",
                           r.workload.title, r.exitCode, r.seconds, r.passed, r.failed, r.skipped)
            text += r.missing.isEmpty ? "\n" : "; no data for " + r.missing.joined(separator: "; ") + "\n"
        }
        return text
    }
}
