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
        let smuggled = "GET /v1/statistics/app:smuggled:x HTTP/1.1\r\nHost: localhost\r\n\r\n"
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
            let request = "PUT /v1/statistics/app:framed:x HTTP/1.1\r\nHost: localhost\r\n\(headers)\r\n\(body)"
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
            "PUT /v1/statistics/app:framed:x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            + String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n0\r\n\r\n"
        #expect(try rawExchange(Array(chunked.utf8), unixPath: daemon.socket).hasPrefix("HTTP/1.1 2"))
        let sized = "PUT /v1/statistics/app:framed:y HTTP/1.1\r\nHost: localhost\r\nContent-Length: 12\r\nConnection: close\r\n\r\n" + chunk
        #expect(try rawExchange(Array(sized.utf8), unixPath: daemon.socket).hasPrefix("HTTP/1.1 2"))
        #expect(try daemon.client.health().status == "ok")
    }

    /// Percent-decoded bytes that are not UTF-8 (an overlong NUL, a lone continuation byte, a
    /// surrogate, past U+10FFFF, a sequence cut short) were served as U+FFFD: a key or id that is
    /// not the one sent. Each is refused 400 naming the offset, in a path or a query; valid UTF-8
    /// still reaches the route.
    @Test func invalidUTF8InAPathOrQueryIsRefused() throws {
        let daemon = try DaemonHarness()
        for (target, offset) in Self.invalidUTF8 {
            let answer = try daemon.client.send("GET", target)
            let text = String(decoding: answer.body, as: UTF8.self)
            #expect(
                answer.status == 400 && text.contains("UTF-8") && text.contains("offset \(offset) "), "\(target): \(answer.status) \(text)")
            let bad = target[try #require(target.firstIndex(of: "%"))...]
            let query = try daemon.client.send("GET", "/v1/events?filter=x" + bad)
            let queryText = String(decoding: query.body, as: UTF8.self)
            #expect(query.status == 400 && queryText.contains("UTF-8"), "query \(target): \(query.status) \(queryText)")
        }
        let key = "/v1/statistics/app:%C3%A9t%C3%A9%E2%82%AC%F0%9F%98%80:v"
        let pushed = try daemon.client.send("PUT", key, body: Array(#"{"value": 1}"#.utf8))
        #expect(pushed.status / 100 == 2, "\(String(decoding: pushed.body, as: UTF8.self))")
        let read = try daemon.client.send("GET", key)
        #expect(read.status == 200 && String(decoding: read.body, as: UTF8.self).contains("été"))
        let filtered = try daemon.client.send("GET", "/v1/events?filter=message%20~%20%22%C3%A9%22")
        #expect(filtered.status == 200, "\(String(decoding: filtered.body, as: UTF8.self))")
        #expect(try daemon.client.health().status == "ok")
    }

    /// Targets whose percent-decoded path is not UTF-8, with the offset of the first bad sequence.
    static let invalidUTF8: [(String, Int)] = [
        ("/v1/statistics/app:x:%C0%80", 21), ("/v1/monitors/a%80b", 14), ("/v1/statistics/app:x:%ED%A0%80", 21),
        ("/v1/history/app:x:%F4%90%80%80", 18), ("/v1/statistics/app:x:%E2%82", 21), ("/healthz%FF", 8),
        ("/v1/statistics/app:x:%EF%BF%BD%C1%BF", 30)
    ]

    /// 499 query parameters or more took libmicrohttpd's per-connection memory while it parsed the
    /// request line, and it closed the connection without an answer. Every size now gets a 4xx: the
    /// API's JSON 400 up to what the connection's memory holds, libmicrohttpd's own 414 or 431
    /// past it; the daemon keeps answering.
    @Test func oversizeTargetsAndHeaderBlocksAreAnswered() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "127.0.0.1:0"])
        let (_, port) = try HTTPHardeningTests.tcpPort(daemon)
        func exchange(_ target: String, headers: String = "") throws -> [String] {
            let request = "GET \(target) HTTP/1.1\r\nHost: localhost\r\n\(headers)Connection: close\r\n\r\n"
            return [try rawExchange(Array(request.utf8), unixPath: daemon.socket), try rawExchange(Array(request.utf8), port: port)]
        }
        for count in [1, 64, 100, 101, 400, 498, 499, 500, 600, 2000, 3000, 4000, 4500] {
            let query = (0..<count).map { "a\($0)=1" }.joined(separator: "&")
            for answer in try exchange("/v1/events?" + query) {
                // 4500 take some 35 KB, too near the connection's 36 KiB: the target is refused whole.
                let (status, expected) =
                    count >= 4500
                    ? ("431", #""code":"request_too_large""#)
                    : ("400", count > 100 ? "\(count) parameters; at most 100" : #"unknown query parameter \"a0\""#)
                #expect(Self.status(answer) == status && answer.contains(expected), "\(count) parameters: \(answer.prefix(300))")
            }
        }
        // A value that fills the target, a header block that fills the connection's memory: the
        // API's JSON while they fit with room for the answer, a JSON 431 near the edge (where
        // libmicrohttpd closed without an answer: 32,360 to 32,480 bytes of its 32 KiB then, now 36
        // KiB), its own 414 or 431 past it.
        func expectAnswered(_ answers: [String], _ label: String) {
            for answer in answers {
                let status = Self.status(answer)
                let json = ["200", "400", "431"].contains(status) && answer.contains("\r\n\r\n{")
                #expect(json || ["414", "431"].contains(status), "\(label): \(answer.prefix(300))")
                if status == "431" && json { #expect(answer.contains(#""code":"request_too_large""#), "\(label)") }
            }
        }
        for length in [
            16_000, 29_000, 30_000, 30_500, 31_000, 31_500, 32_000, 32_360, 32_400, 32_440, 32_480, 32_600, 33_000, 36_400, 36_500, 36_600, 36_700, 37_000,
            100_000
        ] {
            expectAnswered(try exchange("/v1/events?filter=" + String(repeating: "x", count: length)), "a \(length)-byte value")
            expectAnswered(try exchange("/v1/status", headers: "X-Long: " + String(repeating: "x", count: length) + "\r\n"), "a \(length)-byte header")
        }
        for count in [100, 400, 450, 480, 500, 600, 2000] {
            expectAnswered(try exchange("/v1/status", headers: (0..<count).map { "X-\($0): 1\r\n" }.joined()), "\(count) headers")
        }
        for count in [1000, 2000, 3000, 5000] {
            let cookie = "Cookie: " + (0..<count).map { "c\($0)=1" }.joined(separator: "; ") + "\r\n"
            expectAnswered(try exchange("/v1/status", headers: cookie), "\(count) cookies")
        }
        #expect(try daemon.client.health().status == "ok")
    }
}
