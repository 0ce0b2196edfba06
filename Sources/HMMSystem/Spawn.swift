#if canImport(Glibc)
import Glibc
#endif

/// Where a spawned program's standard input comes from.
public enum ProgramInput: Sendable, Equatable {
    /// /dev/null: the program reads end of file.
    case null
    case inherited
    /// An existing file or device, opened read-only.
    case path(String)
}

/// Where a spawned program's standard output goes.
public enum ProgramOutput: Sendable, Equatable {
    /// Collected into ``ProgramResult/output``.
    case captured
    case inherited
    case discarded
    /// An existing file or device (a serial line, /dev/console), opened write-only.
    case path(String)
}

/// Where a spawned program's standard error goes.
public enum ProgramErrorOutput: Sendable, Equatable {
    /// Collected apart from standard output, into ``ProgramResult/errorOutput``.
    case captured
    /// Wherever standard output goes, interleaved with it as the program wrote them.
    case mergedWithOutput
    case inherited
    case discarded
    /// An existing file or device, opened write-only.
    case path(String)
}

/// How a process ended (a spawned program or a ``ForkedChild``).
public enum ProcessTermination: Equatable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    /// waitpid's status word decoded.
    init(waitStatus status: Int32) {
        self = (status & 0x7f) != 0 ? .signaled(status & 0x7f) : .exited((status >> 8) & 0xff)
    }

    /// The exit code, or the signal's number for a killed process (Foundation's
    /// `terminationStatus`).
    public var status: Int32 {
        switch self {
        case let .exited(c): c
        case let .signaled(s): s
        }
    }

    public var description: String {
        switch self {
        case let .exited(c): "exited with status \(c)"
        case let .signaled(s): "killed by signal \(s) (\(String(cString: strsignal(s))))"
        }
    }
}

/// A program that ran to its end.
public struct ProgramResult: Sendable, Equatable {
    public var termination: ProcessTermination
    /// Standard output when captured (with standard error when merged), else empty.
    public var output: String
    /// Standard error when captured apart, else empty.
    public var errorOutput: String
    /// The CPU time the program used, its reaped descendants' included (wait4's rusage).
    public var cpu = CPUSeconds(user: 0, system: 0)
}

/// CPU time, split as the kernel accounts it.
public struct CPUSeconds: Sendable, Equatable {
    /// In user space.
    public var user: Double
    /// In the kernel, on the process's behalf (system calls, page faults).
    public var system: Double
}

/// A program started by ``spawnProgram(_:directory:environment:input:output:error:)``, not
/// yet reaped. Dropping it closes the pipes of captured streams but does not wait.
public struct RunningProgram: ~Copyable {
    public let pid: Int32
    private let outputFD: Int32
    private let errorFD: Int32

    fileprivate init(pid: Int32, outputFD: Int32, errorFD: Int32) {
        self.pid = pid
        self.outputFD = outputFD
        self.errorFD = errorFD
    }

    /// Reads the captured streams to their end, then waits for the program.
    public consuming func wait() -> ProgramResult {
        let (pid, out, err) = (pid, outputFD, errorFD)
        discard self
        var streams = [(fd: out, bytes: [UInt8]()), (fd: err, bytes: [UInt8]())]
        var polled = streams.indices.filter { streams[$0].fd >= 0 }
        while !polled.isEmpty {
            var fds = polled.map { pollfd(fd: streams[$0].fd, events: Int16(POLLIN), revents: 0) }
            guard (try? Sys.poll(&fds, timeoutMilliseconds: -1)) != nil else { break }
            for (k, i) in polled.enumerated().reversed() where fds[k].revents != 0 {
                let chunk = (try? Sys.readBytes(streams[i].fd, count: 65536)) ?? []
                if chunk.isEmpty {
                    try? Sys.close(streams[i].fd)
                    polled.remove(at: k)
                } else {
                    streams[i].bytes += chunk
                }
            }
        }
        for i in polled { try? Sys.close(streams[i].fd) }
        let reaped = try? Sys.wait4(pid)
        return ProgramResult(termination: ProcessTermination(waitStatus: reaped?.status ?? 0),
                             output: String(decoding: streams[0].bytes, as: UTF8.self),
                             errorOutput: String(decoding: streams[1].bytes, as: UTF8.self),
                             cpu: CPUSeconds(user: reaped?.user ?? 0, system: reaped?.system ?? 0))
    }

