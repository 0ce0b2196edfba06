import Foundation
import HMMReport
import HMMVM
import KTAP

/// Kernels × shards as LAVA jobs: `prepare` writes them into a directory (one per kernel:
/// its bzImage, one ramdisk, one job definition per shard); `run` submits them, waits, and
/// collects each job's KTAP from its log.
///
///     DIR/<kernel>/bzImage
///     DIR/<kernel>/ramdisk.cpio               the payload + test_hmm's modules and the config
///     DIR/<kernel>/shard-K-of-N.yaml          the job definition
///     DIR/<kernel>/shard-K-of-N.lava-log.yaml the job's log, as the lab returned it
///     DIR/<kernel>/shard-K-of-N.ktap          the KTAP the guest printed
public enum LavaCampaign {
    public struct PreparedJob: Sendable, Equatable {
        public var kernelLabel: String
        public var shard: Shard
        public var definitionPath: String
        public var ktapPath: String { Self.sibling(definitionPath, extension: "ktap") }
        public var logPath: String { Self.sibling(definitionPath, extension: "lava-log.yaml") }

        static func sibling(_ path: String, extension newExtension: String) -> String {
            (path.hasSuffix(".yaml") ? String(path.dropLast(5)) : path) + "." + newExtension
        }
    }

    /// Writes the jobs for `kernels` × `shards` into `directory`. Artifacts are named by
    /// `file://` paths (a lab whose worker runs on this machine) unless `artifactURL` gives
    /// where `directory` will be served from.
    public static func prepare(kernels: [KernelArtifacts], shards: Int, into directory: String, artifactURL: String?,
                               payload: GuestPayload, machine: VMConfiguration, timeouts: LavaJob.Timeouts,
                               hmmkitVersion: String, progress: (String) -> Void) throws -> [PreparedJob] {
        let fm = FileManager.default
        let root = URL(fileURLWithPath: directory).standardizedFileURL.path
        let specs: [Shard]
        do { specs = try Shard.all(shards) } catch { throw LabError("--shards \(shards): \(error)") }
        var labels: Set<String> = []
        var jobs: [PreparedJob] = []
        for kernel in kernels {
            let label = Self.label(of: kernel)
            guard labels.insert(label).inserted else { throw LabError("\(kernel.directory): a second kernel named \(label)") }
            let kernelDirectory = root + "/" + label
            try fm.createDirectory(atPath: kernelDirectory, withIntermediateDirectories: true)
            try? fm.removeItem(atPath: kernelDirectory + "/bzImage")
            try fm.copyItem(atPath: kernel.bzImage, toPath: kernelDirectory + "/bzImage")
            // No command and no serial lines: the guest runs the standalone suite (the shard
            // from the kernel command line) and prints KTAP on the console, LAVA's one line.
            var kernelMachine = machine
            kernelMachine.tcgThreading = kernel.tcgThreading
            let modules = kernelDirectory + "/modules.cpio"
            var archive = BootArchive(command: [], workingDirectory: "/", artifacts: kernel, ktapDevice: nil, channelDevice: nil)
            if kernelMachine.vCPUsTakeTurns { archive.checkModelInline() }
            try archive.write(to: modules)
            try concatenate([payload.initramfs, modules], into: kernelDirectory + "/ramdisk.cpio")
            try fm.removeItem(atPath: modules)
            let base = artifactURL.map { ($0.hasSuffix("/") ? String($0.dropLast()) : $0) + "/" + label }
                ?? "file://" + kernelDirectory
            for shard in specs {
                var job = LavaJob(kernelLabel: label, kernelURL: base + "/bzImage", ramdiskURL: base + "/ramdisk.cpio",
                                  shard: shard, machine: kernelMachine, hmmkitVersion: hmmkitVersion)
                job.timeouts = timeouts
                let path = kernelDirectory + "/\(shard.fileStem).yaml"
                try AtomicFile.write(try job.definition(), to: path)
                jobs.append(PreparedJob(kernelLabel: label, shard: shard, definitionPath: path))
            }
            progress("\(label): \(specs.count) job(s) in \(kernelDirectory)")
        }
        return jobs
    }

    /// A kernel's name in job names and paths: its artifact directory's name (release and
    /// config hash), in characters safe for both.
    public static func label(of kernel: KernelArtifacts) -> String {
        var name = URL(fileURLWithPath: kernel.directory).lastPathComponent
        // An imported kernel's directory is a hash; its release says which kernel it is.
        if URL(fileURLWithPath: kernel.directory).deletingLastPathComponent().path == KernelCache.importedKernels {
            name = "imported-\(kernel.release)-\(name.prefix(12))"
        }
        let safe = String(name.map { $0.isLetter || $0.isNumber || "._-+".contains($0) ? $0 : "_" })
        return safe.isEmpty ? "kernel" : safe
    }

