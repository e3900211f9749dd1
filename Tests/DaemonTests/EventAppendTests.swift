import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `POST /v1/events`: an application's own monitor's events (libresmon's inline monitors with
/// `forward`) in resmond's log, delivered like every event, marked as the caller's, bounded.
@Suite struct EventAppendTests {
    static let application = #"labels.source = "application""#

    @Test func anAppendedEventIsStoredStreamedAndMarkedAndItsCancelNamesIt() throws {
        let daemon = try DaemonHarness()
        let seen = Mutex<[EventRecord]>([])
        let done = Mutex(false)
        let follower = Thread {
            try? daemon.client.followEvents(after: 0, filter: EventAppendTests.application, heartbeat: 0.5, stopping: { done.get() }) { event in
                seen.set(seen.get() + [event])
                return true
            }
        }
        follower.start()
        defer { done.set(true) }
        let id = "0b4c1a52-5f3e-4c47-9d41-1f2d3c4b5a69"
        let raise = try daemon.client.appendEvent(
            EventAppendRequest(
                type: "above", severity: "err", monitorId: id, monitorName: "queue depth", key: "app:queue:depth", value: 12,
                threshold: 10, message: "queue:depth is 12, above 10 (inline)"))
        #expect(raise.id > 0)
        #expect(raise.code == 501 && raise.type == .above && raise.severity == .err)
        #expect(raise.labels == ["source": "application", "uid": "0"])
        #expect(!raise.host.isEmpty, "resmond names its host")
        let cancel = try daemon.client.appendEvent(EventAppendRequest(type: "canceled", monitorId: id, message: "queue:depth is 3: ended"))
        #expect(cancel.cancels == raise.id, "resmond pairs the cancel with the raise it logged")
        #expect(cancel.severity == .notice)

        let cli = try Products.run(
            Products.path("resmon"),
            ["--socket", daemon.socket, "event", "append", "below", "app.cli", "from the shell", "--value", "2", "--severity", "info"])
        #expect(cli.status == 0 && cli.output.contains("below info app.cli from the shell"), "\(cli.output) \(cli.error)")
        let badCLI = try Products.run(Products.path("resmon"), ["--socket", daemon.socket, "event", "append", "noData", "app.cli", "m"])
        #expect(badCLI.status == 1 && badCLI.error.contains("type \"noData\""), "\(badCLI.error)")

        let logged = try daemon.client.events(filter: EventAppendTests.application + " && type != below").events
        #expect(logged.map(\.id) == [raise.id, cancel.id])
        #expect(logged.first?.monitorId == id && logged.first?.key == "app:queue:depth" && logged.first?.value == 12)
        #expect(try daemon.client.events(filter: "labels.uid = \"0\" && monitorId = \"\(id)\"").events.count == 2)
        #expect(try daemon.client.events(filter: "monitorId = \"app.cli\" && value = 2 && severity = info").events.count == 1)
        #expect(daemon.eventually(timeout: 30) { seen.get().count == 3 }, "the stream delivers all: \(seen.get())")
        #expect(seen.get().map(\.id).prefix(2) == [raise.id, cancel.id])
    }

    @Test func badInputIsRefusedWithAClearErrorAndResmondKeepsRunning() throws {
        let daemon = try DaemonHarness()
        _ = try daemon.client.push("app:test:level", value: 0)
        var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        spec.id = "resmonds-own"
        _ = try daemon.client.createMonitors([spec])
        func post(_ body: String) throws -> (status: Int, message: String) {
            let answer = try daemon.client.send("POST", "/v1/events", body: Array(body.utf8))
            let error = try? JSONDecoder().decode(ErrorResponse.self, from: Data(answer.body))
            return (answer.status, error?.error.message ?? "")
        }
        let good = #""monitorId": "app-1", "message": "m""#
        let refused: [(body: String, status: Int, says: String)] = [
            (#"{"type": "above", \#(good), "source": "resmond"}"#, 400, "unknown field \"source\""),
            (#"{"type": "above", \#(good), "labels": {"uid": "0"}}"#, 400, "unknown field \"labels\""),
            (#"{"type": "eventStorm", \#(good)}"#, 400, "type \"eventStorm\""),
            (#"{"type": "noData", \#(good)}"#, 400, "type \"noData\""),
            (#"{"type": "resourceConfigurationChange", \#(good)}"#, 400, "expected above"),
            (#"{"type": "above", "severity": "loud", \#(good)}"#, 400, "severity \"loud\""),
            (#"{"type": "above", "monitorId": "a b", "message": "m"}"#, 400, "monitorId"),
            (#"{"type": "above", "monitorId": "", "message": "m"}"#, 400, "monitorId"),
            (#"{"type": "above", "monitorId": "\#(String(repeating: "x", count: 129))", "message": "m"}"#, 400, "monitorId"),
            (#"{"type": "above", "monitorId": "a", "message": "\u001b[2Jfake"}"#, 400, "message: U+001B is not allowed"),
            (#"{"type": "above", "monitorId": "a", "message": ""}"#, 400, "message"),
            (#"{"type": "above", "monitorId": "a", "message": "\#(String(repeating: "m", count: 1025))"}"#, 400, "longer than 1024"),
            (#"{"type": "above", \#(good), "key": "k\nforged line"}"#, 400, "key: U+000A is not allowed"),
            (#"{"type": "above", \#(good), "value": 1e999}"#, 400, "expected a JSON body"),
            (#"{"type": "above", \#(good), "time": 99999999999}"#, 400, "time"),
            (#"{"type": "above", \#(good), "time": 1}"#, 400, "time"),
            (#"{"type": "above", "type": "below", \#(good)}"#, 400, "not valid JSON"),
            (#"{"type": "above"}"#, 400, "expected a JSON body"),
            (#"[1, 2]"#, 400, "expected a JSON body"),
            (#"{"type": "above", "monitorId": "resmonds-own", "message": "m"}"#, 409, "one of resmond's monitors"),
            (#"{"type": "above", \#(good), "monitorName": "\#(String(repeating: "n", count: 9000))"}"#, 413, "larger than")
        ]
        for (body, status, says) in refused {
            let answer = try post(body)
            #expect(answer.status == status && answer.message.contains(says), "\(body.prefix(120)): \(answer)")
        }
        let query = try daemon.client.send("POST", "/v1/events", query: [("limit", "1")], body: Array(#"{"type": "above", \#(good)}"#.utf8))
        #expect(query.status == 400, "a query parameter on a POST is refused")
        #expect(try daemon.client.events(filter: EventAppendTests.application).events.isEmpty, "nothing refused was stored")
        #expect(try daemon.client.events(filter: "monitorId = \"resmonds-own\"").events.isEmpty, "nothing passed for resmond's monitor")
        #expect(try post(#"{"type": "below", \#(good)}"#).status == 201)
        _ = try daemon.client.health()
    }

    /// Another user appends under their own uid; one monitor's raises are bounded by the storm
    /// limits (429, then counted in an eventStorm summary), and its cancel of a logged raise
    /// always passes.
    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func anotherUsersEventsAreTheirsAndRateBounded() throws {
        let daemon = try DaemonHarness(configuration: #"{"events": {"perMonitorPerMinute": 3}}"#)
        for path in [daemon.directory.path, daemon.stateDirectory] { chmod(path, 0o755) }
        chmod(daemon.socket, 0o666)
        func asNobody(_ body: String) throws -> ProgramResult {
            try Products.run(
                "/usr/bin/setpriv",
                [
                    "--reuid=65534", "--regid=65534", "--clear-groups", "curl", "-sS", "--unix-socket", daemon.socket, "-w", "\n%{http_code}",
                    "-H", "Content-Type: application/json", "--data-binary", body, "http://localhost/v1/events"
                ])
        }
        func status(_ result: ProgramResult) -> String { String(result.output.split(separator: "\n").last ?? "") }
        let raise = try asNobody(#"{"type": "above", "monitorId": "nobodys", "message": "raised"}"#)
        #expect(status(raise) == "201", "\(raise.output) \(raise.error)")
        let stored = try #require(try daemon.client.events(filter: EventAppendTests.application).events.first)
        #expect(stored.labels == ["source": "application", "uid": "65534"], "marked as nobody's, whatever it claims")
        var statuses: [String] = []
        for _ in 0..<6 { statuses.append(status(try asNobody(#"{"type": "above", "monitorId": "nobodys", "message": "again"}"#))) }
        #expect(statuses.filter { $0 == "201" }.count == 2, "3 a minute for one monitor: \(statuses)")
        #expect(statuses.suffix(4).allSatisfy { $0 == "429" }, "\(statuses)")
        let held = try asNobody(#"{"type": "above", "monitorId": "nobodys", "message": "again"}"#)
        #expect(held.output.contains("event storm limits"), "\(held.output)")
        let cancel = try asNobody(#"{"type": "canceled", "monitorId": "nobodys", "message": "ended"}"#)
        #expect(status(cancel) == "201", "the cancel of a logged raise passes: \(cancel.output)")
        let logged = try daemon.client.events(filter: EventAppendTests.application).events
        #expect(logged.count == 4 && logged.last?.type == .canceled && logged.last?.cancels == logged[2].id, "\(logged)")
        // A root append with the same monitor id is root's own: its pairing and buckets are apart.
        let roots = try daemon.client.appendEvent(EventAppendRequest(type: "canceled", monitorId: "nobodys", message: "root's"))
        #expect(roots.cancels == nil && roots.labels["uid"] == "0")
        #expect(
            daemon.eventually(timeout: 30) { ((try? daemon.client.events(filter: "type = \"eventStorm\"").events) ?? []).count >= 1 },
            "what was held back is counted in a summary")
    }
}
