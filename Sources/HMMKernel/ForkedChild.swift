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
    private var pending: [UInt8] = []

    /// Forks; the child runs `body` with a line sender, then `_exit`s with its return value.
    /// `newProcessGroup`: a test's own process is a group leader, so its timeout kills
    /// everything it forked; processes a test forks stay in the test's group.
    public static func spawn(newProcessGroup: Bool = true,
                             _ body: (_ send: @escaping (String) -> Void) -> Int32) throws(SystemError) -> ForkedChild {
        let pipe = try Sys.pipe()
        fflush(nil)
        let pid: Int32
        do { pid = try Sys.fork() } catch {
            _ = Glibc.close(pipe.read); _ = Glibc.close(pipe.write)
            throw error
        }
        if pid == 0 {
            _ = Glibc.close(pipe.read)
            if newProcessGroup { setpgid(0, 0) }
            let send: (String) -> Void = { text in
                let line = String(text.map { $0 == "\n" || $0 == "\r" ? " " : $0 }) + "\n"
                _ = try? Sys.writeBytes(pipe.write, Array(line.utf8))
            }
            let code = body(send)
            fflush(nil)
            Sys.exitImmediately(code)
        }
        _ = Glibc.close(pipe.write)
        // Set on both sides so a kill of the group cannot race the child's own call.
        if newProcessGroup { setpgid(pid, pid) }
        return ForkedChild(pid: pid, channel: FileDescriptor(adopting: pipe.read), ownsGroup: newProcessGroup)
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
            if let nl = pending.firstIndex(of: 10) {
                let line = String(decoding: pending[..<nl], as: UTF8.self)
                pending.removeSubrange(...nl)
                return .line(line)
            }
            let remaining = deadline - monotonicSeconds()
            if remaining <= 0 { return .timedOut }
            let ready = (try? Sys.poll(channel.rawValue, events: Int16(POLLIN), timeoutMilliseconds: Int32(min(remaining, 1) * 1000))) ?? 0
            if ready == 0 { continue }
            guard let chunk = try? Sys.readBytes(channel.rawValue, count: 4096), !chunk.isEmpty else {
                if !pending.isEmpty {
                    let line = String(decoding: pending, as: UTF8.self)
                    pending = []
                    return .line(line)
                }
                return .closed
            }
            pending += chunk
        }
    }

    /// SIGKILLs the child's whole process group (its own forks included).
    public func killGroup() {
        if ownsGroup { Sys.kill(-pid, SIGKILL) }
        Sys.kill(pid, SIGKILL)
    }

    /// How the child ended, once it has.
    public enum Termination: Equatable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)
        public var description: String {
            switch self {
            case let .exited(c): "exited with status \(c)"
            case let .signaled(s): "killed by signal \(s) (\(String(cString: strsignal(s))))"
            }
        }
    }

    /// Waits for the child, then kills whatever is left of its process group.
    public consuming func wait() -> Termination {
        let status = (try? Sys.waitpid(pid, 0))?.status ?? 0
        if ownsGroup { Sys.kill(-pid, SIGKILL) }
        return (status & 0x7f) != 0 ? .signaled(status & 0x7f) : .exited((status >> 8) & 0xff)
    }
}

/// CLOCK_MONOTONIC in seconds.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
