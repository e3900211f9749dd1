import Foundation
import ResmonClient
import ResmonTestSupport
import Server
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A slowloris client: a TCP connection that sends the start of a request, then one more header
/// byte each time `trickle()` is called, and never finishes it.
final class Trickler {
    let descriptor: Int32
    private(set) var isClosed = false

    /// Connects to `port` on 127.0.0.1 from `source` (any address of 127.0.0.0/8 is this host)
    /// and sends `start`.
    init(
        port: Int, source: String = "127.0.0.1",
        start: String = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: "
    ) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, source, &local.sin_addr)
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr)
        let connected = withUnsafePointer(to: &local) { localPointer in
            withUnsafePointer(to: &remote) { remotePointer in
                localPointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { localAddress in
                    remotePointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { remoteAddress in
                        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
                        guard bind(descriptor, localAddress, size) == 0 else { return Int32(-1) }
                        return connect(descriptor, remoteAddress, size)
                    }
                }
            }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw DaemonHarness.NotReady(description: "connect from \(source): \(reason)")
        }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        send(Array(start.utf8))
    }

    deinit { close(descriptor) }

    /// Sends one more byte of the header that never ends; notices a connection the server closed.
    func trickle() {
        guard !isClosed else { return }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        if count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            isClosed = true
            return
        }
        send([UInt8(ascii: "a")])
    }

    private func send(_ bytes: [UInt8]) {
        let sent = Glibc.send(descriptor, bytes, bytes.count, Int32(MSG_NOSIGNAL))
        if sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK { isClosed = true }
    }
}

/// The HTTP servers against hostile clients (issue 22): slow requests, many connections from
/// one address, control bytes in paths.
@Suite struct HTTPHardeningTests {
    static func tcpPort(_ daemon: DaemonHarness) throws -> (listen: String, port: Int) {
        let listen = try #require(try daemon.client.status().listen)
        let port = try #require(listen.split(separator: ":").last.flatMap { Int($0) })
        return (listen, port)
    }

