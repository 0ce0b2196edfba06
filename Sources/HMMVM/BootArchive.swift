import Foundation
import HMMGuest

/// What the host adds to the payload for one boot, as a second cpio archive: the command,
/// the kernel's modules that test_hmm needs, its config, and the host files the command
/// names. The guest sees nothing else of the host. With no command and no serial devices
/// (a lab's boot, e.g. LAVA's), the guest runs the standalone suite with KTAP on the console.
public struct BootArchive {
    /// argv in the guest; empty: the standalone suite (`BootPlan`).
    public var command: [String]
    public var workingDirectory: String
    public var artifacts: KernelArtifacts
    /// Host files and directories to copy at the same paths (with their libraries, for programs).
    public var hostPaths: [String] = []
    /// Serial lines for KTAP and for the channel back to the host; nil: the console, and no channel.
    public var ktapDevice: String?
    public var channelDevice: String?
    /// `NAME=VALUE` entries for the guest command's environment (``BootPlan/hostVariables``);
    /// the kernel's config name (``KernelArtifacts/configName``) is added when it is known.
    public var environment: [String] = BootPlan.passedEnvironment(ProcessInfo.processInfo.environment)
    /// Has the guest check the reference model on the test's own thread: its vCPUs take
    /// turns on one host thread (``VMConfiguration/vCPUsTakeTurns``), where a thread of the
    /// model's own overlaps nothing and adds wake-ups and TLB-flush IPIs.
    public mutating func checkModelInline() {
        environment.append(BootPlan.modelThreadVariable + "=0")
    }
    /// The most the host files may add (a mistyped argument such as `/` must not copy the disk).
    public static let hostFileLimit = 512 << 20

    public init(command: [String], workingDirectory: String, artifacts: KernelArtifacts,
                ktapDevice: String? = "/dev/ttyS1", channelDevice: String? = "/dev/ttyS2") {
        self.command = command
        self.workingDirectory = workingDirectory
        self.artifacts = artifacts
        self.ktapDevice = ktapDevice
        self.channelDevice = channelDevice
    }

    /// Writes the archive to `path`.
    public func write(to path: String) throws {
        var archive = try CPIOArchive(path: path)
        typealias Boot = GuestLayout.Boot
        // The kernel re-applies a directory's mode when a later archive lists it again.
        try archive.directory("/tmp", mode: 0o1777)
        if !command.isEmpty {
            try archive.file(Boot.command, bytes: command.flatMap { Array($0.utf8) + [0] })
            try archive.file(Boot.workingDirectory, bytes: Array((workingDirectory + "\n").utf8))
            try archive.directory(workingDirectory)
        }
        if let ktapDevice { try archive.file(Boot.ktapDevice, bytes: Array((ktapDevice + "\n").utf8)) }
        if let channelDevice { try archive.file(Boot.channelDevice, bytes: Array((channelDevice + "\n").utf8)) }
        if FileManager.default.fileExists(atPath: artifacts.configPath) {
            try archive.file(Boot.kernelConfig, copying: artifacts.configPath)
        }
        var environment = environment.filter { !$0.hasPrefix(BootPlan.configNameVariable + "=") }
        if let name = artifacts.configName { environment.append(BootPlan.configNameVariable + "=" + name) }
        if !environment.isEmpty {
            try archive.file(Boot.environment, bytes: Array(environment.map { $0 + "\n" }.joined().utf8))
        }
        let release = artifacts.release
        let hostModules = artifacts.modulesRoot + "/" + release
        for relative in try ModuleClosure.files(in: hostModules, for: ["test_hmm"]) {
            try archive.file(GuestLayout.modulesDirectory(release: release) + "/" + relative, copying: hostModules + "/" + relative)
        }
        var total = 0
        var libraries: Set<String> = []
        for root in hostPaths {
            for file in try Self.regularFiles(at: root) {
                total += (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
                guard total <= Self.hostFileLimit else {
                    throw HMMKitError("\(root): the files the guest command names exceed \(Self.hostFileLimit >> 20) MiB")
                }
                try archive.file(file, copying: file)
                if Self.isELFExecutable(file) { libraries.formUnion(try SharedLibraries.needed(by: file)) }
            }
        }
        for library in libraries.sorted() { try archive.file(library, copying: library) }
        try archive.finish()
    }

    /// The host paths among `arguments` (an argument, or the value of `--name=value`) that
    /// exist, resolved against `workingDirectory`: what the guest command will open.
    public static func hostPaths(namedBy arguments: [String], workingDirectory: String) -> [String] {
        var result: [String] = []
        for argument in arguments {
            var candidates = [argument]
            if argument.hasPrefix("-"), let eq = argument.firstIndex(of: "=") {
                candidates = [String(argument[argument.index(after: eq)...])]
            }
            for candidate in candidates where !candidate.isEmpty && !candidate.hasPrefix("-") {
                let path = candidate.hasPrefix("/") ? candidate : workingDirectory + "/" + candidate
                let standardized = URL(fileURLWithPath: path).standardizedFileURL.path
                if standardized != "/", FileManager.default.fileExists(atPath: standardized), !result.contains(standardized) {
                    result.append(standardized)
                }
            }
        }
        return result
    }

    static func regularFiles(at root: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory) else { return [] }
        if !isDirectory.boolValue { return [root] }
        return try GuestPayload.regularFiles(under: root).map { root + "/" + $0 }
    }

    static func isELFExecutable(_ path: String) -> Bool {
        guard FileManager.default.isExecutableFile(atPath: path), let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 4)) == Data([0x7f, 0x45, 0x4c, 0x46])
    }
}

/// The files of a `lib/modules/<release>` tree that loading some modules needs: libkmod's
/// index files and each module with what it depends on (modules.dep), nothing else, so a
/// CI kernel's thousands of modules do not all go into every boot.
public enum ModuleClosure {
    public static func files(in modulesDirectory: String, for names: [String]) throws -> [String] {
        guard let dep = try? String(contentsOfFile: modulesDirectory + "/modules.dep", encoding: .utf8) else {
            throw HMMKitError("\(modulesDirectory)/modules.dep: missing; the modules tree is not from 'make modules_install' (run depmod)")
        }
        let indexes = try FileManager.default.contentsOfDirectory(atPath: modulesDirectory)
            .filter { $0.hasPrefix("modules.") }.sorted()
        return indexes + closure(of: names, dependencies: parse(dep))
    }

    /// modules.dep: `path: dependency-path ...`, paths relative to the release directory.
    static func parse(_ text: String) -> [String: [String]] {
        var result: [String: [String]] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            result[String(line[..<colon])] = line[line.index(after: colon)...].split(separator: " ").map(String.init)
        }
        return result
    }

    /// The module's name as libkmod compares it: file name without .ko[.xz|.zst|.gz], '-' as '_'.
    static func moduleName(_ path: String) -> String {
        let file = path.split(separator: "/").last.map(String.init) ?? path
        let base = file.components(separatedBy: ".ko").first ?? file
        return base.replacingOccurrences(of: "-", with: "_")
    }

    static func closure(of names: [String], dependencies: [String: [String]]) -> [String] {
        var wanted = Set(names.map { $0.replacingOccurrences(of: "-", with: "_") })
        var result: [String] = []
        var queue = dependencies.keys.filter { wanted.contains(moduleName($0)) }.sorted()
        while let path = queue.first {
            queue.removeFirst()
            guard !result.contains(path) else { continue }
            result.append(path)
            for dependency in dependencies[path] ?? [] where !result.contains(dependency) {
                wanted.insert(moduleName(dependency))
                queue.append(dependency)
            }
        }
        return result
    }
}
