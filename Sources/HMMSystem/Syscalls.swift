import CSysShims

#if canImport(Glibc)
import Glibc
#endif

/// Every raw system call hmmkit makes, in one place (swift-system's pattern). Each wrapper
/// returns the raw result or throws a `SystemError` naming the call; `package` access keeps
/// them out of hmmkit's public API while every target of the package can reach them.
///
/// EINTR policy, the one rule for the whole package: hmmkit installs no signal handler that
/// expects a call to be cut short, so EINTR is never an answer. Every wrapper of a call
/// that can report it goes through `retryingEINTR`, which repeats the call until it gives a
/// real result (hmm-tests.c retries its ioctls the same way). The exceptions:
/// - `close` is never retried: on Linux the descriptor is gone even when close reports EINTR;
/// - `poll` reports EINTR as "nothing ready yet": its callers loop against a deadline;
/// - a call whose manual page lists no EINTR (`mmap`, `munmap`, `mremap`, `mount`, `rename`,
///   `mkdir`, `unlink`, `stat`, `kill`, `posix_spawn`) is made once.
package enum Sys {
    /// The EINTR policy above: repeats `body` while it fails with EINTR; any other failure
    /// becomes a `SystemError` naming `call`.
    @inline(__always)
    package static func retryingEINTR<T: BinaryInteger>(_ call: String, _ body: () -> T) throws(SystemError) -> T {
        while true {
            let result = body()
            if result != -1 { return result }
            let err = Errno.current
            if err == .EINTR { continue }
            throw SystemError(call, err)
        }
    }

    package static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0) throws(SystemError) -> Int32 {
        try retryingEINTR("open(\(path))") { Glibc.open(path, flags | O_CLOEXEC, mode) }
    }

    /// close(2) is never retried: on Linux the descriptor is gone even when it reports EINTR.
    package static func close(_ fd: Int32) throws(SystemError) {
        if Glibc.close(fd) == -1 { throw SystemError("close", .current) }
    }

    /// ioctl(2) with a pointer to `arg`, which the kernel may update in place.
    package static func ioctl<T>(_ fd: Int32, _ request: UInt, _ arg: inout T, name: String) throws(SystemError) {
        _ = try retryingEINTR("ioctl(\(name))") {
            withUnsafeMutableBytes(of: &arg) { raw in Glibc.ioctl(fd, request, raw.baseAddress!) }
        }
    }

    /// ioctl(2) whose argument is a value, not a pointer (KCOV_INIT_TRACE's size, KCOV_ENABLE's
    /// mode). Glibc's overlay passes it as an int: a value past Int32.max is refused here.
    package static func ioctl(_ fd: Int32, _ request: UInt, value: UInt, name: String) throws(SystemError) {
        guard let arg = CInt(exactly: value) else { throw SystemError("ioctl(\(name)) with argument \(value)", .EINVAL) }
        _ = try retryingEINTR("ioctl(\(name))") { Glibc.ioctl(fd, request, arg) }
    }

    package static func read(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        try retryingEINTR("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// Reads up to `count` bytes from the current offset (`pread` when `offset` is given).
    /// The buffer is not zero-filled first: callers read a child's pipe in 64 KiB chunks,
    /// and the memset showed in profiles under TCG.
    package static func readBytes(_ fd: Int32, count: Int, offset: Int? = nil) throws(SystemError) -> [UInt8] {
        var failure: SystemError?
        let bytes = [UInt8](unsafeUninitializedCapacity: max(count, 0)) { buffer, initialized in
            do throws(SystemError) {
                initialized = try retryingEINTR(offset == nil ? "read" : "pread") {
                    offset.map { Glibc.pread(fd, buffer.baseAddress, buffer.count, off_t($0)) }
                        ?? Glibc.read(fd, buffer.baseAddress, buffer.count)
                }
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return bytes
    }

    package static func writeBytes(_ fd: Int32, _ bytes: [UInt8]) throws(SystemError) -> Int {
        try retryingEINTR("write") { bytes.withUnsafeBytes { raw in Glibc.write(fd, raw.baseAddress, raw.count) } }
    }

    /// Writes all of `buffer`, however many write(2) calls that takes.
    package static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws(SystemError) {
        var done = 0
        while done < buffer.count {
            done += try write(fd, UnsafeRawBufferPointer(rebasing: buffer[done...]))
        }
    }

    package static func fsync(_ fd: Int32) throws(SystemError) {
        _ = try retryingEINTR("fsync") { Glibc.fsync(fd) }
    }

    /// O_TMPFILE (`__O_TMPFILE | O_DIRECTORY`); not exported by Swift's Glibc module.
    package static let O_TMPFILE: Int32 = 0o20000000 | O_DIRECTORY

    package static func pread(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, _ offset: Int) throws(SystemError) -> Int {
        try retryingEINTR("pread") { Glibc.pread(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    package static func pwrite(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, _ offset: Int) throws(SystemError) -> Int {
        try retryingEINTR("pwrite") { Glibc.pwrite(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    package static func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws(SystemError) -> Int {
        try retryingEINTR("write") { Glibc.write(fd, buffer.baseAddress, buffer.count) }
    }

    package static func lseek(_ fd: Int32, _ offset: Int, _ whence: Int32) throws(SystemError) -> Int {
        Int(try retryingEINTR("lseek") { Glibc.lseek(fd, off_t(offset), whence) })
    }

    package static func ftruncate(_ fd: Int32, _ length: Int) throws(SystemError) {
        _ = try retryingEINTR("ftruncate") { Glibc.ftruncate(fd, off_t(length)) }
    }

    package static func fallocate(_ fd: Int32, _ mode: Int32, _ offset: Int, _ length: Int) throws(SystemError) {
        _ = try retryingEINTR("fallocate") { hmmkit_fallocate(fd, mode, offset, length) }
    }

    package static func mmap(_ address: UnsafeMutableRawPointer?, _ length: Int, _ prot: Int32, _ flags: Int32,
                     _ fd: Int32, _ offset: Int) throws(SystemError) -> UnsafeMutableRawPointer {
        guard let p = Glibc.mmap(address, length, prot, flags, fd, off_t(offset)), p != MAP_FAILED else {
            throw SystemError("mmap", .current)
        }
        return p
    }

    package static func munmap(_ address: UnsafeMutableRawPointer, _ length: Int) throws(SystemError) {
        if Glibc.munmap(address, length) == -1 { throw SystemError("munmap", .current) }
    }

    package static func mprotect(_ address: UnsafeMutableRawPointer, _ length: Int, _ prot: Int32) throws(SystemError) {
        _ = try retryingEINTR("mprotect") { Glibc.mprotect(address, length, prot) }
    }

    /// mincore(2): one byte per page of `length` into `vector`, bit 0 set when resident.
    package static func mincore(_ address: UnsafeMutableRawPointer, _ length: Int,
                                _ vector: UnsafeMutablePointer<UInt8>) throws(SystemError) {
        if Glibc.mincore(address, length, vector) == -1 { throw SystemError("mincore", .current) }
    }

    package static func madvise(_ address: UnsafeMutableRawPointer, _ length: Int, _ advice: Int32) throws(SystemError) {
        _ = try retryingEINTR("madvise") { Glibc.madvise(address, length, advice) }
    }

    /// mremap(2) with an explicit destination (MREMAP_MAYMOVE|MREMAP_FIXED[|MREMAP_DONTUNMAP]).
    package static func mremap(_ old: UnsafeMutableRawPointer, _ oldSize: Int, _ newSize: Int, _ flags: Int32,
                       _ newAddress: UnsafeMutableRawPointer?) throws(SystemError) -> UnsafeMutableRawPointer {
        guard let p = hmmkit_mremap(old, UInt(oldSize), UInt(newSize), flags, newAddress), p != MAP_FAILED else {
            throw SystemError("mremap", .current)
        }
        return p
    }

    /// sched_setaffinity(2) of the calling thread.
    package static func pinThread(to cpus: [Int]) throws(SystemError) {
        let ints = cpus.map { Int32(clamping: $0) }
        if ints.withUnsafeBufferPointer({ hmmkit_pin_thread($0.baseAddress, Int32($0.count)) }) == -1 {
            throw SystemError("sched_setaffinity(\(cpus))", .current)
        }
    }

    package static func fork() throws(SystemError) -> pid_t {
        let pid = hmmkit_fork()
        if pid == -1 { throw SystemError("fork", .current) }
        return pid
    }

    /// waitpid(2), retried on EINTR; WNOHANG returns 0 while the child runs.
    package static func waitpid(_ pid: pid_t, _ options: Int32) throws(SystemError) -> (pid: pid_t, status: Int32) {
        var status: Int32 = 0
        let r = try retryingEINTR("waitpid") { Glibc.waitpid(pid, &status, options) }
        return (r, status)
    }

    /// wait4(2) for `pid`, retried on EINTR: its status word and the CPU seconds it used, user
    /// and system, with those of every descendant it waited for itself.
    package static func wait4(_ pid: pid_t) throws(SystemError) -> (status: Int32, user: Double, system: Double) {
        var status: Int32 = 0
        var usage = rusage()
        _ = try retryingEINTR("wait4") { Glibc.wait4(pid, &status, 0, &usage) }
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return (status, seconds(usage.ru_utime), seconds(usage.ru_stime))
    }

    package static func kill(_ pid: pid_t, _ signal: Int32) {
        _ = Glibc.kill(pid, signal)
    }

    package static func pipe() throws(SystemError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        _ = try retryingEINTR("pipe2") { hmmkit_pipe2(&fds, O_CLOEXEC) }
        return (fds[0], fds[1])
    }

    package static func poll(_ fd: Int32, events: Int16, timeoutMilliseconds: Int32) throws(SystemError) -> Int16 {
        var p = pollfd(fd: fd, events: events, revents: 0)
        let r = Glibc.poll(&p, 1, timeoutMilliseconds)
        if r == -1 {
            if Errno.current == .EINTR { return 0 }
            throw SystemError("poll", .current)
        }
        return r == 0 ? 0 : p.revents
    }

    package static func uname() -> (release: String, machine: String) {
        var u = utsname()
        _ = Glibc.uname(&u)
        func field<T>(_ value: inout T) -> String {
            withUnsafeBytes(of: &value) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
        return (field(&u.release), field(&u.machine))
    }

    /// unlink(2); a missing file is not an error (the caller wanted it gone).
    package static func unlink(_ path: String) throws(SystemError) {
        if Glibc.unlink(path) == -1 && Errno.current != .ENOENT { throw SystemError("unlink(\(path))", .current) }
    }

    /// access(2) with F_OK: whether `path` exists (a dangling symbolic link does not).
    package static func exists(_ path: String) -> Bool { Glibc.access(path, F_OK) == 0 }

    package static func getpid() -> pid_t { Glibc.getpid() }
    package static func getppid() -> pid_t { Glibc.getppid() }

    /// pause(2): sleeps until a signal arrives (a deliberate hang).
    package static func pause() { _ = Glibc.pause() }

    /// signal(2): installs `handler` for each of `signals`. The handler runs on whatever the
    /// thread was doing: async-signal-safe calls only (kill, _exit).
    package static func installSignalHandler(_ signals: [Int32], _ handler: @convention(c) (Int32) -> Void) {
        for s in signals { _ = Glibc.signal(s, handler) }
    }

    /// flock(2) on a whole file (LOCK_EX, LOCK_UN, LOCK_NB), retried on EINTR.
    package static func flock(_ fd: Int32, _ operation: Int32) throws(SystemError) {
        _ = try retryingEINTR("flock") { hmmkit_flock(fd, operation) }
    }

    /// setpgid(2); a failure (the child already exec'd or exited) leaves the group as it was.
    package static func setpgid(_ pid: pid_t, _ group: pid_t) { _ = Glibc.setpgid(pid, group) }

    /// fflush(3) of every stdio stream, before a fork copies their buffers.
    package static func flushStandardStreams() { _ = fflush(nil) }

    /// CLOCK_MONOTONIC in seconds.
    package static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// usleep(3); an interruption only shortens the sleep.
    package static func sleep(microseconds: UInt32) { _ = usleep(microseconds) }

    /// sync(2): flushes every file system's dirty data.
    package static func sync() { Glibc.sync() }

    /// readlink(2), for a link's target up to PATH_MAX.
    package static func readLink(_ path: String) throws(SystemError) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = buffer.withUnsafeMutableBufferPointer { Glibc.readlink(path, $0.baseAddress!, $0.count - 1) }
        if n < 0 { throw SystemError("readlink(\(path))", .current) }
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    package static var pageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }
    /// CPUs online now (at least 1).
    package static var onlineProcessors: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    package static func geteuid() -> uid_t { Glibc.geteuid() }

    package static func powerOff() throws(SystemError) {
        if hmmkit_power_off() == -1 { throw SystemError("reboot(RB_POWER_OFF)", .current) }
    }

    package static func mkdir(_ path: String, _ mode: mode_t) throws(SystemError) {
        if Glibc.mkdir(path, mode) == -1 && Errno.current != .EEXIST { throw SystemError("mkdir(\(path))", .current) }
    }

    /// mkdtemp(3): `template` ends in XXXXXX; the directory is created with mode 0700.
    package static func mkdtemp(_ template: String) throws(SystemError) -> String {
        var bytes = Array(template.utf8CString)
        let made = bytes.withUnsafeMutableBufferPointer { Glibc.mkdtemp($0.baseAddress!) != nil }
        guard made else { throw SystemError("mkdtemp(\(template))", .current) }
        return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    package static func rename(_ from: String, _ to: String) throws(SystemError) {
        if Glibc.rename(from, to) == -1 { throw SystemError("rename(\(to))", .current) }
    }

    /// stat(2)'s file type (`S_IFREG`, `S_IFDIR`, ...) of `path`, following symbolic links;
    /// nil when there is nothing there (or it cannot be looked at).
    package static func fileType(_ path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & S_IFMT
    }

    /// realpath(3): the absolute path with every symbolic link resolved; nil on failure.
    package static func realpath(_ path: String) -> String? {
        guard let resolved = Glibc.realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// statfs(2)'s f_type: the magic number of the file system holding `path`.
    package static func fileSystemType(_ path: String) throws(SystemError) -> Int {
        var type = 0
        _ = try retryingEINTR("statfs(\(path))") { path.withCString { hmmkit_statfs_type($0, &type) } }
        return type
    }

    package static func isDirectory(_ path: String) -> Bool {
        guard let dir = opendir(path) else { return false }
        closedir(dir)
        return true
    }

    package static func listDirectory(_ path: String) throws(SystemError) -> [String] {
        guard let dir = opendir(path) else { throw SystemError("opendir(\(path))", .current) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// What posix_spawn does to the child's descriptors before the exec, in order.
    package enum SpawnFileAction {
        case open(Int32, String, flags: Int32, mode: mode_t = 0)
        case dup2(Int32, to: Int32)
        case chdir(String)
    }

    /// posix_spawn(3) of `argv` (a path first: no PATH search); `environment` nil inherits
    /// this process's. Returns the pid; a program that cannot be executed is an error here
    /// (glibc reports the exec's errno), not an exit status of 127.
    package static func spawn(_ argv: [String], environment: [String]?, actions list: [SpawnFileAction]) throws(SystemError) -> pid_t {
        precondition(!argv.isEmpty, "spawn needs a program")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for action in list {
            switch action {
            case let .open(fd, path, flags, mode): posix_spawn_file_actions_addopen(&actions, fd, path, flags, mode)
            case let .dup2(from, to): posix_spawn_file_actions_adddup2(&actions, from, to)
            case let .chdir(directory):
                if hmmkit_spawn_file_actions_addchdir(&actions, directory) != 0 {
                    throw SystemError("posix_spawn_file_actions_addchdir(\(directory))", .current)
                }
            }
        }
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var cEnv: [UnsafeMutablePointer<CChar>?] = (environment ?? []).map { strdup($0) } + [nil]
        defer { for p in cArgs + cEnv { free(p) } }
        var pid: pid_t = 0
        let rc = environment == nil ? posix_spawn(&pid, argv[0], &actions, nil, &cArgs, environ)
                                    : posix_spawn(&pid, argv[0], &actions, nil, &cArgs, &cEnv)
        if rc != 0 { throw SystemError("posix_spawn(\(argv[0]))", Errno(rawValue: rc)) }
        return pid
    }

    /// poll(2) of several descriptors; EINTR (the policy above) is "nothing ready".
    package static func poll(_ fds: inout [pollfd], timeoutMilliseconds: Int32) throws(SystemError) -> Int {
        let r = fds.withUnsafeMutableBufferPointer { Glibc.poll($0.baseAddress, nfds_t($0.count), timeoutMilliseconds) }
        if r == -1 {
            if Errno.current == .EINTR { return 0 }
            throw SystemError("poll", .current)
        }
        return Int(r)
    }

    // MARK: a test VM's init (HMMGuest)

    /// mount(2); EBUSY (already mounted there) is not an error for an init that may be re-run.
    package static func mount(_ source: String, _ target: String, _ type: String, flags: UInt = 0,
                              data: String? = nil) throws(SystemError) {
        let r = Glibc.mount(source, target, type, flags, data)
        if r == -1 && Errno.current != .EBUSY { throw SystemError("mount(\(type) on \(target))", .current) }
    }

    /// A serial line in raw mode: no CR added to each LF, no echo of what the host sends.
    package static func makeTerminalRaw(_ fd: Int32) throws(SystemError) {
        var t = termios()
        if tcgetattr(fd, &t) == -1 { throw SystemError("tcgetattr", .current) }
        cfmakeraw(&t)
        _ = try retryingEINTR("tcsetattr") { tcsetattr(fd, TCSANOW, &t) }
    }

    package static func exitImmediately(_ code: Int32) -> Never { Glibc._exit(code) }
}
