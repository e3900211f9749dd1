#if canImport(Glibc)
    import Glibc
#endif

/// A connected datagram socket (a Unix socket such as /dev/log, or UDP to a numeric address),
/// for sending whole messages. Closed when released.
public final class DatagramSocket {
    private let descriptor: Int32

    /// Connects to the Unix datagram socket at `path`.
    public init(unixPath path: String) throws(Errno) {
        let socket = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw Errno.current }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            _ = path.utf8CString.withUnsafeBytes { memcpy(raw.baseAddress!, $0.baseAddress!, min($0.count, raw.count - 1)) }
        }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard status == 0 else {
            let error = Errno.current
            close(socket)
            throw error
        }
        descriptor = socket
    }

    /// Connects to UDP `host` (a numeric IPv4 or IPv6 address) and `port`; nil when the host is
    /// not a numeric address.
    public init?(udpHost host: String, port: Int) throws(Errno) {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &found) == 0, let address = found else { return nil }
        defer { freeaddrinfo(found) }
        let socket = Glibc.socket(address.pointee.ai_family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw Errno.current }
        guard connect(socket, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else {
            let error = Errno.current
            close(socket)
            throw error
        }
        descriptor = socket
    }

    deinit { close(descriptor) }

    /// Sends `message` as one datagram, never raising SIGPIPE.
    public func send(_ message: [UInt8]) throws(Errno) {
        let sent = try Errno.retryingInterrupted { message.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
        guard sent == message.count else { throw Errno(rawValue: EMSGSIZE) }
    }
}