    deinit {
        if outputFD >= 0 { try? Sys.close(outputFD) }
        if errorFD >= 0 { try? Sys.close(errorFD) }
    }
}

/// hmmkit's one way to start another program, on the host and in a test VM alike: starts
/// `argv` (a path first: no PATH search) in `directory` (nil: this process's) with
/// `environment` ("NAME=value"; nil: this process's) and the three streams as asked.
///
/// Why posix_spawn here and not Foundation's `Process` or swift-subprocess: the guest side
/// is a statically linked hmmkit running as PID 1 in a minimal kernel. `Process` needs
/// Foundation (which HMMSystem and the kernel layer do without) and AF_UNIX sockets that
/// such a kernel may lack; swift-subprocess's API is async, while every caller here is
/// synchronous and the guest binary is kept small. One posix_spawn-based API serves both
/// sides, so a program is started, fed and reaped the same way everywhere. Fork without exec (a test's
/// isolation) is ``ForkedChild``; QEMU, watched while it runs, keeps Foundation's `Process`
/// in HMMVM's VMSession.
public func spawnProgram(_ argv: [String], directory: String? = nil, environment: [String]? = nil,
                         input: ProgramInput = .null, output: ProgramOutput = .captured,
                         error: ProgramErrorOutput = .inherited) throws(SystemError) -> RunningProgram {
    var actions: [Sys.SpawnFileAction] = []
    var pipes: [Int32] = []
    defer { for fd in pipes { try? Sys.close(fd) } }
    var outputRead: Int32 = -1
    var errorRead: Int32 = -1

    switch input {
    case .null: actions.append(.open(0, "/dev/null", flags: O_RDONLY))
    case .inherited: break
    case let .path(path): actions.append(.open(0, path, flags: O_RDONLY))
    }
    switch output {
    case .captured:
        let pipe = try Sys.pipe()
        pipes.append(pipe.write)
        outputRead = pipe.read
        actions.append(.dup2(pipe.write, to: 1))
    case .inherited: break
    case .discarded: actions.append(.open(1, "/dev/null", flags: O_WRONLY))
    case let .path(path): actions.append(.open(1, path, flags: O_WRONLY | O_NOCTTY))
    }
    switch error {
    case .captured:
        let pipe: (read: Int32, write: Int32)
        do { pipe = try Sys.pipe() } catch {
            if outputRead >= 0 { try? Sys.close(outputRead) }
            throw error
        }
        pipes.append(pipe.write)
        errorRead = pipe.read
        actions.append(.dup2(pipe.write, to: 2))
    case .mergedWithOutput: actions.append(.dup2(1, to: 2))
    case .inherited: break
    case .discarded: actions.append(.open(2, "/dev/null", flags: O_WRONLY))
    case let .path(path): actions.append(.open(2, path, flags: O_WRONLY | O_NOCTTY))
    }
    if let directory { actions.append(.chdir(directory)) }

    let pid: Int32
    do { pid = try Sys.spawn(argv, environment: environment, actions: actions) } catch {
        if outputRead >= 0 { try? Sys.close(outputRead) }
        if errorRead >= 0 { try? Sys.close(errorRead) }
        throw error
    }
    // The write ends close here (defer): the reader sees end of file when the program exits.
    return RunningProgram(pid: pid, outputFD: outputRead, errorFD: errorRead)
}

/// Runs a program to completion: ``spawnProgram(_:directory:environment:input:output:error:)``
/// then ``RunningProgram/wait()``. Standard input is /dev/null unless said otherwise.
public func runProgram(_ argv: [String], directory: String? = nil, environment: [String]? = nil,
                       input: ProgramInput = .null, output: ProgramOutput = .captured,
                       error: ProgramErrorOutput) throws(SystemError) -> ProgramResult {
    try spawnProgram(argv, directory: directory, environment: environment, input: input, output: output, error: error).wait()
}
