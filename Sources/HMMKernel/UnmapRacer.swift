#if canImport(Glibc)
import Glibc
import HMMSystem
#endif

/// A thread of this process that sleeps briefly and then unmaps a range: it races an
/// munmap against a device access in the same mm (hmm-tests' anon_teardown).
public final class UnmapRacer {
    private var thread = pthread_t()
    private let address: UInt64
    private let length: Int
    private let delay: UInt32

    public init(address: UInt64, length: Int, delayMicroseconds: UInt32) throws(SystemError) {
        self.address = address
        self.length = length
        delay = delayMicroseconds
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            let racer = Unmanaged<UnmapRacer>.fromOpaque(raw!).takeRetainedValue()
            if racer.delay > 0 { usleep(racer.delay) }
            _ = munmap(UnsafeMutableRawPointer(bitPattern: UInt(racer.address)), racer.length)
            return nil
        }, context)
        if rc != 0 {
            Unmanaged<UnmapRacer>.fromOpaque(context).release()
            throw SystemError("pthread_create", Errno(rawValue: rc))
        }
    }

    public func join() { pthread_join(thread, nil) }
}
