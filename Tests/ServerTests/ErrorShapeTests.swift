import ResmonAPI
import Server
import Testing

/// docs/API.md, "Errors": every refusal is `{"error": {"code", "message"}}` with its status, and
/// the message says what was wrong. Driven through `APIRouter.handle`, as libmicrohttpd's threads
/// call it.
@Suite struct ErrorShapeTests {
    @Test func anUnknownPathIsNotFound() throws {
        let rig = try RouterRig()
        // `/` is the dashboard (DashboardRouteTests).
        for path in ["/v1", "/v2/status", "/v1/statuses", "/v1/monitors/x/y/z", "/dashboard", "/index.html"] {
            let answer = rig.send("GET", path)
            #expect(answer.isError(404, .notFound), "\(path): \(answer)")
            #expect(answer.error?.message.contains("no such path") == true, "\(path): \(answer)")
        }
    }

    @Test func aKeyThatIsNotAKeyOrNotThereIsSaidSo() throws {
        let rig = try RouterRig()
        let invalid = rig.send("GET", "/v1/statistics/not-a-key")
        #expect(invalid.isError(400, .invalidKey) && invalid.error?.message.contains("\"not-a-key\" is not a statistic key") == true, "\(invalid)")
        let absent = rig.send("GET", "/v1/statistics/cpu:nope:usage_ratio")
        #expect(absent.isError(404, .unknownStatistic), "\(absent)")
        let history = rig.send("GET", "/v1/history/cpu:nope:usage_ratio")
        #expect(history.isError(404, .unknownStatistic), "\(history)")
        let monitor = rig.send("GET", "/v1/monitors/nope")
        #expect(monitor.isError(404, .unknownMonitor), "\(monitor)")
    }

    @Test func aMethodThePathDoesNotTakeIs405WithAllow() throws {
        let rig = try RouterRig()
        let cases: [(method: String, path: String, allow: String)] = [
            ("POST", "/healthz", "GET, HEAD"),
            ("DELETE", "/v1/status", "GET, HEAD"),
            ("PUT", "/v1/statistics/memory:host:used_bytes", "GET, HEAD"),  // only app: keys are pushed
            ("PATCH", "/v1/monitors", "GET, HEAD, POST"),
            ("GET", "/v1/reload", "POST"),
            ("GET", "/v1/monitors/test", "POST")
        ]
        for (method, path, allow) in cases {
            let answer = rig.send(method, path)
            #expect(answer.isError(405, .methodNotAllowed), "\(method) \(path): \(answer)")
            #expect(answer.header("Allow") == allow, "\(method) \(path): \(answer.headers)")
            #expect(answer.error?.message.contains("allowed: \(allow)") == true, "\(method) \(path): \(answer)")
        }
    }

    @Test func anUnknownQueryParameterIsRefusedWithTheAcceptedOnes() throws {
        let rig = try RouterRig()
        let misspelt = rig.send("GET", "/v1/statistics", query: [("mach", "^cpu:")])
        #expect(misspelt.isError(400, .badRequest), "\(misspelt)")
        #expect(misspelt.error?.message == "unknown query parameter \"mach\" (accepted: fields, match, where)", "\(misspelt)")
        let none = rig.send("GET", "/healthz", query: [("verbose", "1")])
        #expect(none.isError(400, .badRequest) && none.error?.message.contains("(accepted: none)") == true, "\(none)")
        let events = rig.send("GET", "/v1/events", query: [("limit", "5"), ("monitorId", "x")])
        #expect(events.isError(400, .badRequest) && events.error?.message.contains("\"monitorId\"") == true, "\(events)")
    }

    @Test func aBodyTooLargeIs413WhateverThePath() throws {
        let rig = try RouterRig()
        for (method, path) in [("PUT", "/v1/statistics/app:x:y"), ("POST", "/v1/monitors"), ("POST", "/no/such/path")] {
            let answer = rig.send(method, path, body: "{}", bodyTooLarge: true)
            #expect(answer.isError(413, .payloadTooLarge), "\(method) \(path): \(answer)")
        }
        #expect(rig.table.sample(forKey: "app:x:y") == nil, "nothing of a refused body is applied")
    }

