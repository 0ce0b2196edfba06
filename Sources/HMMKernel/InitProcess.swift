import HMMSystem

#if canImport(Glibc)
import Glibc
#endif

/// What a test VM's PID 1 needs from the kernel: its mounts, its command's process, and
/// the duty of reaping every orphan. (The system calls themselves are in Syscalls.swift.)
public enum InitProcess {
    /// Whether this process is PID 1, the first process the kernel started.
    public static var isPID1: Bool { Sys.getpid() == 1 }

    public static func mount(_ type: String, on target: String, source: String? = nil, options: String? = nil) throws(SystemError) {
        try Sys.mkdir(target, 0o755)
        try Sys.mount(source ?? type, target, type, data: options)
    }

    /// Starts `argv` with `environment` in `directory`; each standard stream is opened from
    /// its path, or inherited when nil.
    public static func spawn(_ argv: [String], environment: [String], directory: String = "/",
                             stdin: String? = "/dev/null", stdout: String?, stderr: String?) throws(SystemError) -> Int32 {
        try spawnProgram(argv, directory: directory, environment: environment, input: stdin.map { .path($0) } ?? .inherited,
                         output: stdout.map { .path($0) } ?? .inherited, error: stderr.map { .path($0) } ?? .inherited).pid
    }

    /// Waits for `pid` and returns its exit code (128 + signal when a signal killed it),
    /// reaping any other process that ends meanwhile, as PID 1 must.
    public static func waitForExit(of pid: Int32) -> Int32 {
        while true {
            guard let (ended, status) = try? Sys.waitpid(-1, 0) else { return 127 }
            guard ended == pid else { continue }
            let signal = status & 0x7f
            return signal == 0 ? (status >> 8) & 0xff : 128 + signal
        }
    }

    /// Puts a serial line in raw mode: what is written arrives byte for byte.
    public static func makeTerminalRaw(_ path: String) throws(SystemError) {
        let fd = try Sys.open(path, O_RDWR | O_NOCTTY)
        defer { try? Sys.close(fd) }
        try Sys.makeTerminalRaw(fd)
    }

    public static func sync() { Sys.sync() }
}
