import ResmonAPI
import Server
import Storage
import Testing

/// docs/API.md, "Numbers and times from a client" and "Regular expressions": a number out of
/// range or a refused pattern is 400 naming the field, and a write the state database refuses is
/// 507 `storage` with nothing changed.
@Suite struct RefusedInputTests {
    static let spec = #"{"target": "memory:host:used_bytes", "condition": "above", "value": 1}"#

    @Test(arguments: [
        ("start", "9223372036854775807"), ("start", "nan"), ("start", "-inf"), ("start", "1e300"),
        ("end", "253402300800"), ("end", "-9223372036854775808"), ("end", "inf")
    ])
    func aHistoryTimeOutOfRangeIs400NamingIt(field: String, value: String) throws {
        let rig = try RouterRig()
        let answer = rig.send("GET", "/v1/history/memory:host:used_bytes", query: [(field, value)])
        #expect(answer.isError(400, .badRequest), "\(field)=\(value): \(answer)")
        #expect(answer.error?.message.hasPrefix("\(field): expected") == true, "\(field)=\(value): \(answer)")
        #expect(answer.error?.message.contains(value) == true, "says what was sent: \(answer)")
    }

    @Test func aHistoryInRangeIsServed() throws {
        let rig = try RouterRig()
        let answer = rig.send("GET", "/v1/history/memory:host:used_bytes", query: [("start", "1800000000"), ("end", "1800000030")])
        #expect(answer.status == 200, "\(answer)")
        let body = try answer.decode(HistoryResponse.self)
        #expect(body.key == "memory:host:used_bytes" && body.rows.contains { $0.v != nil }, "\(answer)")
        let resolution = rig.send("GET", "/v1/history/memory:host:used_bytes", query: [("resolution", "0")])
        #expect(resolution.isError(400, .badRequest) && resolution.error?.message.hasPrefix("resolution:") == true, "\(resolution)")
    }

    @Test(arguments: [
        ("since", "99999999999999"), ("since", "nan"), ("until", "-9223372036854775807"), ("until", "1e400")
    ])
    func aBacktestTimeOutOfRangeIs400NamingIt(field: String, value: String) throws {
        let rig = try RouterRig()
        let answer = rig.send("POST", "/v1/monitors/test", body: #"{"spec": \#(Self.spec), "\#(field)": "\#(value)"}"#)
        #expect(answer.isError(400, .badRequest), "\(field)=\(value): \(answer)")
        #expect(answer.error?.message.hasPrefix("\(field):") == true, "\(field)=\(value): \(answer)")
    }

    @Test func eventQueryNumbersOutOfRangeAre400NamingThem() throws {
        let rig = try RouterRig()
        for (field, value) in [("limit", "0"), ("limit", "10001"), ("after", "-1"), ("after", "9223372036854775808"), ("since", "1e300")] {
            let answer = rig.send("GET", "/v1/events", query: [(field, value)])
            #expect(answer.isError(400, .badRequest) && answer.error?.message.hasPrefix("\(field):") == true, "\(field)=\(value): \(answer)")
        }
    }

    /// Patterns RE2 refuses, or would refuse for their cost, each with the reason docs/API.md gives.
    @Test(arguments: [
        (#"(a)\1"#, "invalid escape sequence"),
        ("(?=a)", "invalid perl operator"),
        ("a{1001}", "invalid repetition size"),
        (String(repeating: "a", count: 1025), "longer than 1024 bytes"),
        ("(", "missing )")
    ])
    func aRefusedRegularExpressionIs400InvalidRegex(pattern: String, reason: String) throws {
        let rig = try RouterRig()
        let match = rig.send("GET", "/v1/statistics", query: [("match", pattern)])
        #expect(match.isError(400, .invalidRegex), "match \(pattern): \(match)")
        #expect(match.error?.message.contains("match: invalid regular expression") == true, "\(match)")
        #expect(match.error?.message.contains(reason) == true, "\(match)")
        let label = rig.send("GET", "/v1/statistics", query: [("where", "device~" + pattern)])
        #expect(label.isError(400, .invalidRegex), "where \(pattern): \(label)")
        #expect(label.error?.message.contains("device~: invalid regular expression") == true, "\(label)")
        let selection =
            #"{"target": {"select": "\#(pattern.replacingOccurrences(of: "\\", with: "\\\\"))", "aggregate": "sum"}, "condition": "above", "value": 1}"#
        let created = rig.send("POST", "/v1/monitors", body: selection)
        #expect(created.isError(400, .badRequest) && created.error?.message.contains("invalid regular expression") == true, "\(created)")
        let events = rig.send("GET", "/v1/events", query: [("filter", "message ~ \"\(pattern.replacingOccurrences(of: "\\", with: "\\\\"))\"")])
        #expect(events.isError(400, .badRequest) && events.error?.message.contains("invalid regular expression") == true, "\(events)")
    }

    @Test func aValidSelectionIsServed() throws {
        let rig = try RouterRig()
        let answer = rig.send("GET", "/v1/statistics", query: [("match", #"^net:[^:]+:receive_bytes_total$"#), ("where", "device!~^lo$")])
        #expect(answer.status == 200, "\(answer)")
        #expect(try answer.decode(StatisticList.self).statistics.map(\.key) == ["net:eth0:receive_bytes_total"])
        let condition = rig.send("GET", "/v1/statistics", query: [("where", "device")])
        #expect(condition.isError(400, .badRequest), "a condition with no operator is not a regex problem: \(condition)")
    }

    /// A write the state database refuses (here a trigger on resmond's own connection, as a full
    /// disk would) is 507 `storage`, and the monitor is not kept in memory either.
    @Test func aMonitorWriteTheDatabaseRefusesIs507Storage() throws {
        let rig = try RouterRig()
        let created = rig.send("POST", "/v1/monitors", body: #"{"id": "kept", "target": "memory:host:used_bytes", "condition": "above", "value": 1}"#)
        try #require(created.status == 201, "\(created)")
        try rig.database.withDatabase { database in
            _ = try database.execute("CREATE TEMP TRIGGER refuse BEFORE INSERT ON monitors BEGIN SELECT RAISE(ABORT, 'disk full'); END")
            _ = try database.execute("CREATE TEMP TRIGGER refuseState BEFORE INSERT ON monitor_state BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        }
        let refused = rig.send("POST", "/v1/monitors", body: #"{"id": "lost", "target": "memory:host:used_bytes", "condition": "above", "value": 2}"#)
        #expect(refused.isError(507, .storage), "\(refused)")
        #expect(refused.error?.message.contains("disk full") == true, "\(refused)")
        #expect(rig.engine.monitor("lost") == nil, "memory never runs ahead of the database")
        let stopped = rig.send("POST", "/v1/monitors/kept/stop")
        #expect(stopped.isError(507, .storage), "\(stopped)")
        #expect(rig.engine.monitor("kept")?.state.running == true)
    }
}
