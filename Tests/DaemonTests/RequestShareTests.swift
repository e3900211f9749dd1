import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

/// Issue 22, fourth attack: what one requester's requests hold must not refuse root's.
@Suite struct RequestShareTests {
    /// A filter of sixteen distinct patterns (a request's most), percent-encoded for a query.
    static func filter(_ tag: String) -> String {
        let text = (0..<16).map { #"message ~ "\#(tag)_\#($0)[a-z]+x""# }.joined(separator: " || ")
        return text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }

    /// Eight event streams over TCP without the token, each holding sixteen patterns, held all
    /// that requests' patterns may reserve: root's `GET /v1/statistics?match=` and filtered
    /// `/v1/events` got 503 for as long as the streams stayed open.
    @Test func streamsWithFiltersOverTCPDoNotRefuseRootsQueries() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "127.0.0.1:0", "--step", "1"])
        let (_, port) = try HTTPHardeningTests.tcpPort(daemon)
        let streams = try (0..<8).map { try RawTCPStream(port: port, query: "heartbeat=1&filter=\(Self.filter("s\($0)"))") }
        defer { _ = streams.count }
        // Each stream has answered: 200, or the address's own share refused (429).
        #expect(
            daemon.eventually(timeout: 60) {
                streams.allSatisfy { stream in
                    stream.drain()
                    return stream.text.hasPrefix("HTTP/1.1 200") || stream.text.hasPrefix("HTTP/1.1 429")
                }
            })
        let answered = streams.map { String($0.text.prefix(12)) }
        print("streams: \(answered)")
        #expect(answered.contains("HTTP/1.1 200"))
        let statistics = try daemon.client.send("GET", "/v1/statistics?match=cpu%5Ba-z%5D")
        #expect(statistics.status == 200, "\(String(decoding: statistics.body, as: UTF8.self).prefix(400))")
        let events = try daemon.client.send("GET", "/v1/events?filter=\(Self.filter("root"))")
        #expect(events.status == 200, "\(String(decoding: events.body, as: UTF8.self).prefix(400))")
        // The address's own share refused its last streams.
        let refused = try #require(streams.first { $0.text.hasPrefix("HTTP/1.1 429") })
        #expect(refused.text.contains("TCP address 127.0.0.1's requests"), "\(refused.text.prefix(600))")
        try daemon.waitForHealth()
    }
}
