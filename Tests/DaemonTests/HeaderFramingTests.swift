import Foundation
import ResmonTestSupport
import Testing

/// Framing the third attack found loose (issue 22, N6): each is answered once, with the API's
/// JSON 400, and the daemon keeps answering.
@Suite struct HeaderFramingTests {
    /// `request` sent over the Unix socket and over TCP; each answer.
    static func exchange(_ daemon: DaemonHarness, _ request: [UInt8]) throws -> [String] {
        let (_, port) = try HTTPHardeningTests.tcpPort(daemon)
        return [try rawExchange(request, unixPath: daemon.socket), try rawExchange(request, port: port)]
    }

    /// One status line, 400, the JSON error naming `named`.
    static func expectRefused(_ answers: [String], named: String, _ label: String) {
        for answer in answers {
            #expect(RequestFramingTests.status(answer) == "400", "\(label): \(answer.prefix(300))")
            #expect(answer.contains(#""code":"bad_request""#) && answer.contains(named), "\(label): \(answer.prefix(400))")
            #expect(answer.components(separatedBy: "HTTP/1.1 ").count == 2, "\(label): \(answer.prefix(600))")
        }
    }

    @Test func whitespaceBeforeAHeaderColonIsRefused() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "127.0.0.1:0"])
        for (headers, label) in [
            ("Transfer-Encoding : chunked\r\nContent-Length: 0\r\n", "TE with a space, CL 0"),
            ("Transfer-Encoding\t: chunked\r\nContent-Length: 4\r\n", "TE with a tab, CL 4"),
            ("X-Name : value\r\n", "any header")
        ] {
            let request = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\(headers)\r\nGET /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n"
            Self.expectRefused(try Self.exchange(daemon, Array(request.utf8)), named: "colon", label)
        }
        #expect(try daemon.client.health().status == "ok")
    }

    @Test func chunkedHTTP10IsRefused() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "127.0.0.1:0"])
        let request = "GET /healthz HTTP/1.0\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        Self.expectRefused(try Self.exchange(daemon, Array(request.utf8)), named: "HTTP/1.0", "HTTP/1.0 chunked")
        #expect(try daemon.client.health().status == "ok")
    }

    @Test func controlBytesInHeaderValuesAreRefused() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "127.0.0.1:0"])
        for byte: UInt8 in [0x01, 0x08, 0x1B, 0x7F] {
            let request =
                Array("GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-A: a".utf8) + [byte] + Array("b\r\nConnection: close\r\n\r\n".utf8)
            Self.expectRefused(try Self.exchange(daemon, request), named: "control byte", "byte \(byte)")
        }
        // A tab is whitespace, allowed.
        let tab = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-A: a\tb\r\nConnection: close\r\n\r\n"
        #expect(try Self.exchange(daemon, Array(tab.utf8)).allSatisfy { RequestFramingTests.status($0) == "200" })
    }

    @Test func aLastEventIDThatIsNotANumberIsRefusedWithoutEchoingIt() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "127.0.0.1:0"])
        for value: [UInt8] in [[0xFF, 0xFE], Array("12x".utf8), Array("-3".utf8)] {
            let request =
                Array("GET /v1/events/stream HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: ".utf8) + value
                + Array("\r\nConnection: close\r\n\r\n".utf8)
            let answers = try Self.exchange(daemon, request)
            Self.expectRefused(answers, named: "Last-Event-ID", "\(value)")
            #expect(answers.allSatisfy { !$0.contains("\u{FFFD}") }, "\(answers)")
        }
    }

    @Test func malformedContentLengthsAreAnsweredOnce() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "127.0.0.1:0"])
        for value in ["0, 0", "+0", "-1", "1e3", " ", "0\r\nContent-Length: x"] {
            let request = "PUT /v1/statistics/app:a:b HTTP/1.1\r\nHost: localhost\r\nContent-Length: \(value)\r\n\r\n"
            Self.expectRefused(try Self.exchange(daemon, Array(request.utf8)), named: "Content-Length", "Content-Length: \(value)")
        }
        #expect(try daemon.client.health().status == "ok")
    }

    @Test func aHugeChunkExtensionIsAnsweredWithJSON() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "127.0.0.1:0"])
        let request =
            "PUT /v1/statistics/app:a:b HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n1;"
            + String(repeating: "a", count: 100_000) + "\r\nx\r\n0\r\n\r\n"
        for answer in try Self.exchange(daemon, Array(request.utf8)) {
            let status = RequestFramingTests.status(answer)
            #expect(status.hasPrefix("4") && answer.contains(#"{"error":{"code":"#), "\(answer.prefix(300))")
        }
        #expect(try daemon.client.health().status == "ok")
    }

    @Test func aBareCarriageReturnIsAnswered() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "127.0.0.1:0"])
        let request = "GET /healthz HTTP/1.1\rHost: localhost\r\r"
        Self.expectRefused(try Self.exchange(daemon, Array(request.utf8)), named: "CR", "bare CR")
        #expect(try daemon.client.health().status == "ok")
    }
}
