import Foundation
import ResmonClient
import ResmonTestSupport
import Testing

/// Requests whose framing or target cannot be trusted (issue 22, second attack): each is answered
/// 400 with the API's JSON error, never served as something else, and the daemon keeps answering.
@Suite struct RequestFramingTests {
    /// The status line's code and the body of an answer read by `rawExchange`.
    static func status(_ answer: String) -> String {
        answer.split(separator: "\r\n").first.map { String($0.split(separator: " ").dropFirst().first ?? "") } ?? ""
    }

    /// RFC 9112 §6.1 and §6.3: a request with both Transfer-Encoding and Content-Length, or a
    /// transfer coding that does not end in chunked, or two differing lengths, has no reliable
    /// length; one server reading it one way and another the other way is request smuggling.
    @Test func ambiguousFramingIsRefusedAndTheConnectionClosed() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "127.0.0.1:0"])
        let (_, port) = try HTTPHardeningTests.tcpPort(daemon)
        let smuggled = "GET /v1/statistics/app:smuggled:x HTTP/1.1\r\nHost: x\r\n\r\n"
        let body = "0\r\n\r\n" + smuggled
        let requests: [(String, String)] = [
            ("Transfer-Encoding: chunked\r\nContent-Length: \(body.utf8.count)\r\n", "TE and CL"),
            ("Content-Length: \(body.utf8.count)\r\nTransfer-Encoding: chunked\r\n", "CL and TE"),
            ("Content-Length: 5\r\nTransfer-Encoding: CHUNKED\r\n", "CL and TE in capitals"),
            ("Transfer-Encoding: gzip\r\n", "a coding that is not chunked"),
            ("Transfer-Encoding: chunked, gzip\r\n", "chunked not last"),
            ("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "TE twice"),
            ("Content-Length: 5\r\nContent-Length: \(body.utf8.count)\r\n", "two lengths")
        ]
        for (headers, label) in requests {
            let request = "PUT /v1/statistics/app:framed:x HTTP/1.1\r\nHost: x\r\n\(headers)\r\n\(body)"
            for answer in [
                try rawExchange(Array(request.utf8), unixPath: daemon.socket), try rawExchange(Array(request.utf8), port: port)
            ] {
                // One answer, then the connection closed: the bytes after it are never a second request.
                #expect(Self.status(answer) == "400", "\(label): \(answer.prefix(300))")
                let named = answer.contains("Transfer-Encoding") || answer.contains("Content-Length")
                #expect(answer.contains(#""code":"bad_request""#) && named, "\(label): \(answer.prefix(300))")
                #expect(answer.components(separatedBy: "HTTP/1.1 ").count == 2, "\(label): \(answer.prefix(600))")
            }
        }
        #expect(throws: ClientError.self) { try daemon.client.statistic("app:framed:x") }
        // Chunked alone and Content-Length alone are served (writes go over the Unix socket).
        let chunk = #"{"value": 1}"#
        let chunked =
            "PUT /v1/statistics/app:framed:x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            + String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n0\r\n\r\n"
        #expect(try rawExchange(Array(chunked.utf8), unixPath: daemon.socket).hasPrefix("HTTP/1.1 2"))
        let sized = "PUT /v1/statistics/app:framed:y HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nConnection: close\r\n\r\n" + chunk
        #expect(try rawExchange(Array(sized.utf8), unixPath: daemon.socket).hasPrefix("HTTP/1.1 2"))
        #expect(try daemon.client.health().status == "ok")
    }
}
