import Testing

@testable import HMMSystem

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ErrnoTests {
    @Test func errnoNames() {
        #expect(Errno.EBUSY.name == "EBUSY")
        #expect(Errno(name: "ENOENT") == .ENOENT)
        #expect(Errno(rawValue: 999).name == "errno 999")
        #expect(SystemError("ioctl(HMM_DMIRROR_READ)", .EFAULT).description.hasPrefix("ioctl(HMM_DMIRROR_READ) failed: EFAULT"))
    }
}

@Suite struct ForkedChildTests {
    @Test func forkedChildReportsLinesAndExitStatus() throws {
        var child = try ForkedChild.spawn { send in send("hello\nworld"); return 3 }
        #expect(child.next(deadline: monotonicSeconds() + 10) == .line("hello world"))
        #expect(child.next(deadline: monotonicSeconds() + 10) == .closed)
        #expect(child.wait() == .exited(3))
    }

    @Test func forkedChildTimeoutAndKill() throws {
        var child = try ForkedChild.spawn { _ in while true { sleep(1) } }
        #expect(child.next(deadline: monotonicSeconds() + 0.3) == .timedOut)
        child.killGroup()
        #expect(child.wait() == .signaled(9))
    }
}
