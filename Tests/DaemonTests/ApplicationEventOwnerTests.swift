import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 22, attack round 5: an application event's `monitorId` is in its caller's own
/// namespace, and an event's `uid` label is resmond's word, not the monitor's owner's. Another
/// user's cancel of the same id never resolved root's alert, nor a raise replaced it; a monitor's
/// labels cannot forge `uid` or `source`; one uid's raises never cancelled cannot use up the
/// others' pairing of cancels; an application event's text and key are checked as a push's.
@Suite struct ApplicationEventOwnerTests {
    static let canRun = QuotaTests.canRun

    /// Sends requests (method, path, body per line) on one Unix-socket connection as `uid`, with
    /// QuotaTests' client; each answer's status and body.
    static func asUser(_ uid: Int, _ daemon: DaemonHarness, _ requests: [String]) throws -> [(status: Int, body: String)] {
        try daemon.directory.write("client.py", QuotaTests.client)
        let list = "requests-\(uid)"
        try daemon.directory.write(list, requests.joined(separator: "\n") + "\n")
        for path in [daemon.directory.path, daemon.directory.file("client.py"), daemon.directory.file(list)] { chmod(path, 0o755) }
        let result = try Products.run(
            "/usr/bin/setpriv",
            [
                "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "/usr/bin/python3", daemon.directory.file("client.py"), daemon.socket,
                daemon.directory.file(list)
            ], timeout: 600)
        return result.output.split(separator: "\n").map { line in
            let parts = line.split(separator: " ", maxSplits: 1)
            return (Int(parts[0]) ?? 0, parts.count > 1 ? String(parts[1]) : "")
        }
    }

    static func openToOthers(_ daemon: DaemonHarness) {
        for path in [daemon.directory.path, daemon.stateDirectory] { chmod(path, 0o755) }
        chmod(daemon.socket, 0o666)
    }

    struct SentAlert: Decodable {
        let labels: [String: String]
        let startsAt: String
        let endsAt: String?
    }

    /// Alertmanager's side: the alerts of each POST /api/v2/alerts, in order.
    static func posts(_ receiver: WebhookReceiver) -> [[SentAlert]] {
        receiver.received.get().compactMap { try? JSONDecoder().decode([SentAlert].self, from: Data($0.body)) }
    }

