import Foundation
import HMMGuest
import HMMKernel
import HMMSystem
import KTAP

/// One `hmmkit vm run`: boots the kernel under QEMU (KVM if it works, else TCG), runs a
/// command in the guest, streams its KTAP through a `KTAPRelay`, and survives the guest
/// dying: a panic or a hang is recorded against the running test and, for `run`, the
/// suite resumes after it in a fresh boot. No QEMU process outlives the session.
public final class VMSession {
    public struct Options {
        public var artifacts: KernelArtifacts
        /// argv to run in the guest (absolute program path first).
        public var command: [String]
        /// Whether the command is `hmmkit run` and takes `--start-after NAME` to resume.
        public var resumable: Bool
        /// What the guest boots into: the payload (default; the guest sees only what the boot
        /// archive gives it) or the host's root over 9p.
        public var guestRoot: GuestRootChoice = .payload
        /// Host files the guest needs besides those the command names (a peer program).
        public var hostFiles: [String] = []
        public var accelerator: VMConfiguration.AcceleratorChoice = .auto
        /// TCG's instruction-counted guest time (``VMConfiguration/instructionCountShift``).
        public var instructionCountShift: Int?
        public var thp: VMConfiguration.THPAtBoot = .madvise
        public var nodeShape: VMConfiguration.NodeShape = .memoryOnlyNode
        /// No new KTAP for this long means the guest is hung.
        public var stallTimeout: Double = 300
        public var maxBoots = 8
        public var keepDirectory: String?
        /// Where files the guest writes to $HMMKIT_OUTPUT_DIR (shrunk reproducers) end up.
        public var artifactsDirectory: String?
        /// Kernel command-line additions (a fuzz campaign's `oops=panic`).
        public var extraKernelArguments: [String] = []
        public init(artifacts: KernelArtifacts, command: [String], resumable: Bool) {
            self.artifacts = artifacts
            self.command = command
            self.resumable = resumable
        }
    }

    public enum GuestRootChoice: String, Sendable, CaseIterable {
        case payload
        /// The host's `/` read-only over 9p: no payload to build, but the guest can read the host.
        case hostRoot = "host-root"
    }

    public struct Report {
        public var exitCode: KSFTExitCode
        public var boots: Int
        public var seconds: Double
        public var firstResultSeconds: Double?
        public var accelerator: String
    }

    let options: Options
    let progress: (String) -> Void
    let relay: KTAPRelay
    private var qemu: Process?

    public init(options: Options, progress: @escaping (String) -> Void, emit: @escaping (String) -> Void) {
        self.options = options
        self.progress = progress
        relay = KTAPRelay(emit: emit)
    }

    /// The fault lines that mark a console excerpt worth quoting.
    static let faultMarkers = ["Kernel panic", "BUG:", "Oops", "WARNING:", "general protection fault",
                               "kernel BUG at", "watchdog: BUG", "rcu: INFO", "blocked for more than"]

