import ResmonAPI
import Server
import Testing

/// The re-attack's numeric and parsing leftovers (issue 22, item 6): each is 400 naming the field.
@Suite struct LeftoverInputTests {
    static let key = "/v1/history/memory:host:used_bytes"

    @Test(arguments: [
        ("start", "99999999999999999999999"), ("cf", "bogus"), ("resolution", "nan"), ("end", "1")
    ])
    func theRRDToolDumpRefusesQueryParameters(field: String, value: String) throws {
        let rig = try RouterRig()
        let answer = rig.send("GET", Self.key + "/rrdtool.xml", query: [(field, value)])
        #expect(answer.isError(400, .badRequest) && answer.error?.message.contains(field) == true, "\(answer)")
        #expect(rig.send("GET", Self.key + "/rrdtool.xml").status == 200)
    }

    @Test func minusZeroIsNow() throws {
        let rig = try RouterRig()
        let now = rig.send("GET", Self.key, query: [("end", "-0")])
        #expect(now.status == 200, "\(now)")
        let body = try now.decode(HistoryResponse.self)
        #expect(body.start > 1_700_000_000 && body.end > body.start, "end=-0 is now, not the epoch: \(now.text.prefix(120))")
        let epoch = rig.send("GET", Self.key, query: [("end", "0")])
        #expect(epoch.isError(400, .badRequest), "no history before the epoch: \(epoch)")
    }

    @Test(arguments: [
        "2026-13-45T99:99:99Z", "2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z",
        "2026-01-01T00:00:61Z", "2026-01-01T00:00:00+25:00", "2026-01-01T00:00:00Zjunk", "2026-01-01T00:00:00*01:00",
        "2026-+1-01T00:00:00Z"
    ])
    func anImpossibleDateIsRefused(text: String) throws {
        let rig = try RouterRig()
        let answer = rig.send("GET", "/v1/events", query: [("since", text)])
        #expect(answer.isError(400, .badRequest) && answer.error?.message.hasPrefix("since:") == true, "\(text): \(answer)")
        let backtest = rig.send(
            "POST", "/v1/monitors/test", body: #"{"spec": \#(RefusedInputTests.spec), "since": "\#(text)"}"#)
        #expect(backtest.isError(400, .badRequest), "\(text): \(backtest)")
    }

    @Test func realDatesAreServed() throws {
        let rig = try RouterRig()
        for text in ["2024-02-29T12:00:00Z", "2026-11-30T23:59:59.5+01:00", "2026-12-31T23:59:60Z"] {
            #expect(rig.send("GET", "/v1/events", query: [("since", text)]).status == 200, "\(text)")
        }
    }

    @Test(arguments: [
        ("loggingRate", "9.3e18"), ("loggingRate", "31622401"), ("monitoringInterval", "1e300"),
        ("monitoringInterval", "31622401")
    ])
    func durationsAreBoundedToAYear(field: String, value: String) throws {
        let rig = try RouterRig()
        let spec = #"{"target": "memory:host:used_bytes", "condition": "above", "value": 1, "\#(field)": \#(value)}"#
        let answer = rig.send("POST", "/v1/monitors", body: spec)
        #expect(answer.isError(400, .badRequest) && answer.error?.message.contains(field) == true, "\(answer)")
        #expect(answer.error?.message.contains("31622400") == true, "says the range: \(answer)")
        let year = #"{"target": "memory:host:used_bytes", "condition": "above", "value": 1, "\#(field)": 31622400}"#
        #expect(rig.send("POST", "/v1/monitors", body: year).status == 201)
    }

    @Test(arguments: [
        ("help", #""\u001b[31mred""#), ("unit", #""\u001b]0;title\u0007""#), ("help", #""a\nb""#),
        ("unit", #""\u009b31m""#), ("unit", "\"" + String(repeating: "u", count: 65) + "\"")
    ])
    func controlCharactersInAPushedStatisticsTextAreRefused(field: String, json: String) throws {
        let rig = try RouterRig()
        let answer = rig.send("PUT", "/v1/statistics/app:x:y", body: #"{"value": 1, "\#(field)": \#(json)}"#)
        #expect(answer.isError(400, .badRequest) && answer.error?.message.hasPrefix(field) == true, "\(answer)")
        #expect(rig.send("GET", "/v1/statistics/app:x:y").status == 404)
    }

    @Test func aPushedStatisticsNameIsBoundedAsItsResourceIs() throws {
        let rig = try RouterRig()
        let long = "app:x:" + String(repeating: "s", count: 201)
        let answer = rig.send("PUT", "/v1/statistics/" + long, body: #"{"value": 1}"#)
        #expect(answer.isError(400, .badRequest) && answer.error?.message.contains("longer than 200 bytes") == true, "\(answer.status)")
        #expect(rig.send("PUT", "/v1/statistics/app:x:" + String(repeating: "s", count: 200), body: #"{"value": 1}"#).status == 200)
    }

    /// The second attack: `{"value":1,"bogus":2}` answered 200 and `labels` were dropped silently.
    @Test(arguments: ["bogus", "labels", "Value"])
    func aPushWithAnUnknownFieldIsRefusedNamingIt(field: String) throws {
        let rig = try RouterRig()
        let answer = rig.send("PUT", "/v1/statistics/app:x:y", body: #"{"value": 1, "\#(field)": 2}"#)
        #expect(answer.isError(400, .badRequest) && answer.error?.message.contains("\"\(field)\"") == true, "\(answer)")
        #expect(rig.send("GET", "/v1/statistics/app:x:y").status == 404)
    }
}
