#if canImport(Glibc)
    import Glibc
#endif

/// A system call's error number, with the names spelled out (swift-system's `Errno`); its
/// description is the system's message. Nobody above this module calls `strerror`.
public struct Errno: Error, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's `errno` now.
    public static var current: Errno { Errno(rawValue: errno) }

    public var description: String { String(cString: strerror(rawValue)) }

    /// The corresponding C constant is `EINTR`.
    public static let interrupted = Errno(rawValue: EINTR)
    /// The corresponding C constant is `ENOENT`.
    public static let noSuchFileOrDirectory = Errno(rawValue: ENOENT)
    /// The corresponding C constant is `EACCES`.
    public static let permissionDenied = Errno(rawValue: EACCES)
    /// The corresponding C constant is `EEXIST`.
    public static let fileExists = Errno(rawValue: EEXIST)
    /// The corresponding C constant is `EAGAIN` (`EWOULDBLOCK`).
    public static let resourceTemporarilyUnavailable = Errno(rawValue: EAGAIN)
    /// A symbolic link where O_NOFOLLOW asked for none. The corresponding C constant is `ELOOP`.
    public static let tooManySymbolicLinks = Errno(rawValue: ELOOP)
    /// The corresponding C constant is `ESPIPE`.
    public static let illegalSeek = Errno(rawValue: ESPIPE)
    /// The corresponding C constant is `ESRCH`.
    public static let noSuchProcess = Errno(rawValue: ESRCH)
    /// The corresponding C constant is `ECONNREFUSED`.
    public static let connectionRefused = Errno(rawValue: ECONNREFUSED)
    /// The corresponding C constant is `ETIMEDOUT`.
    public static let timedOut = Errno(rawValue: ETIMEDOUT)

    /// Runs a system call until it is not interrupted by a signal: the one place EINTR is
    /// retried. `body` returns a negative value and leaves `errno` set when it fails.
    @inlinable
    public static func retryingInterrupted<Result: BinaryInteger>(_ body: () -> Result) throws(Errno) -> Result {
        while true {
            let result = body()
            if result >= 0 { return result }
            let error = Errno.current
            if error != .interrupted { throw error }
        }
    }
}
