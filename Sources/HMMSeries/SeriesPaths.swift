import Foundation
import HMMReport

extension SeriesRunner {
    /// `--build-only`: builds every kernel the series tests and returns one line per kernel,
    /// `label<TAB>commit<TAB>artifact directory`.
    public func buildOnly() throws(SeriesError) -> [String] {
        let (kernels, lock) = try buildKernels()
        lock.release()
        let count = kernels.steps.count - 1
        return kernels.tested.map { step in
            "\(SeriesStep.label(step.number, of: count))\t\(step.commit)\t\(kernels.artifacts[step.number]!.directory)"
        }
    }

    /// Leaves the reason a series could not be tested in its output's `summary.txt`, when
    /// the output directory exists.
    public func recordStop(_ error: SeriesError) {
        let output = configuration.output
        if SeriesPaths.isDirectory(output) { try? AtomicFile.write(error.description + "\n", to: output + "/summary.txt") }
    }
}

/// Paths and times as `hmmkit series` gives and reports them.
public enum SeriesPaths {
    public static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// `path` made absolute against the current directory and standardized (the guest sees
    /// the host's root, not the current directory).
    public static func absolute(_ path: String) -> String {
        let url = path.hasPrefix("/") ? URL(fileURLWithPath: path)
            : URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(path)
        return url.standardizedFileURL.path
    }

    /// `3 min 07 s` since `start`.
    public static func minutes(since start: Date) -> String {
        let seconds = Int(Date().timeIntervalSince(start))
        return String(format: "%d min %02d s", seconds / 60, seconds % 60)
    }
}
