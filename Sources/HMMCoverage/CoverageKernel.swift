import Foundation
import HMMVM

/// What `scripts/kernel-build --coverage` keeps beside a kernel: `gcov/objects` (the
/// instrumented objects, `mm/hmm` …, relative to the build directory, without `.o`),
/// `gcov/<object>.gcno` (each object's notes) and `gcov/build-dir` (the absolute build
/// directory the guest's `/sys/kernel/debug/gcov` tree mirrors).
public struct CoverageKernel: Sendable {
    public var artifacts: KernelArtifacts
    public var objects: [String]
    public var buildDirectory: String

    public var gcovDirectory: String { artifacts.directory + "/gcov" }
    public func notes(of object: String) -> String { gcovDirectory + "/" + object + ".gcno" }

    /// The objects scripts/kernel-build instruments, in the table's order.
    public static let defaultObjects = ["mm/hmm", "mm/migrate_device", "mm/memory", "mm/rmap", "lib/test_hmm"]

    /// Reads the gcov directory of `artifacts`; an error that says how to get one when it is
    /// not a coverage kernel.
    public init(artifacts: KernelArtifacts) throws {
        self.artifacts = artifacts
        let dir = artifacts.directory + "/gcov"
        func read(_ name: String) -> String? {
            (try? String(contentsOfFile: dir + "/" + name, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let objects = read("objects"), let build = read("build-dir"), !build.isEmpty else {
            throw HMMKitError("\(artifacts.directory) is not a coverage kernel (no gcov/objects and gcov/build-dir): "
                              + "build one with 'scripts/kernel-build --coverage' or 'hmmkit kernel build --coverage', "
                              + "or give 'hmmkit coverage' a source (debian-6.12) to build")
        }
        self.objects = objects.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        buildDirectory = build
        for object in self.objects where !FileManager.default.fileExists(atPath: notes(of: object)) {
            throw HMMKitError("\(notes(of: object)) is missing: rebuild the coverage kernel")
        }
    }

    /// The source file of an object, as the table names it.
    public static func source(of object: String) -> String { object + ".c" }
}
