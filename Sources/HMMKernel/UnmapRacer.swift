import HMMSystem

/// A thread of this process that sleeps briefly and then unmaps a range: it races an
/// munmap against a device access in the same mm (hmm-tests' anon_teardown).
public final class UnmapRacer {
    private let thread: SystemThread

    public init(address: UInt64, length: Int, delayMicroseconds: UInt32) throws(SystemError) {
        thread = try SystemThread {
            if delayMicroseconds > 0 { Sys.sleep(microseconds: delayMicroseconds) }
            if let start = UnsafeMutableRawPointer(bitPattern: UInt(address)) { try? Sys.munmap(start, length) }
        }
    }

    public func join() { thread.join() }
}
