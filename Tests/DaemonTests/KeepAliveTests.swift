import Foundation
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A kept-alive connection waits `http.headerSeconds` for its next request, and that request then
/// has `http.headerSeconds` for its line and headers (issue 23: one deadline counted from the
/// previous answer, so a request begun just before it was answered 400 as a slow head, or cut
/// unanswered: schemathesis' "Remote end closed connection without response").
@Suite struct KeepAliveTests {
    static let headerSeconds = 4

    /// Reads one answer (its head and a Content-Length body) from a blocking socket; what came
    /// before the server closed the connection (nothing: ""), or nil when it neither answered nor
    /// closed within the socket's 20 s receive timeout.
    static func readAnswer(_ descriptor: Int32) -> String? {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let text = String(decoding: received, as: UTF8.self)
            if let end = text.range(of: "\r\n\r\n") {
                let length =
                    text[..<end.lowerBound].split(separator: "\r\n")
                    .first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                if text.utf8.count - text.utf8.distance(from: text.startIndex, to: end.upperBound) >= length { return text }
            }
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return nil }
            if count <= 0 { return text }
            received += buffer[0..<count]
        }
    }

    static func send(_ descriptor: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        _ = Glibc.send(descriptor, bytes, bytes.count, Int32(MSG_NOSIGNAL))
    }

    /// Answers a first request, idles `idle` seconds, sends `first`, waits `pause` seconds (past
    /// the old deadline: idle + pause > headerSeconds), sends `rest`: returns the second answer.
    static func secondAnswer(_ descriptor: Int32, idle: Double, first: String, pause: Double, rest: String) -> (String?, String?) {
        send(descriptor, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let answer = readAnswer(descriptor)
        // The idle time and the pause are what is tested, not a synchronisation.
        usleep(UInt32(idle * 1_000_000))
        send(descriptor, first)
        usleep(UInt32(pause * 1_000_000))
        send(descriptor, rest)
        return (answer, readAnswer(descriptor))
    }

    static func daemon() throws -> DaemonHarness {
        try DaemonHarness(
            arguments: ["--listen", "127.0.0.1:0", "--step", "1"], configuration: #"{"http": {"headerSeconds": \#(headerSeconds)}}"#)
    }

    @Test(arguments: ["tcp", "unix"])
    func aRequestLineSentBeforeTheIdleDeadlineGetsItsOwnTimeForTheHeaders(_ transport: String) throws {
        let daemon = try Self.daemon()
        let (_, port) = try HTTPHardeningTests.tcpPort(daemon)
        let descriptor = try rawConnect(unixPath: transport == "unix" ? daemon.socket : nil, port: port)
        defer { close(descriptor) }
        let (first, second) = Self.secondAnswer(
            descriptor, idle: 2.5, first: "GET /healthz HTTP/1.1\r\n", pause: 2.5, rest: "Host: localhost\r\n\r\n")
        #expect(first?.hasPrefix("HTTP/1.1 200") == true, "\(first ?? "no answer")")
        #expect(second?.hasPrefix("HTTP/1.1 200") == true && second?.contains("ok") == true, "\(second?.prefix(300) ?? "no answer")")
    }

    /// Part of a line, not yet a line libmicrohttpd can hand over: over TCP the sweeper sees the
    /// bytes arrived (on the Unix socket it cannot once libmicrohttpd has read them).
    @Test func partOfARequestLineSentBeforeTheIdleDeadlineIsNotCut() throws {
        let daemon = try Self.daemon()
        let (_, port) = try HTTPHardeningTests.tcpPort(daemon)
        let descriptor = try rawConnect(port: port)
        defer { close(descriptor) }
        let (_, second) = Self.secondAnswer(
            descriptor, idle: 2.5, first: "GET /heal", pause: 2.5, rest: "thz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(second?.hasPrefix("HTTP/1.1 200") == true && second?.contains("ok") == true, "\(second?.prefix(300) ?? "no answer")")
    }

    /// What the deadline is for still holds: an idle kept-alive connection is closed, and a head
    /// that has begun is cut once its own headerSeconds pass.
    @Test func anIdleConnectionAndASlowHeadAreStillClosed() throws {
        let daemon = try Self.daemon()
        let (_, port) = try HTTPHardeningTests.tcpPort(daemon)
        let idle = try rawConnect(port: port)
        defer { close(idle) }
        Self.send(idle, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(Self.readAnswer(idle)?.hasPrefix("HTTP/1.1 200") == true)
        // The server closes it: the read ends (within its 20 s receive timeout) with nothing.
        var byte: UInt8 = 0
        #expect(recv(idle, &byte, 1, 0) == 0, "an idle kept-alive connection stayed open")
        let slow = try rawConnect(port: port)
        defer { close(slow) }
        Self.send(slow, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(Self.readAnswer(slow)?.hasPrefix("HTTP/1.1 200") == true)
        Self.send(slow, "GET /healthz HTTP/1.1\r\nX-Slow: ")
        // Cut (with a 400, or closed), not left open until the 20 s receive timeout.
        let answer = Self.readAnswer(slow)
        #expect(answer != nil, "a slow head was not cut within 20 s")
        #expect(answer?.isEmpty == true || answer?.contains(" 400 ") == true, "\(answer?.prefix(300) ?? "")")
    }
}