    public func run() throws -> Report {
        let start = Date()
        let work = try makeWorkDirectory()
        var accelerator = try chooseAccelerator()
        var boots = 0
        var firstResult: Double?
        var guestExit: Int32?
        var resumeAfter: String?

        let payload: GuestPayload? = switch options.guestRoot {
        case .payload: try GuestPayload.cached(progress: progress)
        case .hostRoot: nil
        }
        installSignalHandlers()
        defer { terminateQEMU() }

        bootLoop: while boots < options.maxBoots {
            boots += 1
            let bootDir = work + "/boot\(boots)"
            try FileManager.default.createDirectory(atPath: bootDir + "/out", withIntermediateDirectories: true)
            var argv = options.command
            if let resumeAfter { argv += ["--start-after", resumeAfter] }
            let config: VMConfiguration
            if let payload {
                config = try preparePayloadBoot(payload, argv: argv, bootDir: bootDir, accelerator: accelerator)
            } else {
                try writeExchange(bootDir + "/out", argv: argv)
                config = configuration(bootDir: bootDir, accelerator: accelerator)
            }
            progress("boot \(boots): \(accelerator) \(options.artifacts.release), running: \(argv.joined(separator: " "))")
            let outcome = try bootOnce(config: config, bootDir: bootDir, started: start, firstResult: &firstResult)
            if payload == nil { collectArtifacts(from: bootDir + "/out/artifacts") }
            switch outcome {
            case let .finished(code):
                guestExit = code
                // Killed by a signal (an oops kills the task that hit it, e.g. while the
                // module unloads after the last test): a result of its own, with the console.
                if code >= 128 {
                    let excerpt = consoleExcerpt(bootDir + "/console.log")
                    let fault = excerpt.first { l in Self.faultMarkers.contains { l.contains($0) } }
                    relay.abort(status: .error,
                                reason: "guest command killed by signal \(code - 128)" + (fault.map { ": " + $0 } ?? ""),
                                excerpt: fault == nil ? [] : excerpt)
                }
                break bootLoop
            case .acceleratorFailed where accelerator == .kvm:
                progress("KVM did not work here (see \(bootDir)/qemu.log); falling back to TCG")
                Self.rememberAccelerator(.tcg)
                accelerator = .tcg
                boots -= 1
                relay.restart()
                continue
            case .acceleratorFailed, .died, .hung:
                let hung = { if case .hung = outcome { return true }; return false }()
                let excerpt = consoleExcerpt(bootDir + "/console.log")
                let reason = hung ? "TIMEOUT: no output for \(Int(options.stallTimeout)) s; VM killed"
                    : "kernel crashed or VM exited; see console excerpt"
                let fault = excerpt.first { l in Self.faultMarkers.contains { l.contains($0) } }
                let aborted = relay.abort(status: hung ? .timeout : .error,
                                          reason: hung
                                            ? "\(Int(options.stallTimeout)) seconds without output, VM killed"
                                            : "VM died: \(fault ?? "guest exited without a result")",
                                          excerpt: excerpt)
                progress("boot \(boots): \(reason)\(aborted.map { " during \($0)" } ?? "")")
                guard options.resumable, let name = aborted ?? relay.lastFinishedTest else { break bootLoop }
                resumeAfter = name
                relay.restart()
            }
        }
        var code = relay.finish()
        if let guestExit, guestExit != 0 && guestExit != 4 && code != .fail {
            progress("guest command exited \(guestExit)")
            code = .fail
        }
        if guestExit == nil { code = .fail }
        if options.keepDirectory == nil { try? FileManager.default.removeItem(atPath: work) }
        return Report(exitCode: code, boots: boots, seconds: Date().timeIntervalSince(start),
                      firstResultSeconds: firstResult, accelerator: accelerator.rawValue)
    }

    enum BootOutcome {
        case finished(Int32)
        case died, hung, acceleratorFailed
    }

