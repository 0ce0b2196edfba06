import Foundation
import HMMVM

/// Kernels of a series, built in the scratch worktree by scripts/kernel-build and kept per
/// git tree in `builds/` (see ``SeriesLayout``): the script's own output directory is keyed
/// by the worktree's path, so every build of the series lands in the same one, and its
/// artifacts are copied out before the next build replaces them.
public struct KernelStore {
    public let layout: SeriesLayout
    /// scripts/kernel-build's key for the scratch tree (`tree-<path hash>-<config hash>`).
    public let buildKey: String
    /// The config hash part of ``buildKey``.
    public let config: String

    /// The files of a build directory that make a bootable kernel and its peer test.
    static let files = ["bzImage", "config", "release", "hmm-tests"]

    public init(layout: SeriesLayout) throws(SeriesError) {
        self.layout = layout
        let script: String
        do { script = try Repository.root() + "/scripts/kernel-build" } catch {
            throw SeriesError(.failed, "\(error)")
        }
        let result = try runProgram(script, ["--source", layout.scratchTree, "--print-key"])
        let key = result.lines.last ?? ""
        guard result.status == 0, let config = SeriesLayout.configKey(fromBuildKey: key) else {
            throw SeriesError(.failed, "scripts/kernel-build --print-key failed (exit \(result.status))", details: result.lines)
        }
        buildKey = key
        self.config = config
    }

    /// The full log of scripts/kernel-build's last build of the scratch tree (the script
    /// writes under $HMMKIT_CACHE, whatever the series' own cache root).
    public var buildLog: String { KernelCache.builtKernel(key: buildKey) + "/build.log" }

    /// The kernel built earlier from `step`'s tree, if there is one.
    public func cached(_ step: SeriesStep) -> KernelArtifacts? {
        let artifacts = KernelArtifacts(directory: layout.buildDirectory(tree: step.tree, config: config))
        let done = FileManager.default.fileExists(atPath: artifacts.directory + "/done")
        return done && artifacts.isComplete ? artifacts : nil
    }

    /// Builds the scratch worktree, which must be at `step`'s commit, and keeps the result.
    /// A failed build copies the log to `logCopy` and says how it ended.
    public func build(_ step: SeriesStep, title: String, logCopy: String,
                      progress: @escaping (String) -> Void) throws(SeriesError) -> KernelArtifacts {
        let built: KernelArtifacts
        do {
            built = try KernelBuilder.artifacts(for: layout.scratchTree, progress: progress)
        } catch {
            try? FileManager.default.removeItem(atPath: logCopy)
            let copied = (try? FileManager.default.copyItem(atPath: buildLog, toPath: logCopy)) != nil
            let text = (try? String(contentsOfFile: buildLog, encoding: .utf8)) ?? ""
            let tail = Self.logTail(text)
            throw SeriesError(step.number == 0 ? .baseDoesNotBuild : .patchDoesNotBuild,
                              "\(title) does not build; the end of its build log (\(copied ? logCopy : buildLog)):",
                              details: tail.isEmpty ? ["\(error)"] : tail)
        }
        return try keep(built, as: step)
    }

    /// Copies a build's artifacts into the step's directory (whole or not at all).
    func keep(_ built: KernelArtifacts, as step: SeriesStep) throws(SeriesError) -> KernelArtifacts {
        let target = layout.buildDirectory(tree: step.tree, config: config)
        let temporary = target + ".tmp"
        let fm = FileManager.default
        do {
            try? fm.removeItem(atPath: temporary)
            try fm.createDirectory(atPath: temporary, withIntermediateDirectories: true)
            for name in Self.files where fm.fileExists(atPath: built.directory + "/" + name) {
                try fm.copyItem(atPath: built.directory + "/" + name, toPath: temporary + "/" + name)
            }
            try fm.copyItem(atPath: built.directory + "/mods", toPath: temporary + "/mods")
            try Data("\(layout.scratchTree)\n".utf8).write(to: URL(fileURLWithPath: temporary + "/source"))
            try Data("\(step.commit)\n".utf8).write(to: URL(fileURLWithPath: temporary + "/commit"))
            try? fm.removeItem(atPath: target)
            try fm.moveItem(atPath: temporary, toPath: target)
            try Data("\(step.tree)-\(config)\n".utf8).write(to: URL(fileURLWithPath: target + "/done"))
        } catch {
            throw SeriesError(.failed, "cannot keep the kernel built from \(step.commit.prefix(12)) in \(target): \(error)")
        }
        return KernelArtifacts(directory: target)
    }

    /// The lines worth showing of a failed build's log: the compiler's first errors (where
    /// make's own lines at the end would hide them), then the last lines.
    static func logTail(_ text: String, errors: Int = 8, last: Int = 20) -> [String] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        while lines.last?.isEmpty == true { lines.removeLast() }
        let tail = Array(lines.suffix(last))
        let firstErrors = lines.dropLast(tail.count).filter { $0.contains("error:") || $0.contains("Error ") }.prefix(errors)
        return firstErrors.isEmpty ? tail : Array(firstErrors) + ["…"] + tail
    }
}