    @Test(.enabled(if: canRun))
    func anotherUsersCancelOrRaiseOfTheSameIdLeavesRootsAlertFiring() throws {
        let receiver = WebhookReceiver()
        try receiver.start()
        defer { receiver.stop() }
        let daemon = try DaemonHarness(
            configuration: #"{"sinks": {"am": {"type": "alertmanager", "url": "http://127.0.0.1:\#(receiver.port)", "resendSeconds": 1}}}"#)
        Self.openToOthers(daemon)
        func isRoots(_ alert: SentAlert) -> Bool { alert.labels["monitor"] == "appx" && alert.labels["uid"] == "0" }
        func isNobodys(_ alert: SentAlert) -> Bool { alert.labels["monitor"] == "appx" && alert.labels["uid"] == "65534" }
        _ = try daemon.client.appendEvent(EventAppendRequest(type: "above", severity: "crit", monitorId: "appx", message: "root's"))
        #expect(daemon.eventually(timeout: 60) { Self.posts(receiver).joined().contains(where: isRoots) }, "root's alert fires")

        // Nobody's cancel is dated an hour back: had it resolved root's alert, endsAt would be before startsAt.
        let past = Date().timeIntervalSince1970 - 3600
        let answers = try Self.asUser(
            65534, daemon,
            [
                #"POST /v1/events {"type": "canceled", "monitorId": "appx", "message": "all fine", "time": \#(past)}"#,
                #"POST /v1/events {"type": "above", "monitorId": "appx", "message": "nobody's"}"#
            ])
        #expect(answers.map(\.status) == [201, 201], "\(answers)")
        // Nobody's events reach the sink in order: once its raise is there, its cancel was handled.
        #expect(daemon.eventually(timeout: 60) { Self.posts(receiver).joined().contains(where: isNobodys) }, "nobody's alert fires")
        let roots = Self.posts(receiver).joined().filter(isRoots)
        #expect(roots.allSatisfy { ($0.endsAt ?? "") > $0.startsAt }, "nobody's cancel resolved root's alert: \(roots.map(\.endsAt))")

        // Both stay firing, each re-sent; then root's cancel resolves root's alert alone.
        var seen = receiver.received.get().count
        #expect(
            daemon.eventually(timeout: 60) {
                Self.posts(receiver).dropFirst(seen).contains { $0.contains(where: isRoots) && $0.contains(where: isNobodys) }
            }, "root's and nobody's alerts are both re-sent")
        let cancel = try daemon.client.appendEvent(EventAppendRequest(type: "canceled", monitorId: "appx", message: "root's ended"))
        #expect(cancel.cancels != nil)
        seen = receiver.received.get().count
        #expect(
            daemon.eventually(timeout: 60) {
                Self.posts(receiver).dropFirst(seen).contains { $0.contains(where: isNobodys) && !$0.contains(where: isRoots) }
            }, "nobody's alert is still re-sent, root's no more")
    }

    @Test(.enabled(if: canRun))
    func aMonitorsLabelsCannotForgeItsOwnerOrAnApplicationSource() throws {
        let daemon = try DaemonHarness()
        Self.openToOthers(daemon)
        let forged = [
            (#"{"source": "application", "uid": "0"}"#, "source"), (#"{"uid": "0"}"#, "uid"), (#"{"team": "db", "source": "x"}"#, "source")
        ]
        for (labels, name) in forged {
            let body = #"{"id": "dbcheck", "target": "cpu:total:usage_ratio", "condition": "above", "value": -1, "labels": \#(labels)}"#
            let answer = try #require(try Self.asUser(65534, daemon, ["POST /v1/monitors \(body)"]).first)
            #expect(answer.status == 400 && answer.body.contains("labels: \\\"\(name)\\\""), "\(labels): \(answer)")
        }
        let created = try Self.asUser(
            65534, daemon,
            [
                #"POST /v1/monitors {"id": "dbcheck", "target": "cpu:total:usage_ratio", "condition": "above", "value": -1, "labels": {"team": "db"}}"#,
                #"PATCH /v1/monitors/dbcheck {"labels": {"team": "db", "uid": "0"}}"#
            ])
        #expect(created.first?.status == 201, "\(created)")
        #expect(created.last?.status == 400 && created.last?.body.contains("labels: \\\"uid\\\"") == true, "a PATCH is checked too: \(created)")
        #expect(daemon.eventually(timeout: 60) { ((try? daemon.client.events(filter: "monitorId = \"dbcheck\"").events) ?? []).count >= 1 })
        let raise = try #require(try daemon.client.events(filter: "monitorId = \"dbcheck\"").events.first)
        #expect(raise.labels == ["team": "db", "uid": "65534"], "every monitor's event names its owner: \(raise.labels)")
        #expect(try daemon.client.events(filter: #"labels.uid = "0" || labels.source = "application""#).events.isEmpty)
    }

    /// Each uid has its own share of remembered raises: one that logs 10,001 raises never
    /// cancelled fills its own, and another uid's and root's cancels still name their raises.
    @Test(.enabled(if: canRun))
    func oneUidsUncancelledRaisesLeaveOthersCancelsPaired() throws {
        let daemon = try DaemonHarness(configuration: #"{"events": {"maxPerSecond": 1000000}}"#)
        Self.openToOthers(daemon)
        let fill = (0...10_000).map { #"POST /v1/events {"type": "above", "monitorId": "fill-\#($0)", "message": "m"}"# }
        let filled = try Self.asUser(65534, daemon, fill)
        #expect(filled.count == fill.count && filled.allSatisfy { $0.status == 201 }, "\(filled.first { $0.status != 201 }.map { "\($0)" } ?? "")")
        func paired(_ answers: [(status: Int, body: String)]) -> Bool {
            answers.count == 2 && answers.allSatisfy { $0.status == 201 } && answers[1].body.contains("\"cancels\"")
        }
        let other = try Self.asUser(
            65533, daemon,
            [
                #"POST /v1/events {"type": "above", "monitorId": "victim", "message": "m"}"#,
                #"POST /v1/events {"type": "canceled", "monitorId": "victim", "message": "m"}"#
            ])
        #expect(paired(other), "another uid's cancel names its raise: \(other)")
        let raise = try daemon.client.appendEvent(EventAppendRequest(type: "above", monitorId: "rootv", message: "m"))
        let cancel = try daemon.client.appendEvent(EventAppendRequest(type: "canceled", monitorId: "rootv", message: "m"))
        #expect(cancel.cancels == raise.id, "root's cancel names its raise")
        let early = try Self.asUser(65534, daemon, [#"POST /v1/events {"type": "canceled", "monitorId": "fill-0", "message": "m"}"#])
        #expect(early.first?.body.contains("\"cancels\"") == true, "the filler's remembered raises still pair: \(early)")
        _ = try daemon.client.health()
    }

    @Test func applicationTextRefusesHiddenCharactersAndTheKeyIsAStatisticKey() throws {
        let daemon = try DaemonHarness()
        func post(_ body: String) throws -> (status: Int, message: String) {
            let answer = try daemon.client.send("POST", "/v1/events", body: Array(body.utf8))
            let error = try? JSONDecoder().decode(ErrorResponse.self, from: Data(answer.body))
            return (answer.status, error?.error.message ?? "")
        }
        let good = #""type": "above", "monitorId": "app-1""#
        let refused: [(body: String, says: String)] = [
            (#"{\#(good), "message": "disk \u202Eok"}"#, "message: U+202E"),
            (#"{\#(good), "message": "a\u2028b"}"#, "message: U+2028"),
            (#"{\#(good), "message": "a\u2029b"}"#, "message: U+2029"),
            (#"{\#(good), "message": "a\u200Bb"}"#, "message: U+200B"),
            (#"{\#(good), "message": "\uFEFFa"}"#, "message: U+FEFF"),
            (#"{\#(good), "message": "m", "monitorName": "n\u202E"}"#, "monitorName: U+202E"),
            (#"{\#(good), "message": "m", "key": "not a key"}"#, "key: \"not a key\" is not a statistic key"),
            (#"{\#(good), "message": "m", "key": "app:q:Depth"}"#, "is not a statistic key"),
            (#"{\#(good), "message": "m", "key": "app::depth"}"#, "is not a statistic key"),
            (#"{\#(good), "message": "m", "key": "app:q\u200B:depth"}"#, "key: U+200B")
        ]
        for (body, says) in refused {
            let answer = try post(body)
            #expect(answer.status == 400 && answer.message.contains(says), "\(body): \(answer)")
        }
        #expect(try daemon.client.events(filter: EventAppendTests.application).events.isEmpty, "nothing refused was stored")
        // The key is the application's claim, as its source label says: a real statistic's key passes.
        let claimed = try daemon.client.appendEvent(
            EventAppendRequest(type: "above", monitorId: "app-1", key: "cpu:total:usage_ratio", message: "café: 3 µs — ok"))
        #expect(claimed.key == "cpu:total:usage_ratio" && claimed.message == "café: 3 µs — ok")
        _ = try daemon.client.health()
    }
}
