import Events
import ResmonAPI
import Testing

@Suite struct EventFilterTests {
    let now = 1_800_000_000.0

    func event(
        _ type: String = "above", severity: String = "warning", monitor: String = "disk-full", value: Double = 95,
        message: String = "fs:/:used_ratio is 0.95 on sda", time: Double = 1_800_000_000 - 60,
        labels: [String: String] = ["team": "ops"]
    ) -> EventRecord {
        EventRecord(
            id: 7, time: time, code: type == "canceled" ? 500 : 501, type: EventType(rawValue: type), severity: Severity(rawValue: severity),
            monitorId: monitor, monitorName: "Disk full", key: "fs:/:used_ratio", value: value, threshold: 90,
            host: "vm", message: message, cancels: nil, labels: labels, annotations: ["runbook": "http://wiki/disk"])
    }

    func matches(_ filter: String, _ event: EventRecord) throws -> Bool {
        try EventFilter(filter, now: now).matches(event)
    }

    @Test func theDesignExample() throws {
        let filter = #"severity >= warning && monitor ~ "disk" && message contains "sda""#
        #expect(try matches(filter, event()))
        #expect(try !matches(filter, event(severity: "notice")))
        #expect(try !matches(filter, event(monitor: "cpu-busy")))  // ~ is case-sensitive: neither "cpu-busy" nor "Disk full"
        #expect(try !matches(filter, event(message: "on sdb")))
    }

    @Test func operatorsFieldsAndPrecedence() throws {
        let base = event()
        #expect(try matches("value > 90 && value <= 95", base))
        #expect(try matches("code = 501", base))
        #expect(try matches("type != canceled", base))
        #expect(try matches(#"key = "fs:/:used_ratio""#, base))
        #expect(try matches("severity = warning", base))
        #expect(try matches("severity < err", base))
        #expect(try matches(#"labels.team = "ops""#, base))
        #expect(try matches(#"annotations.runbook contains "wiki""#, base))
        #expect(try matches("!(type = canceled) || value < 0", base))
        #expect(try matches(String(repeating: "(", count: 60) + "type = above" + String(repeating: ")", count: 60), base))
        #expect(try matches("type = canceled || type = above && value > 90", base))  // && binds tighter
        #expect(try !matches("(type = canceled || type = above) && value > 99", base))
        #expect(try matches("time >= -2m", base))
        #expect(try !matches("time >= -30s", base))
        #expect(try matches(#"time < "2030-01-01T00:00:00Z""#, base))
        #expect(try matches("time > 2026-01-01T00:00:00+02:00", base))
    }

    @Test(arguments: [
        ("", 0, "expected a field, found the end"),
        ("colour = red", 0, "unknown field \"colour\""),
        ("value", 5, "expected an operator"),
        ("value >", 7, "expected a value, found the end"),
        ("severity >= loud", 12, "expected a severity (\(Severity.knownList)), found \"loud\""),
        ("(value > 1", 10, "expected ) to close the parenthesis"),
        (#"message = "open"#, 10, "unterminated string"),
        (#"monitor ~ "(""#, 10, "invalid regular expression"),
        ("value > 1 value < 2", 10, "expected && or || or the end"),
        ("time > yesterday", 7, "expected a time"),
        (String(repeating: "(", count: 20_000), 64, "nested deeper than 64 levels"),
        (String(repeating: "!", count: 20_000) + "type = at", 64, "nested deeper than 64 levels")
    ])
    func errorsNameThePositionAndWhatWasExpected(_ text: String, _ position: Int, _ message: String) {
        do {
            _ = try EventFilter(text, now: now)
            Issue.record("\"\(text)\" parsed")
        } catch {
            #expect(error.position == position, "\(error)")
            #expect(error.message.contains(message), "\(error)")
            #expect(error.description.hasPrefix("filter: at position \(position + 1): "))
        }
    }

    @Test func times() {
        #expect(EventFilter.time("-1h", now: now) == now - 3600)
        #expect(EventFilter.time("1700000000", now: now) == 1_700_000_000)
        #expect(EventFilter.time("2023-11-14T22:13:20Z", now: now) == 1_700_000_000)
        #expect(EventFilter.time("2023-11-14T23:13:20.5+01:00", now: now) == 1_700_000_000.5)
        #expect(EventFilter.time("noon", now: now) == nil)
    }
}
