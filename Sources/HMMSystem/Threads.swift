#if canImport(Glibc)
import Glibc
#endif

/// A POSIX thread of this process running one closure, joined by its owner.
///
/// hmmkit's threads are few and short-lived (the model beside a test, a racing munmap), and
/// a test process forks: every thread must be joined (or idle in a known place) before it
/// does, which a pool or a Task executor does not promise. So: plain pthreads, in one place.
public final class SystemThread: @unchecked Sendable {
    private var handle = pthread_t()
    private var joined = false

    /// Starts `body` on a new thread.
    public init(_ body: @escaping () -> Void) throws(SystemError) {
        let context = Unmanaged.passRetained(Box(body)).toOpaque()
        let rc = pthread_create(&handle, nil, { raw in
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, context)
        if rc != 0 {
            Unmanaged<Box>.fromOpaque(context).release()
            throw SystemError("pthread_create", Errno(rawValue: rc))
        }
    }

    /// Waits for the thread to end; later calls return at once.
    public func join() {
        if joined { return }
        joined = true
        pthread_join(handle, nil)
    }

    deinit { if !joined { pthread_detach(handle) } }

    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
}

/// A pthread mutex, with the condition variables that wait on it.
public final class SystemMutex: @unchecked Sendable {
    fileprivate let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    public init() { pthread_mutex_init(mutex, nil) }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// A condition variable used with one ``SystemMutex``.
    public final class Condition: @unchecked Sendable {
        private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

        public init() { pthread_cond_init(condition, nil) }

        /// Releases `mutex` (which the caller holds), sleeps until signalled, and takes it
        /// again. Wakeups may be spurious: wait in a loop on the guarded state.
        public func wait(_ mutex: SystemMutex) { pthread_cond_wait(condition, mutex.mutex) }
        public func signal() { pthread_cond_signal(condition) }
        public func broadcast() { pthread_cond_broadcast(condition) }

        deinit {
            pthread_cond_destroy(condition)
            condition.deallocate()
        }
    }
}
