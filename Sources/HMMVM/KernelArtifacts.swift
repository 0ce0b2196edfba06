import Foundation
import HMMSystem

/// A built kernel ready to boot: what scripts/kernel-build leaves in its cache directory.
public struct KernelArtifacts: Sendable {
    public var directory: String
    public var bzImage: String { directory + "/bzImage" }
    /// `.../mods/lib/modules`, holding `<release>/`.
    public var modulesRoot: String { directory + "/mods/lib/modules" }
    /// The kernel's own hmm-tests, built from the same tree (the peer), if it was built.
    public var kselftest: String? {
        FileManager.default.isExecutableFile(atPath: directory + "/hmm-tests") ? directory + "/hmm-tests" : nil
    }
    public var release: String {
        ((try? String(contentsOfFile: directory + "/release", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }
    public var configPath: String { directory + "/config" }
    /// The configuration's name: scripts/kernel-build's `config-name` (`tinyconfig+hmmkit.config`,
    /// `defconfig+distro.config`, the file name of a whole .config), else, for a build from
    /// before that file, `config-<hash>` from the cache key, else nil. One line.
    public var configName: String? {
        let written = (try? String(contentsOfFile: directory + "/config-name", encoding: .utf8))?
            .split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) }
        if let written, !written.isEmpty { return written }
        let key = URL(fileURLWithPath: directory).lastPathComponent
        guard let dash = key.lastIndex(of: "-") else { return nil }
        let hash = key[key.index(after: dash)...]
        return hash.count == 12 && hash.allSatisfy(\.isHexDigit) ? "config-" + hash : nil
    }
    /// How TCG should run this kernel's vCPUs, from its configuration.
    public var tcgThreading: VMConfiguration.TCGThreading {
        VMConfiguration.tcgThreading(forKernelConfig: try? String(contentsOfFile: configPath, encoding: .utf8))
    }
    public var sourceTree: String? {
        (try? String(contentsOfFile: directory + "/source", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public init(directory: String) { self.directory = directory }

    /// Whether `directory` holds a bootable build.
    public var isComplete: Bool {
        FileManager.default.fileExists(atPath: bzImage) && FileManager.default.fileExists(atPath: modulesRoot)
    }
}

/// hmmkit's cache outside the repository ($HMMKIT_CACHE, else ~/.cache/hmmkit): kernels
/// (scripts/kernel-build writes them), imported CI kernels, payloads, the accelerator probe.
public enum KernelCache {
    public static var root: String {
        if let value = ProcessInfo.processInfo.environment["HMMKIT_CACHE"], !value.isEmpty { return value }
        return NSHomeDirectory() + "/.cache/hmmkit"
    }
    public static var acceleratorFile: String { root + "/accelerator" }
    public static var importedKernels: String { root + "/imported" }
    /// Where scripts/kernel-build keeps the kernel of `key` (source identity + config hash),
    /// with its build.log; the script's `--print-key` gives the key.
    public static func builtKernel(key: String) -> String { root + "/kernels/" + key }
}

public struct HMMKitError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Where hmmkit's own files are (scripts/), found from the executable or the working directory.
public enum Repository {
    public static func root() throws -> String {
        var candidates: [URL] = []
        if let env = ProcessInfo.processInfo.environment["HMMKIT_ROOT"] { candidates.append(URL(fileURLWithPath: env)) }
        let exePath = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let exe = URL(fileURLWithPath: exePath)
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<6 { candidates.append(dir); dir = dir.deletingLastPathComponent() }
        candidates.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        for c in candidates where FileManager.default.fileExists(atPath: c.appendingPathComponent("scripts/kernel-build").path) {
            return c.standardizedFileURL.path
        }
        throw HMMKitError("cannot find hmmkit's scripts/ directory; set HMMKIT_ROOT to the repository")
    }

    public static var executable: String { currentExecutablePath }
}

/// Builds (or finds in the cache) a kernel through scripts/kernel-build.
public enum KernelBuilder {
    /// `spec`: debian-6.12, debian-6.1, a kernel tree, or a directory that already holds artifacts.
    /// `config`: a config fragment (on top of defconfig) or a whole .config; nil for hmmkit's own.
    /// `coverage`: the gcov build (`scripts/kernel-build --coverage`), cached under its own key.
    /// `kcov`: the KCOV build for guided fuzzing (`scripts/kernel-build --kcov`), cached under its own key.
    public static func artifacts(for spec: String, config: String? = nil, coverage: Bool = false, kcov: Bool = false,
                                 progress: (String) -> Void) throws -> KernelArtifacts {
        let existing = KernelArtifacts(directory: spec)
        if spec.hasPrefix("/") || spec.hasPrefix("."), existing.isComplete {
            if config != nil || coverage || kcov {
                throw HMMKitError("'\(spec)' is an already built kernel: --config, --coverage and --kcov apply to a source only")
            }
            return KernelArtifacts(directory: URL(fileURLWithPath: spec).standardizedFileURL.path)
        }
        let root = try Repository.root()
        let build = try runProgram([root + "/scripts/kernel-build", "--source", spec] + (config.map { ["--config", $0] } ?? [])
                                       + (coverage ? ["--coverage"] : []) + (kcov ? ["--kcov"] : []),
                                   input: .inherited, error: .inherited)
        guard build.termination == .exited(0) else {
            throw HMMKitError("kernel build for '\(spec)' failed (scripts/kernel-build exit \(build.termination.status)); "
                              + "see the log it named above")
        }
        let dir = build.output.trimmingCharacters(in: .whitespacesAndNewlines)
            .split(separator: "\n").last.map(String.init) ?? ""
        let artifacts = KernelArtifacts(directory: dir)
        guard artifacts.isComplete else { throw HMMKitError("kernel build for '\(spec)' left no bzImage/modules in '\(dir)'") }
        progress("kernel \(artifacts.release) at \(dir)")
        return artifacts
    }
}
