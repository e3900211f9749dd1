import Foundation
import ResmonClient
import ResmonDaemon
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Sends `bytes` as they are over a fresh connection (the Unix socket at `path`, or TCP to
/// 127.0.0.1:`port`) and returns everything the server sends until it closes or 20 s pass.
func rawExchange(_ bytes: [UInt8], unixPath: String? = nil, port: Int = 0) throws -> String {
    let descriptor = try rawConnect(unixPath: unixPath, port: port)
    defer { close(descriptor) }
    _ = Glibc.send(descriptor, bytes, bytes.count, Int32(MSG_NOSIGNAL))
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = recv(descriptor, &buffer, buffer.count, 0)
        if count <= 0 { break }
        received += buffer[0..<count]
    }
    return String(decoding: received, as: UTF8.self)
}

/// A blocking connection to the Unix socket at `path`, or to 127.0.0.1:`port`, whose reads give up after 20 s.
func rawConnect(unixPath: String? = nil, port: Int = 0) throws -> Int32 {
    let descriptor = socket(unixPath == nil ? AF_INET : AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw DaemonHarness.NotReady(description: "socket failed") }
    var timeout = timeval(tv_sec: 20, tv_usec: 0)
    setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let connected: Int32
    if let unixPath {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { path in
            for (index, byte) in unixPath.utf8.prefix(path.count - 1).enumerated() { path[index] = byte }
        }
        connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    } else {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }
    guard connected == 0 else {
        let reason = String(cString: strerror(errno))
        close(descriptor)
        throw DaemonHarness.NotReady(description: "connect: \(reason)")
    }
    return descriptor
}

/// Raw NUL bytes in the request line and headers (issue 22, re-attack item 2): libmicrohttpd hands
/// them over as C strings, so a NUL would cut the target or value short and the rest be ignored.
@Suite struct RawRequestTests {
    static let requests: [(String, String)] = [
        ("GET /v1/status\0/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", "path"),
        ("PUT /v1/statistics/app:x:y\0zzz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 12\r\nConnection: close\r\n\r\n{\"value\": 1}", "push"),
        ("GET /v1/statistics?match=a\0b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", "query"),
        ("GE\0T /v1/status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", "method"),
        ("GET /v1/status HTTP/1.1\r\nHost: x\0y\r\nConnection: close\r\n\r\n", "header"),
        ("GET /v1/status HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\0zz\r\n\r\n", "last header"),
        ("GET /v1/status HTTP/1.1\r\nHost: localhost\r\nX-A: \0\r\nConnection: close\r\n\r\n", "empty header")
    ]

    /// Refused: a 400 or a connection closed without an answer, never the truncated request served.
    static func expectRefused(_ answer: String, _ label: String) {
        let status = answer.split(separator: "\r\n").first.map(String.init) ?? ""
        #expect(answer.isEmpty || status.contains(" 400 "), "\(label): \(answer.prefix(300))")
    }

    @Test func nulBytesInTheRequestLineOrHeadersAreRefusedOnBothTransports() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "127.0.0.1:0"])
        let (_, port) = try HTTPHardeningTests.tcpPort(daemon)
        for (request, label) in Self.requests {
            Self.expectRefused(try rawExchange(Array(request.utf8), unixPath: daemon.socket), "unix \(label)")
            Self.expectRefused(try rawExchange(Array(request.utf8), port: port), "tcp \(label)")
        }
        #expect(throws: ClientError.self) { try daemon.client.statistic("app:x:y") }
        // The same requests without the NUL are served: the check is not a blanket refusal.
        let clean = "GET /v1/status HTTP/1.1\r\nHost: localhost\r\nX-Empty:\r\nX-Spaced:   a b  \r\nConnection: close\r\n\r\n"
        for answer in [try rawExchange(Array(clean.utf8), unixPath: daemon.socket), try rawExchange(Array(clean.utf8), port: port)] {
            #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer.prefix(300))")
        }
        let lf = "GET  /v1/status HTTP/1.1\nHost: localhost\nConnection: close\n\n"
        #expect(try rawExchange(Array(lf.utf8), port: port).hasPrefix("HTTP/1.1 200"))
        #expect(try daemon.client.health().status == "ok")
    }
}

/// A page of another site that rebinds its name to 127.0.0.1 must not read resmond through
/// the browser (issue 19's security): over the loopback listener, only requests for localhost
/// or an IP address are served.
@Suite struct HostHeaderTests {
    static func status(_ answer: String) -> String { answer.split(separator: "\r\n").first.map(String.init) ?? "" }

    @Test func aLoopbackListenerRefusesRequestsForOtherNames() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "127.0.0.1:0"])
        let (_, port) = try HTTPHardeningTests.tcpPort(daemon)
        func get(_ path: String, host: String, unix: Bool = false) throws -> String {
            let request = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n"
            return try rawExchange(Array(request.utf8), unixPath: unix ? daemon.socket : nil, port: port)
        }
        for path in ["/", "/v1/status", "/v1/statistics", "/metrics", "/v1/events"] {
            let refused = try get(path, host: "rebound.example:\(port)")
            #expect(Self.status(refused).contains(" 403 "), "\(path): \(refused.prefix(300))")
            #expect(refused.contains("localhost or an IP address"), "\(path)")
            #expect(!refused.contains("cpu:total"), "\(path) must not leak statistics")
        }
        for host in ["localhost:\(port)", "127.0.0.1:\(port)", "[::1]:\(port)"] {
            let served = try get("/v1/status", host: host)
            #expect(Self.status(served).contains(" 200 "), "\(host): \(served.prefix(300))")
        }
        // A supervisor's probe and the Unix socket do not depend on the name.
        #expect(Self.status(try get("/healthz", host: "rebound.example")).contains(" 200 "))
        #expect(Self.status(try get("/v1/status", host: "rebound.example", unix: true)).contains(" 200 "))
        #expect(try daemon.client.health().status == "ok")
    }

    /// Every spelling of a loopback address keeps the check on (attack round 5: `[::ffff:127.0.0.1]`
    /// and `[0:0:0:0:0:0:0:1]` turned it off).
    @Test func everySpellingOfLoopbackIsLoopback() throws {
        for text in ["127.0.0.1:1", "127.255.3.4:1", "localhost:1", "[::1]:1", "[0:0:0:0:0:0:0:1]:1", "[::ffff:127.0.0.1]:1", "[::FFFF:127.1.2.3]:1"] {
            let address = try #require(ListenAddress(parsing: text), "\(text)")
            #expect(address.isLoopback, "\(text)")
        }
        for text in ["128.0.0.1:1", "0.0.0.0:1", "[::]:1", "[::2]:1", "[::ffff:10.0.0.1]:1", "[fe80::1]:1", "example.org:1"] {
            let address = try #require(ListenAddress(parsing: text), "\(text)")
            #expect(!address.isLoopback, "\(text)")
        }
    }
}
