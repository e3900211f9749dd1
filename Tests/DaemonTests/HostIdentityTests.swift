import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

/// Issue 21: resmond.json's `host` and `labels` on every event (a monitor's, an application's,
/// a plug-in change's), every Alertmanager alert, `/v1/status` and `/metrics`.
@Suite struct HostIdentityTests {
    static let configuration = #"{"host": "web-7", "labels": {"dc": "fra1", "role": "db"}}"#

    @Test func statusEventsAndApplicationEventsCarryTheHostAndItsLabels() throws {
        let daemon = try DaemonHarness(configuration: HostIdentityTests.configuration)
        let status = try daemon.client.status()
        #expect(status.host == "web-7")
        #expect(status.labels == ["dc": "fra1", "role": "db"])
        let shown = try Products.run(Products.path("resmon"), ["status", "--socket", daemon.socket])
        #expect(shown.output.contains("web-7 (dc=fra1, role=db)"), "\(shown.output)")

        _ = try daemon.client.push("app:test:level", value: 0)
        var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        spec.id = "queue-depth"
        // The monitor's own label wins over the fleet's, as Prometheus' external_labels.
        spec.labels = ["team": "storage", "dc": "monitor-says"]
        _ = try daemon.client.createMonitors([spec])
        _ = try daemon.client.push("app:test:level", value: 75)
        var raise: EventRecord?
        #expect(
            daemon.eventually(timeout: 30) {
                raise = try? daemon.client.events(filter: "monitor = \"queue-depth\"").events.first { $0.type.isRaise }
                return raise != nil
            }, "the monitor raised: \(daemon.stderr)")
        #expect(raise?.host == "web-7")
        #expect(raise?.labels == ["team": "storage", "dc": "monitor-says", "role": "db", "uid": String(getuid())])

