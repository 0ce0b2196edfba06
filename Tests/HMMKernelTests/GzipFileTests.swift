import Foundation
import Testing
@testable import HMMKernel

@Suite struct GzipFileTests {
    /// /proc/config.gz is how a kernel built elsewhere gives its config: gzip(1)'s output reads back.
    @Test func readsWhatGzipWrote() throws {
        let path = NSTemporaryDirectory() + "hmmkit-gz-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: path + ".gz") }
        let text = (0..<5000).map { "CONFIG_OPTION_\($0)=y\n" }.joined()
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
        gzip.arguments = ["-f", path]
        try gzip.run()
        gzip.waitUntilExit()
        #expect(GzipFile.read(path + ".gz").map { String(decoding: $0, as: UTF8.self) } == text)
        #expect(GzipFile.read(path + ".gz", limit: 1000)?.count ?? 0 < text.utf8.count, "bounded")
        #expect(GzipFile.read(path + ".absent") == nil)
    }
}
