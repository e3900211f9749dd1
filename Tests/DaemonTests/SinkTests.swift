import Foundation
import HTTPClient
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Server
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A webhook receiver on 127.0.0.1 that records what it is sent; it can go away and come back
/// on the same port.
final class WebhookReceiver: HTTPHandler, @unchecked Sendable {
    let received = ResmonTestSupport.Mutex<[(id: String, body: [UInt8])]>([])
    private var server: HTTPServer?
    private(set) var port = 0

    struct Handler: HTTPHandler {
        let receiver: WebhookReceiver
        func handle(_ request: HTTPRequest) -> HTTPResponse {
            receiver.received.set(receiver.received.get() + [(request.headers["x-resmon-event-id"] ?? "", request.body)])
            return HTTPResponse(status: 204, body: [])
        }
    }

    func handle(_ request: HTTPRequest) -> HTTPResponse { Handler(receiver: self).handle(request) }

    func start() throws {
        let (descriptor, bound) = try ListeningSocket.tcp(host: "127.0.0.1", port: port)
        port = bound
        server = try HTTPServer(descriptor: descriptor, transport: .tcp, handler: Handler(receiver: self))
    }

    func stop() {
        server?.stop()
        server = nil
    }

    var ids: [Int64] { received.get().compactMap { Int64($0.id) } }
}

/// A port nobody listens on right now (bound and released).
func freePort() throws -> Int {
    let (descriptor, port) = try ListeningSocket.tcp(host: "127.0.0.1", port: 0)
    close(descriptor)
    return port
}

@Suite struct SinkTests {
    @Test func aWebhookReceiverDownForAWhileAndAcrossARestartReceivesEveryEvent() throws {
        let receiver = WebhookReceiver()
        try receiver.start()
        let directory = TemporaryDirectory("resmon-webhook")
        let configuration = """
            {"sinks": {"hook": {"type": "webhook", "url": "http://127.0.0.1:\(receiver.port)/events",
                                "headers": {"Authorization": "Bearer test"}, "timeoutSeconds": 2, "maxBackoffSeconds": 1}}}
            """
        var daemon: DaemonHarness? = try DaemonHarness(configuration: configuration, directory: directory)
        try EventStreamTests.flipper(daemon!, monitors: 2)
        try EventStreamTests.flip(daemon!, to: 100, expecting: 2)
        #expect(daemon!.eventually { receiver.ids.count == 2 })
        let first = try JSONDecoder().decode(EventRecord.self, from: Data(receiver.received.get()[0].body))
        #expect(first.type == "above" && first.id == Int64(receiver.received.get()[0].id))

        receiver.stop()
        try EventStreamTests.flip(daemon!, to: 0, expecting: 4)
        #expect(daemon!.eventually { (try? daemon!.client.sinks().first?.retries ?? 0) ?? 0 > 0 })
        #expect(
            try daemon!.client.sinks().first?.lastError?.contains("Connection refused") == true
                || daemon!.client.sinks().first?.lastError?.contains("connect") == true)
        // Down across a restart of resmond, and events logged meanwhile.
        daemon!.signal(SIGTERM)
        _ = daemon!.waitForExit(timeout: 5)
        daemon = nil
        daemon = try DaemonHarness(configuration: configuration, directory: directory)
        _ = try daemon!.client.push("app:test:level", value: 0)
        try EventStreamTests.flip(daemon!, to: 100, expecting: 6)
        #expect(receiver.ids.count == 2)

