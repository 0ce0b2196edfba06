import Foundation
import Glibc
import Testing
@testable import HMMVM

/// The VM's work directory: made new by mkdtemp, private to its user.
@Suite struct WorkDirectoryTests {
    @Test func isNewPrivateAndUnpredictable() throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("hmmkit-vm-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: parent) }
        // What the old predictable name would have been: someone else's directory is never taken.
        let planted = "\(parent)/hmmkit-vm-\(getpid())-\(Int(Date().timeIntervalSince1970))"
        try FileManager.default.createDirectory(atPath: planted, withIntermediateDirectories: false)
        let a = try VMSession.makeWorkDirectory(keep: nil, temporaryDirectory: parent + "/")
        let b = try VMSession.makeWorkDirectory(keep: nil, temporaryDirectory: parent)
        #expect(a != b && a != planted && b != planted)
        for made in [a, b] {
            #expect(made.hasPrefix(parent + "/hmmkit-vm-") && made.count == (parent + "/hmmkit-vm-").count + 6, "\(made)")
            var st = stat()
            #expect(lstat(made, &st) == 0)
            #expect(st.st_mode & S_IFMT == S_IFDIR)
            #expect(st.st_mode & 0o7777 == 0o700, "mode \(String(st.st_mode & 0o7777, radix: 8))")
            #expect(st.st_uid == getuid())
        }
    }

    @Test func keepIsUsedAsGiven() throws {
        let keep = FileManager.default.temporaryDirectory.appendingPathComponent("hmmkit-vm-keep-\(UUID().uuidString)/a").path
        defer { try? FileManager.default.removeItem(atPath: (keep as NSString).deletingLastPathComponent) }
        #expect(try VMSession.makeWorkDirectory(keep: keep) == keep)
        #expect(FileManager.default.fileExists(atPath: keep))
    }
}

/// fuzz --jobs runs VM sessions on several threads: their QEMU pids share one registry.
@Suite struct RunningQEMUsTests {
    @Test func concurrentSessionsAddAndRemoveTheirPids() {
        DispatchQueue.concurrentPerform(iterations: 8) { k in
            for n in 0..<500 {
                let pid = pid_t(1_000_000 + k * 1000 + n)
                RunningQEMUs.add(pid)
                RunningQEMUs.remove(pid)
            }
        }
        #expect((0..<RunningQEMUs.capacity).allSatisfy { RunningQEMUs.slots[$0] == 0 })
    }
}
