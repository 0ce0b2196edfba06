import HMMKernel
import HMMSystem

#if canImport(Glibc)
import Glibc
#endif

/// Deliberate failures that prove hmmkit's fault handling end to end in a VM:
/// a test that hangs (the runner's timeout), one that wedges the runner itself (the
/// host's stall timeout), and one that panics the kernel (the host's crash handling).
enum VMChecks {
    static let variant = Variant(name: "vm", minors: [0])

    static var all: [PlannedTest] {
        [
            check("hang", timeout: 3) { _ in
                while true { Sys.pause() }
            },
            check("runner_stall") { _ in
                // Stops the runner (our parent) so no result ever arrives: only the host's
                // stall timeout can end this.
                Sys.kill(Sys.getppid(), SIGSTOP)
                while true { Sys.pause() }
            },
            check("panic", needs: [.root]) { _ in
                try writeTextFile("/proc/sys/kernel/sysrq", "1")
                try writeTextFile("/proc/sysrq-trigger", "c")
            },
            check("pass") { _ in },
        ]
    }

    static func check(_ name: String, needs: [TestNeed] = [], timeout: Double? = nil,
                      _ body: @escaping @Sendable (TestContext) throws -> Void) -> PlannedTest {
        PlannedTest(test: TestCase(TestID(fixture: "vmcheck", variant: "vm", name: name), needs: needs,
                                   timeout: timeout, body: body), variant: variant)
    }
}