    /// The jobs `prepare` wrote under `directory` (or the definition files named directly).
    public static func jobs(in paths: [String]) throws(LabError) -> [PreparedJob] {
        var jobs: [PreparedJob] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw LabError("\(path): no such job directory or definition")
            }
            let files: [String]
            if isDirectory.boolValue {
                let found = (FileManager.default.enumerator(atPath: path)?.allObjects as? [String] ?? [])
                    .filter { $0.hasSuffix(".yaml") && !$0.hasSuffix(".lava-log.yaml") }.sorted()
                files = found.map { path + "/" + $0 }
            } else {
                files = [path]
            }
            for file in files {
                let stem = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
                let label = URL(fileURLWithPath: file).deletingLastPathComponent().lastPathComponent
                jobs.append(PreparedJob(kernelLabel: label, shard: try shard(fromStem: stem, file: file), definitionPath: file))
            }
        }
        guard !jobs.isEmpty else { throw LabError("\(paths.joined(separator: " ")): no job definitions (shard-K-of-N.yaml)") }
        return jobs
    }

    static func shard(fromStem stem: String, file: String) throws(LabError) -> Shard {
        let parts = stem.split(separator: "-")
        guard parts.count == 4, parts[0] == "shard", parts[2] == "of", let k = Int(parts[1]), let n = Int(parts[3]) else {
            throw LabError("\(file): not a job 'hmmkit lava job' wrote (shard-K-of-N.yaml)")
        }
        do { return try Shard(k, of: n) } catch { throw LabError("\(file): \(error)") }
    }

    /// How one job went.
    public struct Outcome: Sendable, Equatable {
        public var job: PreparedJob
        public var id: Int
        public var url: String
        /// LAVA's health: Complete, Incomplete or Canceled.
        public var health: String
        /// From the job's start to its end, as the lab timed it.
        public var seconds: Double?
        /// The guest command's exit code, if init got to print it.
        public var guestExitCode: Int32?
        /// The KTAP the guest printed is in `job.ktapPath` (empty if none).
        public var ktapLines: Int
        public init(job: PreparedJob, id: Int, url: String, health: String, seconds: Double?, guestExitCode: Int32?, ktapLines: Int) {
            self.job = job
            self.id = id
            self.url = url
            self.health = health
            self.seconds = seconds
            self.guestExitCode = guestExitCode
            self.ktapLines = ktapLines
        }

        /// The health of a job still queued or running when hmmkit stopped waiting.
        public static let notFinished = "NotFinished"
    }

    /// Submits every job (the lab queues them over its devices), waits for all, and saves
    /// each one's log and KTAP beside its definition.
    public static func run(_ jobs: [PreparedJob], on server: LavaServer, pollSeconds: Double = 5,
                           deadline: Date, progress: (String) -> Void) throws -> [Outcome] {
        var submitted: [(job: PreparedJob, id: Int)] = []
        for job in jobs {
            let definition: String
            do { definition = try String(contentsOfFile: job.definitionPath, encoding: .utf8) } catch {
                throw LabError("\(job.definitionPath): cannot read: \(error)")
            }
            let id = try server.submit(definition: definition)
            progress("\(job.kernelLabel) shard \(job.shard): job \(id) \(server.jobURL(id))")
            submitted.append((job, id))
        }
        var outcomes: [Int: Outcome] = [:]
        var lastStates: [Int: String] = [:]
        while outcomes.count < submitted.count {
            for (job, id) in submitted where outcomes[id] == nil {
                switch try server.state(of: id) {
                case let .pending(state):
                    if lastStates[id] != state { progress("job \(id): \(state)") }
                    lastStates[id] = state
                case let .finished(health, seconds):
                    let text = try server.log(of: id)
                    let log = LavaLog(yaml: text)
                    let ktap = log.ktap
                    do {
                        try AtomicFile.write([(text, job.logPath), (ktap, job.ktapPath)])
                    } catch { throw LabError("\(job.ktapPath): \(error)") }
                    let lines = ktap.split(separator: "\n").count
                    progress("job \(id): \(health)" + (seconds.map { String(format: " in %.0f s", $0) } ?? "")
                             + ", \(lines) KTAP lines" + (log.unreadableLines > 0 ? ", \(log.unreadableLines) unreadable log lines" : ""))
                    outcomes[id] = Outcome(job: job, id: id, url: server.jobURL(id), health: health, seconds: seconds,
                                           guestExitCode: log.guestExitCode, ktapLines: lines)
                }
            }
            if outcomes.count < submitted.count {
                guard Date() < deadline else {
                    // A hung lab must not cost the results of the jobs that did finish.
                    for (job, id) in submitted where outcomes[id] == nil {
                        progress("job \(id): not finished at the deadline (\(lastStates[id] ?? "unknown")); reported as such")
                        try? AtomicFile.write("", to: job.ktapPath)
                        outcomes[id] = Outcome(job: job, id: id, url: server.jobURL(id), health: Outcome.notFinished,
                                               seconds: nil, guestExitCode: nil, ktapLines: 0)
                    }
                    break
                }
                Thread.sleep(forTimeInterval: pollSeconds)
            }
        }
        return submitted.compactMap { outcomes[$0.id] }
    }

    static func concatenate(_ parts: [String], into path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let out = FileHandle(forWritingAtPath: path) else {
            throw LabError("\(path): cannot create")
        }
        defer { try? out.close() }
        for part in parts {
            guard let input = FileHandle(forReadingAtPath: part) else { throw LabError("\(part): cannot read") }
            defer { try? input.close() }
            while let chunk = try input.read(upToCount: 8 << 20), !chunk.isEmpty { try out.write(contentsOf: chunk) }
        }
    }
}
