#if canImport(Glibc)
import Glibc
#endif

/// A forked child in its own process group, reporting to the parent by lines on a pipe.
///
/// kselftest's isolation: a test that crashes, hangs or corrupts its address space takes
/// only its child down. The parent must be single-threaded when forking (hmmkit's
/// runner is), so the child may run ordinary Swift code.
public struct ForkedChild: ~Copyable {
    public let pid: Int32
    private let channel: FileDescriptor
    private var pending = LineBuffer()

    /// Forks; the child runs `body` with a line sender, then `_exit`s with its return value.
    /// `newProcessGroup`: a test's own process is a group leader, so its timeout kills
    /// everything it forked; processes a test forks stay in the test's group.
    public static func spawn(newProcessGroup: Bool = true,
                             _ body: (_ send: @escaping (String) -> Void) -> Int32) throws(SystemError) -> ForkedChild {
        let pipe = try Sys.pipe()
        Sys.flushStandardStreams()
        let pid: Int32
        do { pid = try Sys.fork() } catch {
            try? Sys.close(pipe.read); try? Sys.close(pipe.write)
            throw error
        }
        if pid == 0 {
            try? Sys.close(pipe.read)
            if newProcessGroup { Sys.setpgid(0, 0) }
            let send: (String) -> Void = { text in _ = try? Sys.writeBytes(pipe.write, Self.line(text)) }
            let code = body(send)
            Sys.flushStandardStreams()
            Sys.exitImmediately(code)
        }
        try? Sys.close(pipe.write)
        // Set on both sides so a kill of the group cannot race the child's own call.
        if newProcessGroup { Sys.setpgid(pid, pid) }
        return ForkedChild(pid: pid, channel: FileDescriptor(adopting: pipe.read), ownsGroup: newProcessGroup)
    }

    /// `text` as one protocol line: its line breaks (a CR of a CRLF too) become spaces, so
    /// a message cannot forge a verdict line. Bytes, not Characters: a fork child sends
    /// thousands of answers per test.
    static func line(_ text: String) -> [UInt8] {
        var bytes = Array(text.utf8)
        for i in bytes.indices where bytes[i] == UInt8(ascii: "\n") || bytes[i] == UInt8(ascii: "\r") {
            bytes[i] = UInt8(ascii: " ")
        }
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    private let ownsGroup: Bool

    private init(pid: Int32, channel: consuming FileDescriptor, ownsGroup: Bool) {
        self.pid = pid
        self.channel = channel
        self.ownsGroup = ownsGroup
    }

    public enum Event: Equatable {
        case line(String)
        /// The child closed its end (exited or crashed).
        case closed
        case timedOut
    }

    /// The next line, waiting until `deadline` (CLOCK_MONOTONIC seconds).
    public mutating func next(deadline: Double) -> Event {
        while true {
            if let event = nextIfReady() { return event }
            let remaining = deadline - monotonicSeconds()
            if remaining <= 0 { return .timedOut }
            Self.waitForInput(on: [descriptor], seconds: min(remaining, 1))
        }
    }

    /// The next line without waiting: one already read, or one a read of the ready pipe
    /// completes; `.closed` at end of file; nil while nothing (or half a line) has come.
    public mutating func nextIfReady() -> Event? {
        if let line = pending.takeLine() { return .line(line) }
        let ready = (try? Sys.poll(channel.rawValue, events: Int16(POLLIN), timeoutMilliseconds: 0)) ?? 0
        if ready == 0 { return nil }
        guard let chunk = try? Sys.readBytes(channel.rawValue, count: 65536), !chunk.isEmpty else {
            if let rest = pending.takeRest() { return .line(rest) }
            return .closed
        }
        pending.append(chunk)
        return pending.takeLine().map { .line($0) }
    }

    /// The pipe the child reports on, for ``waitForInput(on:seconds:)`` over several children.
    public var descriptor: Int32 { channel.rawValue }

    /// Waits up to `seconds` until one of `descriptors` (children's ``descriptor``s) has
    /// input or has closed; a signal ends the wait early.
    public static func waitForInput(on descriptors: [Int32], seconds: Double) {
        var fds = descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        _ = try? Sys.poll(&fds, timeoutMilliseconds: Int32(max(0, min(seconds, 3600)) * 1000))
    }

    /// SIGKILLs the child's whole process group (its own forks included).
    public func killGroup() {
        if ownsGroup { Sys.kill(-pid, SIGKILL) }
        Sys.kill(pid, SIGKILL)
    }

    /// How the child ended, once it has.
    public typealias Termination = ProcessTermination

    /// Waits for the child, then kills whatever is left of its process group.
    public consuming func wait() -> Termination {
        let termination = waitForExit(pid)
        if ownsGroup { Sys.kill(-pid, SIGKILL) }
        return termination
    }
}

/// CLOCK_MONOTONIC in seconds.
public func monotonicSeconds() -> Double { Sys.monotonicSeconds() }

/// A forked worker the parent talks to in request and reply lines: the kernel side of a
/// fixture replay, so a step that crashes or hangs takes down the worker, not the
/// process that knows which step it was.
///
/// The worker stays in its parent's process group (a test's timeout kills both). A
/// process the worker forks inherits both pipes and may answer in its place while the
/// worker waits for it.
public struct ConversingChild: ~Copyable {
    private var child: ForkedChild
    private let requests: FileDescriptor

