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
        #expect(Errno(rawValue: 999).symbolicName == nil)
        for (value, name) in Errno.symbols { #expect(Errno(name: name) == Errno(rawValue: value)) }
        #expect(Errno(name: "EOPNOTSUPP") == .EOPNOTSUPP && Errno.ENOTTY.name == "ENOTTY")
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

    /// A CRLF is one Character in Swift: the line breaks are replaced byte by byte, so a
    /// message cannot start a line of its own (a forged verdict) with either.
    @Test func lineBreaksInAMessageBecomeSpaces() {
        #expect(ForkedChild.line("a\r\nP\rb\nc") == Array("a  P b c\n".utf8))
        #expect(ForkedChild.line("") == [UInt8(ascii: "\n")])
        #expect(ForkedChild.line("é\n") == Array("é \n".utf8))
    }

    @Test func forkedChildTimeoutAndKill() throws {
        var child = try ForkedChild.spawn { _ in while true { sleep(1) } }
        #expect(child.next(deadline: monotonicSeconds() + 0.3) == .timedOut)
        child.killGroup()
        #expect(child.wait() == .signaled(9))
    }
}

@Suite struct ThreadTests {
    final class Counter: @unchecked Sendable {
        let mutex = SystemMutex()
        let changed = SystemMutex.Condition()
        var value = 0
    }

    @Test func threadsShareAMutexAndJoin() throws {
        let counter = Counter()
        let threads = try (0..<4).map { _ in
            try SystemThread {
                for _ in 0..<1000 {
                    counter.mutex.lock(); counter.value += 1; counter.mutex.unlock()
                }
            }
        }
        for t in threads { t.join(); t.join() }
        #expect(counter.value == 4000)
    }

    @Test func conditionWakesTheWaiter() throws {
        let counter = Counter()
        let waiter = try SystemThread {
            counter.mutex.lock()
            while counter.value == 0 { counter.changed.wait(counter.mutex) }
            counter.value += 1
            counter.mutex.unlock()
        }
        counter.mutex.lock(); counter.value = 1; counter.changed.broadcast(); counter.mutex.unlock()
        waiter.join()
        #expect(counter.value == 2)
    }
}

@Suite struct AtomicWriterTests {
    func scratch() throws -> String { try makeTemporaryDirectory(in: "/tmp", prefix: "hmmsystem-test-") }

    @Test func writesReplacesAndLeavesOnlyTheTarget() throws {
        let dir = try scratch()
        try AtomicWriter.write("first\n", to: dir + "/out.txt")
        try createTextFile(dir + "/out.txt", "second\n")
        #expect(try readTextFile(dir + "/out.txt") == "second\n")
        #expect(try listDirectory(dir) == ["out.txt"])
    }

    @Test func commitMovesACompleteFileIntoPlace() throws {
        let dir = try scratch()
        try AtomicWriter.write("old", to: dir + "/archive")
        try AtomicWriter.write("new", to: dir + "/archive.partial")
        try AtomicWriter.commit(dir + "/archive.partial", to: dir + "/archive")
        #expect(try readTextFile(dir + "/archive") == "new")
        #expect(try listDirectory(dir) == ["archive"])
    }

    @Test func failuresNameTheStepAndTheFile() throws {
        #expect(throws: AtomicWriteError("/nonexistent-dir/x", .create(directory: "/nonexistent-dir/"), .ENOENT)) {
            try AtomicWriter.write("x", to: "/nonexistent-dir/x")
        }
        let e = AtomicWriteError("/nonexistent-dir/x", .create(directory: "/nonexistent-dir/"), .ENOENT)
        #expect(e.description == "/nonexistent-dir/x: cannot write: cannot create a file in '/nonexistent-dir/': No such file or directory")
        let dir = try scratch()
        try makeDirectory(dir + "/taken")
        #expect(throws: AtomicWriteError(dir + "/taken", .isDirectory, nil)) { try AtomicWriter.write("x", to: dir + "/taken") }
    }
}

@Suite struct FileReadingTests {
    @Test func readsGrowOnlyWhileTheyComeBackFull() {
        var sizes = ReadSizes()
        #expect(sizes.next == 4096)
        sizes.update(requested: 4096, got: 2)
        #expect(sizes.next == 4096, "a short read (a sysctl's whole value): the read that finds the end stays small")
        for _ in 0..<20 { sizes.update(requested: sizes.next, got: sizes.next) }
        #expect(sizes.next == 1 << 20)
    }

    @Test func longFilesAndLimitsReadWhole() throws {
        let dir = try makeTemporaryDirectory(in: "/tmp", prefix: "hmmsystem-test-")
        let text = String((0..<(3 << 20) + 5).map { Character(UnicodeScalar(UInt8(97 + $0 % 26))) })
        try createTextFile(dir + "/long", text)
        #expect(try readTextFile(dir + "/long") == text)
        #expect(try readFileBytes(dir + "/long", limit: 10).count == 11, "one byte past the limit says it was passed")
        if fileExists("/proc/sys/kernel/tainted") {
            #expect(UInt64(try readTextFile("/proc/sys/kernel/tainted").trimmed) != nil, "a sysctl reads whole")
        }
    }
}

@Suite struct SpawnTests {
    @Test func capturesOutputAndErrorApart() throws {
        let r = try runProgram(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"], error: .captured)
        // The CPU time it used varies run to run; the rest is exact.
        #expect(r == ProgramResult(termination: .exited(3), output: "out\n", errorOutput: "err\n", cpu: r.cpu))
    }

    @Test func mergesErrorIntoOutputInOrder() throws {
        let r = try runProgram(["/bin/sh", "-c", "echo one; echo two >&2; echo three"], error: .mergedWithOutput)
        #expect(r.output == "one\ntwo\nthree\n" && r.errorOutput.isEmpty)
    }

    @Test func discardsAndRunsInADirectoryWithAnEnvironment() throws {
        let r = try runProgram(["/bin/sh", "-c", "pwd; echo \"$HMMKIT_X\"; echo gone >&2; cat"], directory: "/tmp",
                               environment: ["HMMKIT_X=set"], error: .discarded)
        #expect(r.output == "/tmp\nset\n" && r.termination == .exited(0))
    }

    @Test func largeOutputOnBothStreamsDoesNotDeadlock() throws {
        let script = "head -c 300000 /dev/zero; head -c 300000 /dev/zero >&2"
        let r = try runProgram(["/bin/sh", "-c", script], error: .captured)
        #expect(r.output.utf8.count == 300000 && r.errorOutput.utf8.count == 300000)
    }

    @Test func aMissingProgramIsAnErrorAndASignalIsReported() throws {
        #expect(throws: SystemError("posix_spawn(/nonexistent/program)", .ENOENT)) {
            try runProgram(["/nonexistent/program"], error: .inherited)
        }
        let r = try runProgram(["/bin/sh", "-c", "kill -9 $$"], error: .inherited)
        #expect(r.termination == .signaled(9) && r.termination.status == 9)
    }

    @Test func aSpawnedProgramCanBeWaitedForLater() throws {
        let p = try spawnProgram(["/bin/sh", "-c", "exit 7"], output: .discarded)
        #expect(p.pid > 0)
        #expect(p.wait().termination == .exited(7))
    }
}