        let appended = try daemon.client.appendEvent(
            EventAppendRequest(type: "above", monitorId: "app-monitor", message: "the application's queue is long"))
        #expect(appended.host == "web-7")
        #expect(appended.labels["dc"] == "fra1" && appended.labels["role"] == "db")
        #expect(appended.labels["source"] == "application" && appended.labels["uid"] == String(getuid()))
        // As stored, not only as answered.
        let stored = try daemon.client.events(filter: "monitor = \"app-monitor\"").events.first
        #expect(stored?.labels["role"] == "db" && stored?.host == "web-7")
    }

    @Test func metricsPutTheHostOnEverySeriesAndTheLabelsOnHostInfo() throws {
        let daemon = try DaemonHarness(configuration: HostIdentityTests.configuration)
        try daemon.waitForCycles(1)
        let text = try daemon.client.metrics()
        let samples = text.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(samples.count > 20)
        #expect(samples.contains("resmon_host_info{host=\"web-7\",dc=\"fra1\",role=\"db\"} 1"))
        let unhosted = samples.filter { !$0.contains("host=\"web-7\"") }
        #expect(unhosted.isEmpty, "series without the host: \(unhosted.prefix(5))")
        #expect(samples.contains { $0.hasPrefix("resmon_cpu_usage_ratio{resource=\"total\"") && $0.contains(",host=\"web-7\"} ") })
        #expect(samples.contains { $0.hasPrefix("resmon_busy{host=\"web-7\"} ") })
        // Fleet labels only on the info metric: they cost bytes on every series for nothing a
        // join on `host` does not give.
        #expect(!samples.contains { $0.contains("role=") && !$0.hasPrefix("resmon_host_info") })
    }

    /// Alertmanager keys alerts by their labels: a new identity waits for the next start.
    @Test func aReloadKeepsTheIdentityUntilTheNextStart() throws {
        let daemon = try DaemonHarness(configuration: HostIdentityTests.configuration)
        try daemon.directory.write("config/resmond.json", #"{"host": "web-8", "labels": {"dc": "ams1"}}"#)
        let reload = try daemon.client.reload()
        #expect(reload.restartRequired.contains("host") && reload.restartRequired.contains("labels"), "\(reload.restartRequired)")
        let status = try daemon.client.status()
        #expect(status.host == "web-7" && status.labels == ["dc": "fra1", "role": "db"])
    }

    @Test func withoutAHostTheHostnameIsUsed() throws {
        let daemon = try DaemonHarness()
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, 255)
        let hostname = String(cString: name)
        #expect(try daemon.client.status().host == hostname)
        #expect(try daemon.client.metrics().contains("resmon_host_info{host=\"\(hostname)\"} 1"))
    }

    @Test(arguments: [
        (#"{"labels": {"9dc": "x"}}"#, "labels.9dc", "not a Prometheus label name"),
        (#"{"labels": {"data-center": "x"}}"#, "labels.data-center", "not a Prometheus label name"),
        (#"{"labels": {"__dc": "x"}}"#, "labels.__dc", "reserved for Prometheus"),
        (#"{"labels": {"instance": "x"}}"#, "labels.instance", "reserved"),
        (#"{"labels": {"host": "x"}}"#, "labels.host", "reserved"),
        (#"{"labels": {"dc": ""}}"#, "labels.dc", "must not be empty"),
        (#"{"labels": {"dc": 3}}"#, "labels.dc", "expected a string"),
        (#"{"labels": ["dc"]}"#, "labels", "expected an object"),
        (#"{"host": "web 7"}"#, "host", "expected letters"),
        (#"{"host": ""}"#, "host", "must not be empty")
    ])
    func aBadHostOrLabelIsRefusedNamingTheKey(text: String, key: String, reason: String) throws {
        let directory = TemporaryDirectory("resmon-identity")
        try directory.write("resmond.json", text)
        let result = try Products.run(Products.path("resmond"), ["--config-dir", directory.path, "--check-config"])
        #expect(result.status == 1)
        #expect(result.error.contains("key \(key): ") && result.error.contains(reason), "\(text): \(result.error)")
    }
}

extension HostIdentityTests {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus-alertmanager")))
    func alertmanagerAlertsCarryTheHostAndItsLabels() throws {
        let alertmanager = try Alertmanager()
        let daemon = try DaemonHarness(
            configuration: """
                {"host": "web-7", "labels": {"dc": "fra1", "role": "db"},
                 "sinks": {"am": {"type": "alertmanager", "url": "http://127.0.0.1:\(alertmanager.port)", "resendSeconds": 1,
                                  "maxBackoffSeconds": 1}}}
                """)
        _ = try daemon.client.push("app:test:level", value: 0)
        var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        spec.id = "queue-depth"
        spec.labels = ["team": "storage"]
        _ = try daemon.client.createMonitors([spec])
        _ = try daemon.client.push("app:test:level", value: 75)
        var firing: Alertmanager.Alert?
        #expect(
            daemon.eventually(timeout: 30) {
                firing = alertmanager.alerts()?.first { $0.labels["monitor"] == "queue-depth" }
                return firing?.status.state == "active"
            }, "\(daemon.stderr)")
        #expect(firing?.labels["host"] == "web-7")
        #expect(firing?.labels["dc"] == "fra1" && firing?.labels["role"] == "db" && firing?.labels["team"] == "storage")
    }
}

extension HostIdentityTests {
    /// A syslog line's HOSTNAME is the configured host, and its labels the event's.
    @Test func syslogLinesNameTheConfiguredHost() throws {
        let directory = TemporaryDirectory("resmon-identity-syslog")
        let path = directory.file("log.sock")
        let receiver = try DatagramReceiver(path: path)
        let daemon = try DaemonHarness(
            configuration: #"{"host": "web-7", "labels": {"dc": "fra1"}, "sinks": {"log": {"type": "syslog", "socket": "\#(path)"}}}"#)
        _ = try daemon.client.push("app:test:level", value: 0)
        var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        spec.id = "queue-depth"
        _ = try daemon.client.createMonitors([spec])
        _ = try daemon.client.push("app:test:level", value: 75)
        let line = receiver.receive(timeout: 30) ?? ""
        #expect(line.contains("Z web-7 resmond ") && line.contains(#"[labels@32473 dc="fra1" uid="\#(getuid())"]"#), "\(line)")
    }
}