    /// libmicrohttpd's decoded path ends at a NUL: the router must refuse the target as sent
    /// (`HTTPRequest.problem(inTarget:)`), never serve the path before the byte.
    @Test(arguments: [
        ("/v1/status%00/x", "/v1/status", "control byte 0x00 at offset 10"),
        ("/v1/statistics/app:x:y%00zzz", "/v1/statistics/app:x:y", "control byte 0x00 at offset 22"),
        ("/v1/status%1B", "/v1/status", "control byte 0x1B"),
        ("/v1/status\u{7F}", "/v1/status\u{7F}", "control byte 0x7F"),
        ("/v1/statistics?match=a%00b", "/v1/statistics", "(NUL) at offset 22")
    ])
    func aControlByteInTheTargetIs400NamingIt(target: String, decodedPath: String, named: String) throws {
        let rig = try RouterRig()
        let problem = HTTPRequest.problem(inTarget: Array(target.utf8))
        #expect(problem?.contains(named) == true, "\(target): \(problem ?? "accepted")")
        let query: [(String, String)] = target.contains("?") ? [("match", "a")] : []
        let answer = rig.send(target.contains("app:") ? "PUT" : "GET", decodedPath, query: query, body: #"{"value": 1}"#, malformedTarget: problem)
        #expect(answer.isError(400, .badRequest), "\(target): \(answer)")
        #expect(answer.error?.message.contains(named) == true, "\(target): \(answer)")
        #expect(rig.table.sample(forKey: "app:x:y") == nil, "\(target) pushed the key before the byte")
    }

    @Test func aTargetWithoutControlBytesIsServed() throws {
        #expect(HTTPRequest.problem(inTarget: Array("/v1/statistics?match=%5E%25cpu&where=name~a%09b".utf8)) == nil)
        #expect(HTTPRequest.problem(inTarget: Array("/v1/statistics/app:x:y%41".utf8)) == nil)
    }

    /// Strict JSON on every body the router reads, with the line and column of the mistake.
    @Test(arguments: [
        ("PUT", "/v1/statistics/app:x:y", #"{"value": 1, "value": 2}"#, #"line 1, column 14: the key "value" is given twice"#),
        ("PUT", "/v1/statistics/app:x:y", "{\"value\": 1,\n}", "line 2, column 1: a trailing comma before \"}\""),
        ("PUT", "/v1/statistics/app:x:y", #"{"value": 1, "unit": "a\u0000b"}"#, "line 1, column"),
        ("POST", "/v1/monitors", #"{"target": "memory:host:used_bytes", "condition": "above", "value": 1, "value": 2}"#, "is given twice"),
        ("POST", "/v1/monitors", #"[{"target": "memory:host:used_bytes", "condition": "above", "value": 1},]"#, "a trailing comma before \"]\""),
        ("POST", "/v1/monitors", #"{"target": "load:host:load1", "condition": "above", "value": 5,}"#, "line 1, column 64: a trailing comma before \"}\""),
        (
            "POST", "/v1/monitors/test", #"{"spec": {"target": "memory:host:used_bytes", "condition": "above", "value": 1}, "since": "-1h", "since": "-2h"}"#,
            "is given twice"
        ),
        ("POST", "/v1/monitors/test", #"{"spec": {"target": "memory:host:used_bytes", "condition": "above", "value": 1,}}"#, "a trailing comma")
    ])
    func aBodyThatIsNotStrictJSONIs400WithLineAndColumn(method: String, path: String, body: String, reason: String) throws {
        let rig = try RouterRig()
        let answer = rig.send(method, path, body: body)
        #expect(answer.isError(400, .badRequest), "\(answer)")
        let message = answer.error?.message ?? ""
        #expect(message.hasPrefix("not valid JSON: line ") && message.contains(reason), "\(answer)")
        #expect(rig.table.sample(forKey: "app:x:y") == nil && rig.engine.list().isEmpty, "a refused body changed nothing")
    }

    @Test func aPatchThatIsNotStrictJSONIs400WithLineAndColumn() throws {
        let rig = try RouterRig()
        let created = rig.send("POST", "/v1/monitors", body: #"{"id": "m", "target": "memory:host:used_bytes", "condition": "above", "value": 1}"#)
        try #require(created.status == 201, "\(created)")
        let answer = rig.send("PATCH", "/v1/monitors/m", body: #"{"value": 5, "value": 6}"#)
        #expect(answer.isError(400, .badRequest) && answer.error?.message.contains("line 1, column") == true, "\(answer)")
        #expect(rig.engine.monitor("m")?.spec.value == 1)
    }
}
