import Foundation
import HMMCommands
import Testing

/// The built `hmmkit` (or `name`) beside this test bundle, run with `arguments`: its exit
/// status and standard error.
func hmmkit(_ arguments: [String], name: String = "hmmkit") throws -> (status: Int32, stderr: String) {
    let directory = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        .deletingLastPathComponent()
    let executable = directory.appendingPathComponent(name).path
    try #require(FileManager.default.isExecutableFile(atPath: executable), "no \(name) beside the tests in \(directory.path)")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, text)
}

/// A bad value of a typed option is ArgumentParser's usage error: exit 2, the option named,
/// and for a choice the values it takes.
@Suite struct UsageErrorTests {
    @Test(arguments: [
        (["vm", "run", "--accel", "bogus"], "Please provide one of 'auto', 'kvm' or 'tcg'"),
        (["vm", "run", "--thp", "sometimes"], "Please provide one of 'always', 'madvise' or 'never'"),
        (["vm", "run", "--numa", "flat"], "Please provide one of 'memory-only-node' and 'cpu-per-node'"),
        (["gen", "--thp", "x"], "Please provide one of 'never', 'madvise' or 'always'"),
        (["gen", "--profile", "linux-5.0"], "'linux-6.1', 'linux-6.12' or 'thp-migration'"),
        (["replay", "x.fixture", "--profile", "linux-5.0"], "'linux-6.1', 'linux-6.12' or 'thp-migration'"),
        (["fuzz", "run", "--output", "x", "--thp", "x"], "Please provide one of 'never', 'madvise' or 'always'"),
        (["gen", "--seeds", "5-1"], "--seeds"),
        (["gen", "--devices", "0,7"], "minors are 0...3"),
        (["fuzz", "run", "--output", "x", "--nodes", "0,0"], "distinct node numbers"),
        (["run", "--load-module", "--allow-host-module-load", "--spm", "0x1"], "--spm takes two hex addresses"),
        (["module", "load", "--allow-host-module-load", "x"], "is not NAME=VALUE"),
        (["list", "--shard", "3/2"], "K must be from 1 to N (2), got 3"),
        (["list", "-r", "hmm.x"], "-r takes fixture.variant.test"),
    ])
    func exitsTwoNamingTheProblem(arguments: [String], words: String) throws {
        let (status, stderr) = try hmmkit(arguments)
        #expect(status == 2, "\(arguments): \(stderr)")
        #expect(stderr.contains(words), "\(arguments): \(stderr)")
    }
}
