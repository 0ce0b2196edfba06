#if canImport(Glibc)
import Glibc
#endif

/// A failed system or library call: which call, what it was doing, and the errno.
///
/// Like swift-system's `Errno`, but carries the call so a test log says
/// `ioctl(HMM_DMIRROR_MIGRATE_TO_DEV) failed: ENOENT (No such file or directory)`.
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    public var call: String
    public var errno: Errno

    public init(_ call: String, _ errno: Errno) {
        self.call = call
        self.errno = errno
    }

    public var description: String { "\(call) failed: \(errno)" }
}

/// An errno value with its symbolic name: the one Errno of hmmkit, for the kernel layer's
/// failed calls and the model's expected results alike.
public struct Errno: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let EPERM = Errno(rawValue: 1)
    public static let ENOENT = Errno(rawValue: 2)
    public static let EINTR = Errno(rawValue: 4)
    public static let EIO = Errno(rawValue: 5)
    public static let ENOEXEC = Errno(rawValue: 8)
    public static let EAGAIN = Errno(rawValue: 11)
    public static let ENOMEM = Errno(rawValue: 12)
    public static let EACCES = Errno(rawValue: 13)
    public static let EFAULT = Errno(rawValue: 14)
    public static let EBUSY = Errno(rawValue: 16)
    public static let EEXIST = Errno(rawValue: 17)
    public static let ENODEV = Errno(rawValue: 19)
    public static let EINVAL = Errno(rawValue: 22)
    public static let ENOTTY = Errno(rawValue: 25)
    public static let ENOSPC = Errno(rawValue: 28)
    public static let EPIPE = Errno(rawValue: 32)
    public static let ERANGE = Errno(rawValue: 34)
    public static let ENOSYS = Errno(rawValue: 38)
    public static let EOPNOTSUPP = Errno(rawValue: 95)

    /// The one table of symbolic names (Linux's generic numbering, x86-64 and arm64): the
    /// spelling of errnos in KTAP diagnostics, fixtures and emitted C tests.
    static let symbols: [Int32: String] = [
        1: "EPERM", 2: "ENOENT", 4: "EINTR", 5: "EIO", 8: "ENOEXEC", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES",
        14: "EFAULT", 16: "EBUSY", 17: "EEXIST", 19: "ENODEV", 22: "EINVAL", 25: "ENOTTY", 28: "ENOSPC", 32: "EPIPE",
        34: "ERANGE", 38: "ENOSYS", 95: "EOPNOTSUPP",
    ]

    /// The errno of the calling thread right now.
    package static var current: Errno { Errno(rawValue: Glibc.errno) }

    /// "ENOENT", or nil for a value without a name in the table.
    public var symbolicName: String? { Errno.symbols[rawValue] }

    /// "ENOENT", or "errno 123" for values without a short name here.
    public var name: String { symbolicName ?? "errno \(rawValue)" }

    /// Looks a symbolic name up ("EBUSY" → 16); used by fixtures and model text.
    public init?(name: String) {
        guard let hit = Errno.symbols.first(where: { $0.value == name }) else { return nil }
        self.init(rawValue: hit.key)
    }

    /// strerror(3)'s text: "No such file or directory".
    public var message: String { String(cString: strerror(rawValue)) }

    public var description: String { "\(name) (\(message))" }
}