        try receiver.start()
        let logged = try daemon!.client.events(limit: 1000).events.map(\.id)
        #expect(logged.count == 6)
        #expect(daemon!.eventually(timeout: 15) { Set(receiver.ids) == Set(logged) })
        #expect(receiver.ids == logged, "in order, each once")
        #expect(try daemon!.client.sinks().first?.delivered ?? 0 >= 4)
        receiver.stop()
    }

    @Test func syslogLinesAreRFC5424WithStructuredData() throws {
        let directory = TemporaryDirectory("resmon-syslog")
        let path = directory.file("log.sock")
        let socket = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            _ = path.utf8CString.withUnsafeBytes { memcpy(raw.baseAddress!, $0.baseAddress!, $0.count) }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let daemon = try DaemonHarness(
            configuration: """
                {"sinks": {"log": {"type": "syslog", "socket": "\(path)", "facility": "local3", "filter": "severity >= warning"}}}
                """)
        _ = try daemon.client.push("app:test:level", value: 0)
        var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        spec.id = "disk-full"
        spec.labels = ["team": "ops \"core\""]
        _ = try daemon.client.createMonitors([spec])
        _ = try daemon.client.push("app:test:level", value: 75)
        var buffer = [UInt8](repeating: 0, count: 8192)
        let count = recv(socket, &buffer, buffer.count, 0)
        #expect(count > 0)
        let line = String(decoding: buffer[0..<max(0, count)], as: UTF8.self)
        // local3 (19) × 8 + warning (4) = 156.
        let pattern =
            #"^<156>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \S+ resmond \d+ above \[resmon@32473 id="1" code="501" severity="warning" monitorId="disk-full" monitorName="app:test:level above 50" key="app:test:level" value="75" threshold="50"\]\[labels@32473 team="ops \\"core\\"" uid="0"\] app:test:level is 75, above 50$"#
        #expect(line.range(of: pattern, options: .regularExpression) != nil, "\(line)")
        // The cancel is a notice: the sink's filter keeps it out.
        _ = try daemon.client.push("app:test:level", value: 1)
        #expect(daemon.eventually { ((try? daemon.client.events().events.count) ?? 0) == 2 })
        timeout = timeval(tv_sec: 1, tv_usec: 500_000)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        #expect(recv(socket, &buffer, buffer.count, 0) < 0)
    }

    @Test func execRunsTheProgramWithTheEventAndKillsItsGroupAtTheTimeout() throws {
        let directory = TemporaryDirectory("resmon-exec")
        let out = directory.file("out")
        mkdir(out, 0o755)
        let script = directory.file("hook.sh")
        try """
        #!/bin/sh
        cat > \(out)/$RESMON_EVENT_ID.json
        echo "$RESMON_EVENT_TYPE $RESMON_SEVERITY $RESMON_KEY $RESMON_VALUE $RESMON_MONITOR_ID" > \(out)/$RESMON_EVENT_ID.env
        if [ "$RESMON_EVENT_TYPE" = canceled ]; then echo $$ > \(out)/sleeper; sleep 60; fi
        """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let daemon = try DaemonHarness(
            configuration: """
                {"sinks": {"run": {"type": "exec", "command": ["\(script)"], "timeoutSeconds": 1, "concurrency": 2}}}
                """)
        _ = try daemon.client.push("app:test:level", value: 0)
        var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        spec.id = "hot"
        _ = try daemon.client.createMonitors([spec])
        _ = try daemon.client.push("app:test:level", value: 75)
        #expect(daemon.eventually { FileManager.default.fileExists(atPath: out + "/1.env") })
        #expect(daemon.eventually { ((try? String(contentsOfFile: out + "/1.env", encoding: .utf8)) ?? "") == "above warning app:test:level 75 hot\n" })
        let json = try Data(contentsOf: URL(fileURLWithPath: out + "/1.json"))
        #expect(try JSONDecoder().decode(EventRecord.self, from: json).monitorId == "hot")
        _ = try daemon.client.push("app:test:level", value: 1)
        #expect(daemon.eventually { FileManager.default.fileExists(atPath: out + "/sleeper") })
        let sleeper = pid_t((try? String(contentsOfFile: out + "/sleeper", encoding: .utf8))?.filter(\.isNumber) ?? "") ?? 0
        #expect(sleeper > 0)
        #expect(daemon.eventually { kill(sleeper, 0) != 0 }, "the hung program is killed at its timeout")
        #expect(daemon.eventually { daemon.stderr.contains("ran past its timeout") })
    }

    @Test func execSinksComeOnlyFromRootOwnedConfiguration() throws {
        let directory = TemporaryDirectory("resmon-exec-config")
        try directory.write("config/resmond.json", #"{"sinks": {"run": {"type": "exec", "command": ["/bin/true"]}}}"#)
        chmod(directory.file("config/resmond.json"), 0o666)
        let result = try Products.run(Products.path("resmond"), ["--config-dir", directory.file("config"), "--check-config"])
        #expect(result.status != 0)
        #expect(result.error.contains("sinks.run") && result.error.contains("owned by root"), "\(result.error)")
    }

    @Test func badSinkConfigurationIsRefusedWithTheKey() throws {
        let cases: [(String, String)] = [
            (#"{"sinks": {"x": {"type": "pager"}}}"#, "sinks.x.type"),
            (#"{"sinks": {"x": {"type": "webhook", "url": "ftp://host/"}}}"#, "sinks.x.url"),
            (#"{"sinks": {"x": {"type": "webhook"}}}"#, "sinks.x.url"),
            (#"{"sinks": {"x": {"type": "syslog", "filter": "severity >= loud"}}}"#, "sinks.x.filter"),
            (#"{"sinks": {"x": {"type": "syslog", "facility": "local9"}}}"#, "sinks.x.facility"),
            (#"{"sinks": {"x": {"type": "alertmanager", "url": "http://127.0.0.1:9093", "resendSeconds": 0}}}"#, "sinks.x.resendSeconds"),
            (#"{"sinks": {"x y": {"type": "syslog"}}}"#, "sinks.x y"),
            (#"{"sinks": {"x": {"type": "syslog", "colour": "red"}}}"#, "sinks.x.colour")
        ]
        for (text, key) in cases {
            let directory = TemporaryDirectory("resmon-sink-config")
            try directory.write("config/resmond.json", text)
            let result = try Products.run(Products.path("resmond"), ["--config-dir", directory.file("config"), "--check-config"])
            #expect(result.status != 0 && result.error.contains("key \(key)"), "\(text): \(result.error)")
        }
    }
}

/// The real Alertmanager from Debian on 127.0.0.1 (or `host`: the fleet test's bridge), without clustering.
final class Alertmanager {
    let directory = TemporaryDirectory("resmon-alertmanager")
    let host: String
    let port: Int
    let process: SpawnedGroup

    init(host: String = "127.0.0.1") throws {
        self.host = host
        port = try freePort()
        try directory.write(
            "alertmanager.yml",
            """
            route:
              receiver: nobody
              group_wait: 1s
            receivers:
              - name: nobody
            """)
        process = try SpawnedGroup(
            "/usr/bin/prometheus-alertmanager",
            [
                "--config.file=" + directory.file("alertmanager.yml"), "--storage.path=" + directory.file("data"),
                "--web.listen-address=\(host):\(port)", "--cluster.listen-address="
            ])
    }

    struct Alert: Decodable {
        struct Status: Decodable { let state: String }
        let labels: [String: String]
        let annotations: [String: String]
        let endsAt: String
        let updatedAt: String
        let status: Status
    }

    /// The alerts its API lists, nil while it does not answer.
    func alerts() -> [Alert]? {
        guard let data = try? fetch("http://\(host):\(port)/api/v2/alerts") else { return nil }
        return try? JSONDecoder().decode([Alert].self, from: data)
    }

    private func fetch(_ url: String) throws -> Data {
        let answer = try HTTPClient.fetch(url, timeoutMilliseconds: 2000, maximumBytes: 1 << 20)
        guard answer.status == 200 else { throw DaemonHarness.NotReady(description: "\(url): HTTP \(answer.status)") }
        return Data(answer.body)
    }

    deinit { process.stop() }
}

extension SinkTests {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus-alertmanager")))
    func alertmanagerShowsTheAlertFiringThenResolved() throws {
        let alertmanager = try Alertmanager()
        let daemon = try DaemonHarness(
            configuration: """
                {"sinks": {"am": {"type": "alertmanager", "url": "http://127.0.0.1:\(alertmanager.port)", "resendSeconds": 1,
                                  "maxBackoffSeconds": 1}}}
                """)
        _ = try daemon.client.push("app:test:level", value: 0)
        var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        spec.id = "queue-depth"
        spec.severity = "crit"
        spec.labels = ["team": "storage"]
        spec.annotations = ["runbook": "https://example.invalid/queue"]
        _ = try daemon.client.createMonitors([spec])
        _ = try daemon.client.push("app:test:level", value: 75)
        var firing: Alertmanager.Alert?
        #expect(
            daemon.eventually(timeout: 30) {
                firing = alertmanager.alerts()?.first { $0.labels["monitor"] == "queue-depth" }
                return firing?.status.state == "active"
            })
        #expect(firing?.labels["alertname"] == "app:test:level above 50")
        #expect(firing?.labels["severity"] == "crit" && firing?.labels["team"] == "storage")
        #expect(firing?.labels["statistic"] == "app:test:level" && firing?.labels["host"]?.isEmpty == false)
        #expect(firing?.annotations["runbook"] == "https://example.invalid/queue")
        // Re-sent while raised: Alertmanager sees it again (a newer updatedAt), still active.
        let firstSeen = try #require(firing).updatedAt
        #expect(
            daemon.eventually(timeout: 30) {
                guard let alert = alertmanager.alerts()?.first(where: { $0.labels["monitor"] == "queue-depth" }) else { return false }
                return alert.updatedAt != firstSeen && alert.status.state == "active"
            }, "re-sent while raised")

        _ = try daemon.client.push("app:test:level", value: 1)
        #expect(
            daemon.eventually(timeout: 30) {
                guard let alerts = alertmanager.alerts() else { return false }
                // Alertmanager drops resolved alerts from its list (or shows endsAt in the past).
                guard let alert = alerts.first(where: { $0.labels["monitor"] == "queue-depth" }) else { return true }
                return alert.status.state != "active"
            })
    }
}

extension SinkTests {
    /// Issue 7's end to end: a raised monitor reaches `resmon events --follow`, a webhook
    /// receiver and the real Alertmanager, and resolves in all three when its condition ends.
    /// A pushed statistic drives it: with real CPU load, a machine busy with other work would
    /// never let the monitor cancel.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus-alertmanager")))
    func aRaisedMonitorReachesEveryConsumerAndResolves() throws {
        let receiver = WebhookReceiver()
        try receiver.start()
        defer { receiver.stop() }
        let alertmanager = try Alertmanager()
        let daemon = try DaemonHarness(
            arguments: ["--listen", "none", "--step", "1"],
            configuration: """
                {"sinks": {"hook": {"type": "webhook", "url": "http://127.0.0.1:\(receiver.port)/"},
                           "am": {"type": "alertmanager", "url": "http://127.0.0.1:\(alertmanager.port)", "resendSeconds": 2, "maxBackoffSeconds": 1}}}
                """)
        let followed = daemon.directory.file("follow.out")
        let output = open(followed, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        try #require(output >= 0)
        let follow = try ChildProcess(Products.path("resmon"), ["--socket", daemon.socket, "events", "--follow", "--json"], stdout: output)
        close(output)
        defer { follow.stop() }
        func streamed() -> [EventRecord] {
            ((try? String(contentsOfFile: followed, encoding: .utf8)) ?? "").split(separator: "\n")
                .compactMap { try? JSONDecoder().decode(EventRecord.self, from: Data($0.utf8)) }
        }

        _ = try daemon.client.push("app:web:busy_ratio", value: 0.1)
        var spec = MonitorSpec(target: "app:web:busy_ratio", condition: "above", value: 0.8)
        spec.id = "web-busy"
        spec.samples = 2
        spec.cancelValue = 0.5
        spec.cancelSamples = 2
        _ = try daemon.client.createMonitors([spec])
        // Each push is one reading: two readings over the value raise, two under 0.5 cancel.
        func reading(_ value: Double) throws {
            _ = try daemon.client.push("app:web:busy_ratio", value: value)
            try daemon.waitForCycles(2)
        }
        try reading(0.95)
        try reading(0.95)
        #expect(daemon.eventually(timeout: 30) { (try? daemon.client.events().events.contains { $0.type == "above" }) == true })
        #expect(daemon.eventually(timeout: 30) { streamed().map(\.type) == ["above"] }, "resmon events --follow")
        #expect(daemon.eventually(timeout: 30) { receiver.ids.count == 1 }, "the webhook")
        #expect(
            daemon.eventually(timeout: 30) {
                alertmanager.alerts()?.contains { $0.labels["monitor"] == "web-busy" && $0.status.state == "active" } == true
            }, "Alertmanager shows it firing")
        try reading(0.2)
        try reading(0.2)
        #expect(daemon.eventually(timeout: 30) { (try? daemon.client.events().events.contains { $0.type == "canceled" }) == true })
        let events = try daemon.client.events().events
        #expect(events.map(\.type) == ["above", "canceled"])
        let raise = try #require(events.first)
        let cancel = try #require(events.last)
        #expect(raise.monitorId == "web-busy" && raise.code == 501 && raise.value == 0.95)
        #expect(cancel.cancels == raise.id)
        #expect(daemon.eventually(timeout: 30) { streamed().map(\.id) == events.map(\.id) }, "resmon events --follow")
        #expect(daemon.eventually(timeout: 30) { receiver.ids == events.map(\.id) }, "the webhook")
        #expect(
            daemon.eventually(timeout: 30) {
                alertmanager.alerts().map { alerts in !alerts.contains { $0.labels["monitor"] == "web-busy" && $0.status.state == "active" } } == true
            }, "Alertmanager shows it resolved")
    }
}
