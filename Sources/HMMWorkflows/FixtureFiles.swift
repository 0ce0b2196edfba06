import FoundationEssentials
import HMMFixtures
import HMMKernel
import HMMModel
import HMMSystem

/// Fixture files on disk, as `gen` and `fixture expect/check` handle them.
public enum FixtureFiles {
    /// A fixture file that cannot be read, as `file:1: cannot read: …`.
    public struct ReadError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The text of a fixture file: at most one byte over the limit, so a huge file is
    /// refused by the parser, not read whole.
    public static func read(_ path: String) throws(ReadError) -> String {
        do { return try readTextFile(path, limit: FixtureLimits.fileBytes) } catch {
            throw ReadError(description: "\(path):1: cannot read: \(error)")
        }
    }

    /// Generates one fixture per seed into `directory` (created if need be) as
    /// `gen-<profile>-seed<N>.fixture`, passing each path to `written` as it is written.
    public static func generate(seeds: [UInt64], profile: KernelProfile, environment: Environment, steps: Int, into directory: String,
                                written: (String) -> Void) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for seed in seeds {
            var generator = FixtureGenerator(seed: seed, profile: profile, environment: environment)
            let fixture = generator.generate(steps: steps)
            let path = "\(directory)/gen-\(profile.name)-seed\(seed).fixture"
            try AtomicWriter.write(fixture.text, to: path)
            written(path)
        }
    }

    /// Rewrites each file with the model's expectations and notes, printing `path: updated`
    /// or `unchanged` and every problem left; returns whether all files are clean.
    public static func expect(_ paths: [String], print: (String) -> Void) -> Bool {
        var clean = true
        for path in paths {
            do {
                let text = try read(path)
                let updated = try FixtureMaintenance.withExpectations(text, file: path)
                if updated != text {
                    try AtomicWriter.write(updated, to: path)
                    print("\(path): updated")
                } else {
                    print("\(path): unchanged")
                }
                for p in FixtureMaintenance.problems(in: updated, file: path) {
                    print("\(p)")
                    clean = false
                }
            } catch {
                print("\(error)")
                clean = false
            }
        }
        return clean
    }

    /// Prints each file's problems (`file:line: problem`; an unreadable file is one problem
    /// among the others); returns whether there were none.
    public static func check(_ paths: [String], forbidHazards: Bool, print: (String) -> Void) -> Bool {
        var clean = true
        for path in paths {
            let problems: [String]
            do {
                problems = FixtureMaintenance.problems(in: try read(path), file: path, allowHazards: !forbidHazards).map { "\($0)" }
            } catch {
                problems = [error.description]
            }
            for p in problems { print(p) }
            clean = clean && problems.isEmpty
        }
        return clean
    }
}
