import Foundation
import ResmonClient
import ResmonTestSupport
import Testing

/// Issue 22 re-attack, item 3: 150 costly patterns joined by `||` in one event filter took
/// ~100 s over 10,000 events, and 250 `where` patterns 4 s per statistics query. Each is
/// linear, but their number was not bounded: one request now brings at most 16 patterns.
@Suite struct RequestBoundsTests {
    /// Costly to search (RE2's automaton tracks 200 positions) yet within an ordinary pattern's
    /// memory, so that sixteen fit the requests' share of the regular-expression budget.
    static let costly = #".{1,200}zN"#

    @Test func aRequestWithTooManyPatternsIsRefusedAndSixteenAreServed() throws {
        let daemon = try DaemonHarness()
        let terms = Array(repeating: #"message ~ "\#(Self.costly)""#, count: 17)
        for path in ["/v1/events", "/v1/events/stream"] {
            let refused = try daemon.client.send("GET", path, query: [("filter", terms.joined(separator: " || "))])
            let text = String(decoding: refused.body, as: UTF8.self)
            #expect(refused.status == 400 && text.contains("17 regular expressions in one request; at most 16"), "\(path): \(text)")
        }
        let served = try daemon.client.send("GET", "/v1/events", query: [("filter", terms.dropLast().joined(separator: " || "))])
        #expect(served.status == 200, "\(String(decoding: served.body, as: UTF8.self))")

        let conditions = (0..<17).map { ("where", "statistic~\($0)" + #".{1,200}zN"#) }
        let statistics = try daemon.client.send("GET", "/v1/statistics", query: conditions)
        let statisticsText = String(decoding: statistics.body, as: UTF8.self)
        #expect(
            statistics.status == 400 && statisticsText.contains("bad_request") && statisticsText.contains("at most 16"), "\(statisticsText)")
        let withMatch = try daemon.client.send("GET", "/v1/statistics", query: [("match", "^cpu:")] + conditions.dropLast())
        #expect(withMatch.status == 400, "the key pattern counts too")
        let fine = try daemon.client.send("GET", "/v1/statistics", query: Array(conditions.dropLast(2)) + [("match", "^cpu:")])
        #expect(fine.status == 200, "\(String(decoding: fine.body, as: UTF8.self))")

        let long = String(repeating: "a", count: 1000)
        let bytes = (0..<5).map { ("where", "statistic~\($0)" + long) }
        let tooLong = try daemon.client.send("GET", "/v1/statistics", query: bytes)
        #expect(tooLong.status == 400 && String(decoding: tooLong.body, as: UTF8.self).contains("at most 4096"))
        try daemon.waitForHealth()
    }
}

extension RequestBoundsTests {
    /// Sixteen costly patterns over 10,000 statistics with 200-byte resources: the query stops
    /// at its CPU budget with a 503 that says to narrow it, or answers; it never runs on.
    @Test func aCostlyStatisticsQueryIsCutAtItsBudget() throws {
        let daemon = try DaemonHarness()
        let resource = String(repeating: "r", count: 190)
        for index in 0..<10_000 { _ = try daemon.client.push("app:\(resource)\(index):v", value: 1) }
        // ~600 µs a search of a 200-byte resource (measured with RE2 at an ordinary pattern's
        // budget); the digit goes last, where RE2 cannot skip ahead to it.
        let costly = #"(.{1,100}){2}zN"#
        // Each `!~` holds (nothing matches), so every statistic meets all sixteen patterns.
        let query = [("match", "^app:")] + (0..<15).map { ("where", "resource!~" + costly + "\($0)") }
        let patient = ResmonClient(socketPath: daemon.socket, timeoutMilliseconds: 300_000)
        let started = Date()
        let answer = try patient.send("GET", "/v1/statistics", query: query)
        let text = String(decoding: answer.body, as: UTF8.self)
        print("16 costly patterns over the table: \(answer.status) after \(Date().timeIntervalSince(started)) s")
        #expect(answer.status == 503 && text.contains("too costly") && text.contains("narrow"), "\(answer.status): \(text.prefix(300))")
        try daemon.waitForHealth()
    }
}