    private func bootOnce(config: VMConfiguration, bootDir: String, started: Date, firstResult: inout Double?) throws -> BootOutcome {
        _ = FileManager.default.createFile(atPath: config.ktapLog, contents: nil)
        _ = FileManager.default.createFile(atPath: config.consoleLog, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/qemu-system-x86_64")
        process.arguments = config.qemuArguments
        let qemuLog = FileHandle(forWritingAtPath: bootDir + "/qemu.log") ?? {
            _ = FileManager.default.createFile(atPath: bootDir + "/qemu.log", contents: nil)
            return FileHandle(forWritingAtPath: bootDir + "/qemu.log")!
        }()
        process.standardOutput = qemuLog
        process.standardError = qemuLog
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw HMMKitError("cannot start qemu-system-x86_64 (\(error)); install Debian's qemu-system-x86")
        }
        qemu = process
        RunningQEMUs.add(process.processIdentifier)
        defer { RunningQEMUs.remove(process.processIdentifier) }
        let bootStart = Date()
        var ktap = LineTail(path: config.ktapLog)
        var console = LineTail(path: config.consoleLog)
        var lastOutput = Date()
        var consoleLines = 0
        while true {
            let running = process.isRunning
            let lines = ktap.poll(final: !running)
            if !lines.isEmpty { lastOutput = Date() }
            for line in lines {
                relay.feed(line)
                if firstResult == nil, line.hasPrefix("ok ") || line.hasPrefix("not ok ") {
                    firstResult = Date().timeIntervalSince(started)
                }
            }
            let newConsole = console.poll(final: !running)
            consoleLines += newConsole.count
            if !running { break }
            if config.accelerator == .kvm, consoleLines == 0, Date().timeIntervalSince(bootStart) > 20 {
                terminateQEMU()
                return .acceleratorFailed
            }
            if Date().timeIntervalSince(lastOutput) > options.stallTimeout {
                terminateQEMU()
                _ = ktap.poll(final: true).map(relay.feed)
                return .hung
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        qemu = nil
        if case let .initramfs(_, channelLog) = config.guestRoot {
            if let code = receiveChannel(channelLog) { return .finished(code) }
        } else if let text = try? String(contentsOfFile: bootDir + "/out/exit-code", encoding: .utf8),
           let code = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            return .finished(code)
        }
        if config.accelerator == .kvm, consoleLines < 5 { return .acceleratorFailed }
        return .died
    }

    private func configuration(bootDir: String, accelerator: VMConfiguration.Accelerator) -> VMConfiguration {
        let initPath = (try? Repository.root()).map { $0 + "/scripts/vm-init" } ?? "/scripts/vm-init"
        return machine(.hostRoot(modulesDirectory: options.artifacts.modulesRoot, exchangeDirectory: bootDir + "/out",
                                 initPath: initPath),
                       bootDir: bootDir, accelerator: accelerator)
    }

    /// The VM's shape from the options, the kernel and the accelerator, booting `guestRoot`.
    private func machine(_ guestRoot: VMConfiguration.GuestRoot, bootDir: String,
                         accelerator: VMConfiguration.Accelerator) -> VMConfiguration {
        var c = VMConfiguration(bzImage: options.artifacts.bzImage, guestRoot: guestRoot,
                                consoleLog: bootDir + "/console.log", ktapLog: bootDir + "/ktap.log")
        c.accelerator = accelerator
        c.tcgThreading = options.artifacts.tcgThreading
        c.instructionCountShift = options.instructionCountShift
        c.thp = options.thp
        c.nodeShape = options.nodeShape
        c.extraKernelArguments += options.extraKernelArguments
        return c
    }

    /// The initramfs for one boot: the payload, then an archive with the command (hmmkit
    /// named by its path in the payload), test_hmm's modules, the config and the host files
    /// the command names.
    private func preparePayloadBoot(_ payload: GuestPayload, argv: [String], bootDir: String,
                                    accelerator: VMConfiguration.Accelerator) throws -> VMConfiguration {
        let host = Repository.executable
        let guestArgv = argv.map { $0 == host ? GuestLayout.executable : $0 }
        let cwd = FileManager.default.currentDirectoryPath
        let initrd = bootDir + "/initrd.cpio"
        let c = machine(.initramfs(path: initrd, channelLog: bootDir + "/channel.log"), bootDir: bootDir, accelerator: accelerator)
        var archive = BootArchive(command: guestArgv, workingDirectory: cwd, artifacts: options.artifacts)
        if c.vCPUsTakeTurns { archive.checkModelInline() }
        archive.hostPaths = options.hostFiles + BootArchive.hostPaths(namedBy: Array(guestArgv.dropFirst()), workingDirectory: cwd)
        let bootArchive = bootDir + "/boot.cpio"
        try archive.write(to: bootArchive)
        try concatenate([payload.initramfs, bootArchive], into: initrd)
        _ = FileManager.default.createFile(atPath: bootDir + "/channel.log", contents: nil)
        return c
    }

    /// The guest's exit code from its channel, saving the files it sent; nil when it sent
    /// none (it died first). What the channel refuses is reported, never trusted.
    private func receiveChannel(_ path: String) -> Int32? {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        let report = GuestChannel.decode(text)
        for problem in report.problems { progress("\(path): \(problem)") }
        if let target = options.artifactsDirectory, !report.files.isEmpty {
            try? FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            for file in report.files {
                let destination = target + "/" + file.name
                do {
                    try Data(file.bytes).write(to: URL(fileURLWithPath: destination))
                    progress("saved \(destination)")
                } catch {
                    progress("could not save \(file.name) to \(target): \(error)")
                }
            }
        }
        return report.exitCode
    }

    private func concatenate(_ parts: [String], into path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let out = FileHandle(forWritingAtPath: path) else {
            throw HMMKitError("\(path): cannot create the initramfs")
        }
        defer { try? out.close() }
        for part in parts {
            guard let input = FileHandle(forReadingAtPath: part) else { throw HMMKitError("\(part): cannot read") }
            defer { try? input.close() }
            while let chunk = try input.read(upToCount: 8 << 20), !chunk.isEmpty { try out.write(contentsOf: chunk) }
        }
    }

    private func writeExchange(_ dir: String, argv: [String]) throws {
        var data = Data()
        for a in argv { data.append(Data(a.utf8)); data.append(0) }
        try data.write(to: URL(fileURLWithPath: dir + "/cmd"))
        try Data((FileManager.default.currentDirectoryPath + "\n").utf8).write(to: URL(fileURLWithPath: dir + "/cwd"))
        try Data((Repository.executable + "\n").utf8).write(to: URL(fileURLWithPath: dir + "/hmmkit"))
        try Data((options.artifacts.configPath + "\n").utf8).write(to: URL(fileURLWithPath: dir + "/kernel-config"))
    }

    /// Moves what the guest saved into the artifacts directory (kept across boots).
    private func collectArtifacts(from dir: String) {
        guard let target = options.artifactsDirectory,
              let names = try? FileManager.default.contentsOfDirectory(atPath: dir), !names.isEmpty else { return }
        try? FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        for name in names {
            let destination = target + "/" + name
            try? FileManager.default.removeItem(atPath: destination)
            do {
                try FileManager.default.moveItem(atPath: dir + "/" + name, toPath: destination)
                progress("saved \(destination)")
            } catch {
                progress("could not save \(name) to \(target): \(error)")
            }
        }
    }

    private func makeWorkDirectory() throws -> String {
        try Self.makeWorkDirectory(keep: options.keepDirectory)
    }

    /// `--keep DIR` as given; otherwise a new `TMPDIR/hmmkit-vm-XXXXXX` from mkdtemp, mode
    /// 0700: a predictable name would accept a directory another user made first.
    static func makeWorkDirectory(keep: String?, temporaryDirectory: String = NSTemporaryDirectory()) throws -> String {
        if let keep {
            try FileManager.default.createDirectory(atPath: keep, withIntermediateDirectories: true)
            return keep
        }
        var parent = temporaryDirectory
        while parent.count > 1 && parent.hasSuffix("/") { parent.removeLast() }
        return try makeTemporaryDirectory(in: parent, prefix: "hmmkit-vm-")
    }

    /// The console from the first fault marker (or its last lines), for the KTAP diagnostics.
    /// Only what the guest printed after its init started counts: boot messages are noise.
    static func consoleExcerpt(_ text: String, limit: Int = 40) -> [String] {
        var lines = text.split(whereSeparator: \.isNewline).map { String($0.prefix(200)) }
        if let up = lines.lastIndex(where: { $0.contains("hmmkit-vm: up after") }) { lines.removeSubrange(..<up) }
        if let first = lines.firstIndex(where: { l in faultMarkers.contains { l.contains($0) } }) {
            return Array(lines[first..<min(lines.count, first + limit)])
        }
        return Array(lines.suffix(10))
    }

    func consoleExcerpt(_ path: String) -> [String] {
        Self.consoleExcerpt((try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
    }

    // MARK: accelerator

    static var cacheFile: String { KernelCache.acceleratorFile }

    static func rememberAccelerator(_ a: VMConfiguration.Accelerator) {
        try? FileManager.default.createDirectory(atPath: (cacheFile as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
        try? Data(a.rawValue.utf8).write(to: URL(fileURLWithPath: cacheFile))
    }

    /// auto: KVM when /dev/kvm is usable and an earlier probe did not fail, else TCG.
    private func chooseAccelerator() throws -> VMConfiguration.Accelerator {
        switch options.accelerator {
        case .kvm: return .kvm
        case .tcg: return .tcg
        case .auto:
            guard FileManager.default.isWritableFile(atPath: "/dev/kvm") else { return .tcg }
            if let remembered = try? String(contentsOfFile: Self.cacheFile, encoding: .utf8), remembered == "tcg" { return .tcg }
            return .kvm
        }
    }

    // MARK: cleanup

    func terminateQEMU() {
        guard let p = qemu, p.isRunning else { qemu = nil; return }
        p.terminate()
        for _ in 0..<50 where p.isRunning { Thread.sleep(forTimeInterval: 0.05) }
        if p.isRunning { Sys.kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        qemu = nil
    }

    /// Ctrl-C or a CI runner's SIGTERM must not leave QEMU running.
    private func installSignalHandlers() {
        Sys.installSignalHandler([SIGINT, SIGTERM, SIGHUP]) { s in
            RunningQEMUs.killAll()
            Sys.exitImmediately(128 + s)
        }
    }
}

/// The QEMU processes of every session running in this process (fuzz --jobs runs several
/// on threads at once), for the signal handler. Plain pids in fixed slots: the handler
/// reads them without a lock or a reference count. A single shared `VMSession` reference
/// written by concurrent sessions corrupted the heap (malloc crashed in a 2-job campaign).
enum RunningQEMUs {
    static let capacity = 64
    nonisolated(unsafe) static let slots: UnsafeMutablePointer<pid_t> = {
        let slots = UnsafeMutablePointer<pid_t>.allocate(capacity: capacity)
        slots.initialize(repeating: 0, count: capacity)
        return slots
    }()
    static let lock = NSLock()

    static func add(_ pid: pid_t) {
        lock.lock()
        defer { lock.unlock() }
        for i in 0..<capacity where slots[i] == 0 {
            slots[i] = pid
            return
        }
    }

    static func remove(_ pid: pid_t) {
        lock.lock()
        defer { lock.unlock() }
        for i in 0..<capacity where slots[i] == pid { slots[i] = 0 }
    }

    /// Async-signal-safe: loads and kill(2) only.
    static func killAll() {
        for i in 0..<capacity where slots[i] > 0 { Sys.kill(slots[i], SIGKILL) }
    }
}

/// Follows a growing file line by line.
struct LineTail {
    let path: String
    var offset: UInt64 = 0
    var partial = Data()

    init(path: String) { self.path = path }

    mutating func poll(final: Bool) -> [String] {
        guard let h = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? h.close() }
        try? h.seek(toOffset: offset)
        let data = (try? h.readToEnd()) ?? Data()
        offset += UInt64(data.count)
        partial.append(data)
        var lines: [String] = []
        while let nl = partial.firstIndex(of: 10) {
            lines.append(String(decoding: partial[partial.startIndex..<nl], as: UTF8.self))
            partial.removeSubrange(partial.startIndex...nl)
        }
        if final, !partial.isEmpty {
            lines.append(String(decoding: partial, as: UTF8.self))
            partial.removeAll()
        }
        return lines
    }
}