    /// Sends one byte to every trickler each second until all are closed or `timeout` passes.
    static func trickle(_ tricklers: [Trickler], timeout: Double, while check: () -> Void = {}) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            tricklers.forEach { $0.trickle() }
            check()
            if tricklers.allSatisfy(\.isClosed) { return true }
            sleep(1)  // the attack's pace, not a synchronisation
        }
        return false
    }

    @Test func aRequestThatTricklesInIsClosedAtItsDeadlineAndTheServerKeepsAnswering() throws {
        let daemon = try DaemonHarness(
            arguments: ["--listen", "127.0.0.1:0", "--step", "1"], configuration: #"{"http": {"maxConnections": 16}}"#)
        let (listen, port) = try Self.tcpPort(daemon)
        // An event stream over TCP is long-lived by design: the deadline is for receiving a request.
        let stream = try RawTCPStream(port: port, query: "heartbeat=1")
        let tricklers = try (0..<16).map { _ in try Trickler(port: port) }
        var unixAnswered = true
        let closed = Self.trickle(tricklers, timeout: 90) {
            // The Unix socket has its own capacity, whatever TCP clients do.
            if (try? daemon.client.health().status) != "ok" { unixAnswered = false }
        }
        #expect(closed, "\(tricklers.filter { !$0.isClosed }.count) of 16 trickling connections still open after 90 s")
        #expect(unixAnswered)
        let curl = try Products.run("/usr/bin/curl", ["-sf", "--max-time", "20", "http://\(listen)/healthz"])
        #expect(curl.status == 0 && curl.output.contains("ok"), "\(curl.error)")
        #expect(
            daemon.eventually(timeout: 20) {
                stream.drain(); return stream.text.contains(": heartbeat")
            })
        #expect(stream.drain(), "the event stream was closed")
    }

    @Test func oneAddressCannotTakeEveryConnection() throws {
        let daemon = try DaemonHarness(
            arguments: ["--listen", "127.0.0.1:0", "--step", "1"],
            configuration: #"{"http": {"maxConnections": 16, "connectionsPerAddress": 4}}"#)
        let (listen, port) = try Self.tcpPort(daemon)
        let tricklers = try (0..<16).map { _ in try Trickler(port: port, source: "127.0.0.2") }
        #expect(
            daemon.eventually(timeout: 20) {
                tricklers.forEach { $0.trickle() }
                return tricklers.filter(\.isClosed).count >= 12
            }, "connections past the address's 4 are refused at once")
        // Another address is served while the first holds its share.
        let curl = try Products.run("/usr/bin/curl", ["-sf", "--max-time", "20", "http://\(listen)/healthz"])
        #expect(curl.status == 0 && curl.output.contains("ok"), "\(curl.error)")
        #expect(tricklers.filter(\.isClosed).count <= 12, "the address keeps its 4")
    }

    @Test(arguments: [
        ("/v1/status", nil), ("/v1/statistics/app:a%253Ab:c?match=%5Ecpu&x=%0A", nil), ("/%zz%0", nil),
        ("/v1/status%00/x", "control byte 0x00 at offset 10"), ("/a%0ab", "control byte 0x0A at offset 2"),
        ("/a\u{7F}", "control byte 0x7F at offset 2"), ("/a%3F%01", "control byte 0x01 at offset 5"),
        ("/a?filter=x%00y", "NUL"), ("/a?x=1&%00=2", "NUL"), ("/caf%C3%A9?x=%E2%82%AC&%F0%9F%98%80", nil),
        ("/a%C0%80", "not UTF-8 once percent-decoded: the byte 0xC0 at offset 2 "), ("/a?x=%FF", "byte 0xFF at offset 5 "),
        ("/a?x=%E2%82&y=1", "byte 0xE2 at offset 5 "), ("/a\u{FFFD}%ED%BF%BF", "byte 0xED at offset 5 ")
    ])
    func targetsWithControlBytes(target: String, problem: String?) {
        let found = HTTPRequest.problem(inTarget: Array(target.utf8))
        if let problem {
            #expect(found?.contains(problem) == true, "\(target): \(found ?? "accepted")")
        } else {
            #expect(found == nil, "\(target): \(found ?? "")")
        }
    }

    /// The query as libmicrohttpd parsed it before resmond took it over (CShim/http.c).
    @Test func theQueryIsParsedFromTheTargetAsSent() {
        let items = HTTPRequest.queryItems(inTarget: Array("/a%3Fb?x=1&&y&z=a+b%20c&%2B=%3D%26&w=%zz%4&v=%+1&".utf8))
        let expected = [("x", "1"), ("y", ""), ("z", "a b c"), ("+", "=&"), ("w", "%zz%4"), ("v", "% 1")]
        #expect(items.map(\.0) == expected.map(\.0) && items.map(\.1) == expected.map(\.1), "\(items)")
        #expect(HTTPRequest.queryItems(inTarget: Array("/v1/status".utf8)).isEmpty)
        #expect(HTTPRequest.queryItems(inTarget: Array("/v1/status?".utf8)).isEmpty)
    }

    @Test func controlBytesInPathsAndKeysAreRefused() throws {
        let daemon = try DaemonHarness()
        for path in [
            "/v1/status%00/x", "/healthz%00", "/v1/status%0A", "/v1/statistics/cpu:total:usage_ratio%00x",
            "/v1/history/cpu:total:usage_ratio%1F", "/v1/monitors/a%7Fb"
        ] {
            let answer = try daemon.client.send("GET", path)
            let text = String(decoding: answer.body, as: UTF8.self)
            #expect(answer.status == 400 && text.contains("control"), "\(path): \(answer.status) \(text)")
        }
        let push = try daemon.client.send("PUT", "/v1/statistics/app:x:y%00zzz", body: Array(#"{"value": 1}"#.utf8))
        #expect(push.status == 400, "\(String(decoding: push.body, as: UTF8.self))")
        #expect(throws: ClientError.self) { try daemon.client.statistic("app:x:y") }
        let query = try daemon.client.send("GET", "/v1/events?filter=severity%20%3E%3D%20warning%00junk")
        #expect(query.status == 400, "\(String(decoding: query.body, as: UTF8.self))")
        #expect(try daemon.client.send("GET", "/v1/status").status == 200)
        #expect(try daemon.client.health().status == "ok")
    }
}

/// `GET /v1/events/stream` over TCP, read without blocking.
final class RawTCPStream {
    private let connection: Trickler
    private var received: [UInt8] = []

    init(port: Int, query: String) throws {
        connection = try Trickler(port: port, start: "GET /v1/events/stream?\(query) HTTP/1.1\r\nHost: localhost\r\n\r\n")
    }

    var text: String { String(decoding: received, as: UTF8.self) }

    /// Reads what is there now; false once the peer has closed.
    @discardableResult
    func drain() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(connection.descriptor, &buffer, buffer.count, 0)
            if count > 0 { received += buffer[0..<count]; continue }
            return !(count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
        }
    }
}
