import Foundation
import ResmonAPI
import Statistics
import Testing

/// `GET /v1/statistics`' `fields` (what a dashboard reads each step) and the selections it
/// remembers between identical queries: a remembered selection must follow every change of the
/// table (a statistic coming, going, or changing its labels).
@Suite struct StatisticListingTests {
    /// Each listed statistic's member names.
    private func list(_ answer: Answer) throws -> [[String: Any]] {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(answer.text.utf8)) as? [String: Any], "\(answer)")
        return try #require(object["statistics"] as? [[String: Any]], "\(answer)")
    }

    private func members(_ answer: Answer) throws -> [[String]] { try list(answer).map { $0.keys.sorted() } }

    private func keys(_ answer: Answer) throws -> [String] { try list(answer).map { $0["key"] as? String ?? "?" } }

    @Test func fieldsWriteOnlyTheMembersNamedAndAlwaysTheKey() throws {
        let rig = try RouterRig()
        let brief = rig.send("GET", "/v1/statistics", query: [("fields", "time,value"), ("match", "^net:")])
        #expect(brief.status == 200, "\(brief)")
        #expect(try members(brief) == [["key", "time", "value"], ["key", "time", "value"]])
        let full = rig.send("GET", "/v1/statistics", query: [("match", "^net:")])
        let fullMembers = try members(full)
        #expect(fullMembers.count == 2)
        #expect(fullMembers.first?.contains("help") == true && fullMembers.first?.contains("labels") == true)
        // Every member can be asked for by name, and the values are the full listing's.
        let every = StatisticFields.named.map(\.name).joined(separator: ",")
        #expect(rig.send("GET", "/v1/statistics", query: [("fields", every), ("match", "^net:")]).text == full.text)
    }

    @Test(arguments: ["bogus", "key,", "", "key,Value", "key;time"])
    func anUnknownFieldIsABadRequestNamingIt(_ fields: String) throws {
        let rig = try RouterRig()
        let answer = rig.send("GET", "/v1/statistics", query: [("fields", fields)])
        #expect(answer.isError(400, .badRequest), "\(answer)")
        #expect(answer.error?.message.contains("is not a member of a statistic") == true, "\(answer)")
    }

    @Test func aRememberedSelectionFollowsStatisticsComingAndGoing() throws {
        let rig = try RouterRig()
        let query = [("match", "^app:"), ("fields", "value")]
        // Asked twice, so the second answer comes from the remembered (empty) selection.
        #expect(try keys(rig.send("GET", "/v1/statistics", query: query)) == [])
        #expect(try keys(rig.send("GET", "/v1/statistics", query: query)) == [])
        #expect(rig.send("PUT", "/v1/statistics/app:web:b", body: #"{"value": 2}"#).status == 200)
        #expect(rig.send("PUT", "/v1/statistics/app:web:a", body: #"{"value": 1}"#).status == 200)
        #expect(try keys(rig.send("GET", "/v1/statistics", query: query)) == ["app:web:a", "app:web:b"])
        #expect(try keys(rig.send("GET", "/v1/statistics", query: query)) == ["app:web:a", "app:web:b"])
        #expect(rig.send("DELETE", "/v1/statistics/app:web:a").status == 204)
        #expect(try keys(rig.send("GET", "/v1/statistics", query: query)) == ["app:web:b"])
        // The value is read at each request, not remembered with the selection.
        #expect(rig.send("PUT", "/v1/statistics/app:web:b", body: #"{"value": 7}"#).status == 200)
        let listed = try list(rig.send("GET", "/v1/statistics", query: query))
        #expect(listed.first?["value"] as? Double == 7)
    }

    @Test func aRememberedSelectionFollowsLabelChanges() throws {
        let rig = try RouterRig()
        let query = [("where", "device=eth1")]
        #expect(try keys(rig.send("GET", "/v1/statistics", query: query)) == [])
        #expect(try keys(rig.send("GET", "/v1/statistics", query: query)) == [])
        _ = rig.table.register(
            StatisticDescriptor(
                key: StatisticKey(parsing: "net:eth0:receive_bytes_total")!, kind: .counter, unit: "bytes",
                labels: ["device": "eth1"], help: "Bytes received."))
        #expect(try keys(rig.send("GET", "/v1/statistics", query: query)) == ["net:eth0:receive_bytes_total"])
    }

    @Test func queriesThatDifferOnlyInHowTheyAreSplitAreNotConfused() throws {
        let rig = try RouterRig()
        let all = try keys(rig.send("GET", "/v1/statistics"))
        #expect(all.count == 3)
        #expect(try keys(rig.send("GET", "/v1/statistics", query: [("match", "")])) == all)
        #expect(try keys(rig.send("GET", "/v1/statistics", query: [("match", "eth0")])) == ["net:eth0:receive_bytes_total"])
        #expect(try keys(rig.send("GET", "/v1/statistics", query: [("where", "device=lo")])) == ["net:lo:receive_bytes_total"])
        #expect(
            try keys(rig.send("GET", "/v1/statistics", query: [("match", "net"), ("where", "device=lo")]))
                == ["net:lo:receive_bytes_total"])
        #expect(
            try keys(rig.send("GET", "/v1/statistics", query: [("match", "net"), ("where", "device=eth0")]))
                == ["net:eth0:receive_bytes_total"])
        // A bad pattern is refused every time, not remembered.
        for _ in 0..<2 {
            #expect(rig.send("GET", "/v1/statistics", query: [("match", "(")]).isError(400, .invalidRegex))
        }
    }
}
