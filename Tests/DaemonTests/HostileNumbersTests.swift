import Foundation
import ResmonTestSupport
import Testing

/// Numbers from outside that once trapped resmond (issue 22, D1): each is answered 400 with the
/// field it names, over TCP and the Unix socket, and resmond keeps serving.
@Suite struct HostileNumbersTests {
    static let backtestTimes = ["1e300", "-1e300", "nan", "inf", "-inf", "-1e300d", "1e19", "-9223372036854775808", "9223372036854775807"]

    /// The hostile reads: method, path, body, the field the refusal must name.
    static var reads: [(method: String, path: String, body: String?, field: String)] {
        var requests: [(method: String, path: String, body: String?, field: String)] = []
        let spec = #"{"target":"cpu:total:usage_ratio","condition":"above","value":0.5}"#
        for time in backtestTimes {
            requests.append(("POST", "/v1/monitors/test", #"{"spec":\#(spec),"since":"\#(time)"}"#, "since"))
            requests.append(("POST", "/v1/monitors/test", #"{"spec":\#(spec),"until":"\#(time)"}"#, "until"))
        }
        for start in ["9223372036854775807", "-9223372036854775808", "99999999999999"] {
            requests.append(("GET", "/rrd_updates?start=\(start)&host=true", nil, "start"))
            requests.append(("GET", "/rrd_updates?start=\(start)&host=true&json", nil, "start"))
        }
        requests.append(("GET", "/rrd_updates?start=-10&host=true&interval=9223372036854775807", nil, "interval"))
        let history = "/v1/history/cpu:total:usage_ratio"
        requests += [
            ("GET", history + "?start=9223372036854775806&end=9223372036854775807", nil, "end"),
            ("GET", history + "?start=9223372036854775806", nil, "start"),
            ("GET", history + "?start=-9223372036854775808", nil, "start"),
            ("GET", history + "?end=-9223372036854775808", nil, "end"),
            ("GET", history + "?end=9223372036854775807", nil, "end"),
            ("GET", history + "?resolution=9223372036854775807", nil, "resolution"),
            ("GET", "/v1/events?since=1e300", nil, "since"),
            ("GET", "/v1/events?until=nan", nil, "until"),
            ("GET", "/v1/events?since=-1e300d", nil, "since")
        ]
        return requests
    }

    struct Answer {
        let status: Int
        let body: String
    }

    /// One request through curl: over TCP to `listen`, or over the Unix socket.
    static func send(_ method: String, _ path: String, body: String?, listen: String?, socket: String) throws -> Answer {
        var arguments = ["-s", "-m", "30", "-X", method, "-w", "\n%{http_code}"]
        if let body { arguments += ["-H", "Content-Type: application/json", "--data-binary", body] }
        if let listen {
            arguments.append("http://\(listen)\(path)")
        } else {
            arguments += ["--unix-socket", socket, "http://localhost\(path)"]
        }
        let result = try Products.run("/usr/bin/curl", arguments)
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        return Answer(status: Int(lines.last ?? "") ?? 0, body: lines.dropLast().joined(separator: "\n"))
    }

    @Test func outOfRangeNumbersAreRefusedAndTheDaemonKeepsServing() throws {
        // Step 5, as the reports had it: RoundRobinDatabase.fetch overflowed rounding to it.
        let daemon = try DaemonHarness(arguments: ["--listen", "127.0.0.1:0", "--step", "5"])
        let listen = try #require(try daemon.client.status().listen)
        try daemon.waitForCycles(1)
        let residentBefore = try daemon.client.status().residentBytes
        for transport in [listen, nil] {
            for request in HostileNumbersTests.reads {
                let answer = try HostileNumbersTests.send(request.method, request.path, body: request.body, listen: transport, socket: daemon.socket)
                let label = "\(transport ?? "socket") \(request.method) \(request.path) \(request.body ?? "")"
                #expect(answer.status == 400, "\(label): \(answer.status) \(answer.body)")
                #expect(answer.body.contains("\(request.field):"), "\(label): \(answer.body)")
                #expect(daemon.process.exitCode == nil, "\(label) stopped resmond: \(daemon.stderr)")
                guard daemon.process.exitCode == nil else { return }
            }
        }
        // perfmon import writes monitors: the Unix socket only.
        for (tag, value) in [
            ("alarm_trigger_period", "1e300"), ("alarm_trigger_period", "1e19"), ("alarm_trigger_period", "-1"),
            ("alarm_auto_inhibit_period", "-1e300")
        ] {
            let xml = #"<config><variable><name value="cpu_usage"/><alarm_trigger_level value="0.5"/><\#(tag) value="\#(value)"/></variable></config>"#
            let answer = try HostileNumbersTests.send(
                "POST", "/v1/monitors/import/perfmon?object=host", body: xml, listen: nil, socket: daemon.socket)
            #expect(answer.status == 400, "perfmon \(tag)=\(value): \(answer.status) \(answer.body)")
            #expect(answer.body.contains(tag), "perfmon \(tag)=\(value): \(answer.body)")
            #expect(daemon.process.exitCode == nil, "perfmon \(tag)=\(value) stopped resmond: \(daemon.stderr)")
        }
        // The client library checks a stream's heartbeat before its own arithmetic; the server refuses it.
        for heartbeat in [Double.nan, .infinity, 1e300] {
            #expect(throws: (any Error).self, "heartbeat \(heartbeat)") {
                _ = try daemon.client.streamEvents(after: 0, heartbeat: heartbeat) { _ in false }
            }
        }
        // Still up and answering over both, and sane ranges still work.
        #expect(try HostileNumbersTests.send("GET", "/healthz", body: nil, listen: listen, socket: daemon.socket).status == 200)
        #expect(try daemon.client.health().status == "ok")
        let history = try HostileNumbersTests.send(
            "GET", "/v1/history/cpu:total:usage_ratio?start=-600", body: nil, listen: listen, socket: daemon.socket)
        #expect(history.status == 200, "\(history.body)")
        #expect(daemon.process.exitCode == nil)
        // Refusals cost nothing to keep: resident memory grew by well under resmond's 25 MB limit.
        let residentAfter = try daemon.client.status().residentBytes
        #expect(residentAfter - residentBefore < 16 * 1_048_576, "\(residentBefore) → \(residentAfter) bytes")
    }

    /// Found by the audit: a threshold or reading of 1e300 put into words (a monitor's name, an
    /// event's message) went through Int64 and trapped, over TCP through a backtest's spec.
    @Test func hugeThresholdsAndReadingsAreWordsNotTraps() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "127.0.0.1:0", "--step", "1"])
        let listen = try #require(try daemon.client.status().listen)
        func backtest(_ value: String) throws -> Answer {
            let body = #"{"spec":{"target":"cpu:total:usage_ratio","condition":"above","value":\#(value)},"since":"-1h"}"#
            return try HostileNumbersTests.send("POST", "/v1/monitors/test", body: body, listen: listen, socket: daemon.socket)
        }
        // Once there is history to replay, the huge threshold is replayed like any other.
        #expect(try daemon.eventually(timeout: 90) { try backtest("0.5").status == 200 })
        for value in ["1e300", "1.7976931348623157e308", "-1e300"] {
            let answer = try backtest(value)
            #expect(answer.status == 200, "\(value): \(answer.status) \(answer.body)")
            #expect(answer.body.contains("\"events\""), "\(value): \(answer.body)")
            #expect(daemon.process.exitCode == nil, "\(value) stopped resmond: \(daemon.stderr)")
        }
        // A pushed reading of 1.7e308 over a threshold of 1e300: named and raised in words.
        _ = try daemon.client.push("app:hostile:reading", value: 1.7e308)
        let created = try HostileNumbersTests.send(
            "POST", "/v1/monitors", body: #"{"id":"huge","target":"app:hostile:reading","condition":"above","value":1e300}"#,
            listen: nil, socket: daemon.socket)
        #expect(created.status == 201, "\(created.body)")
        #expect(created.body.contains("1e+300"), "\(created.body)")
        let raised = daemon.eventually(timeout: 60) {
            ((try? daemon.client.events(filter: #"monitorId = "huge""#).events) ?? []).contains { $0.message.contains("e+308") }
        }
        #expect(raised, "no raise worded with the reading: \(daemon.stderr)")
        #expect(daemon.process.exitCode == nil, "resmond stopped: \(daemon.stderr)")
        #expect(try daemon.client.health().status == "ok")
    }
}