    public static func spawn(
        _ body: (_ requests: RequestReader, _ reply: @escaping (String) -> Void) -> Int32
    ) throws(SystemError) -> ConversingChild {
        let pipe = try Sys.pipe()
        let child: ForkedChild
        do {
            child = try ForkedChild.spawn(newProcessGroup: false) { reply in
                try? Sys.close(pipe.write)
                return body(RequestReader(fd: pipe.read), reply)
            }
        } catch {
            try? Sys.close(pipe.read); try? Sys.close(pipe.write)
            throw error
        }
        try? Sys.close(pipe.read)
        return ConversingChild(child: child, requests: FileDescriptor(adopting: pipe.write))
    }

    private init(child: consuming ForkedChild, requests: consuming FileDescriptor) {
        self.child = child
        self.requests = requests
    }

    public var pid: Int32 { child.pid }

    /// Sends one request line and waits until `deadline` for the reply line.
    public mutating func ask(_ request: String, deadline: Double) -> ForkedChild.Event {
        guard (try? Sys.writeBytes(requests.rawValue, Array((request + "\n").utf8))) != nil else { return .closed }
        return child.next(deadline: deadline)
    }

    public func kill() { child.killGroup() }

    /// Kills the worker without waiting for it: a process stuck in the kernel (after an
    /// oops, say) cannot be reaped, and the caller must still report what it saw.
    public consuming func abandon() {
        child.killGroup()
    }

    /// Closes the request pipe (the worker reads end of input) and reaps the worker.
    public consuming func wait() -> ForkedChild.Termination {
        try? requests.close()
        return child.wait()
    }
}

/// The worker's end of a ``ConversingChild``: blocking reads of request lines.
public final class RequestReader {
    private let fd: Int32
    private var pending = LineBuffer()

    init(fd: Int32) { self.fd = fd }

    /// The next request, or nil when the parent closed its end.
    public func next() -> String? {
        while true {
            if let line = pending.takeLine() { return line }
            guard let chunk = try? Sys.readBytes(fd, count: 4096), !chunk.isEmpty else { return nil }
            pending.append(chunk)
        }
    }
}

/// fork(2) for a worker that must copy its address space (a fixture's `fork` step). The
/// caller is single-threaded. Returns 0 in the child.
public func forkProcess() throws(SystemError) -> Int32 {
    Sys.flushStandardStreams()
    return try Sys.fork()
}

/// Waits for `pid`, retrying EINTR.
public func waitForExit(_ pid: Int32) -> ProcessTermination {
    ProcessTermination(waitStatus: (try? Sys.waitpid(pid, 0))?.status ?? 0)
}

/// Bytes read from a pipe, handed out a line at a time (newline dropped).
///
/// Lines are taken from a read position, and the consumed bytes dropped only when a new
/// chunk comes in: removing each line from the front moved the rest of the buffer every
/// time (a forked child's thousands of answer lines were quadratic in memmove).
struct LineBuffer {
    private var bytes: [UInt8] = []
    /// Where the next line starts.
    private var start = 0

    mutating func append(_ chunk: [UInt8]) {
        if start > 0 {
            bytes.removeSubrange(..<start)
            start = 0
        }
        bytes += chunk
    }

    mutating func takeLine() -> String? {
        guard let nl = bytes[start...].firstIndex(of: 10) else { return nil }
        let line = String(decoding: bytes[start..<nl], as: UTF8.self)
        start = nl + 1
        return line
    }

    /// What is left without a newline (the writer's last words before it exited).
    mutating func takeRest() -> String? {
        guard start < bytes.count else { return nil }
        defer { bytes = []; start = 0 }
        return String(decoding: bytes[start...], as: UTF8.self)
    }
}

/// `_exit(2)`: ends a forked process without running the parent's cleanup.
public func exitProcess(_ code: Int32) -> Never { Sys.exitImmediately(code) }
