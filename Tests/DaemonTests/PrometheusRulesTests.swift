import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

/// Issue 21: `resmon export prometheus-rules` turns threshold monitors into an alerting-rules
/// file that promtool accepts and whose expressions select the series resmond exports.
@Suite struct PrometheusRulesTests {
    static let promtool = "/usr/bin/promtool"

    static func monitors(_ daemon: DaemonHarness) throws {
        _ = try daemon.client.push("app:test:level", value: 0)
        _ = try daemon.client.push("app:test:jobs_total", value: 1, kind: "counter")
        var depth = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        depth.id = "queue-depth"
        depth.name = "Queue depth (test) > 50"
        depth.samples = 3
        depth.severity = "crit"
        depth.cancelValue = 20
        depth.labels = ["team": "storage", "on-call": "yes"]
        depth.annotations = ["runbook": "https://example.invalid/queue", "note": "literal {{ braces }}"]
        var jobs = MonitorSpec(target: "app:test:jobs_total", condition: "above", value: 10)
        jobs.id = "jobs-rate"
        var near = MonitorSpec(target: "app:test:level", condition: "at", value: 5)
        near.id = "level-at"
        near.tolerance = 1
        near.transform = "change"
        var falling = MonitorSpec(target: "app:test:level", condition: "below", value: -3)
        falling.id = "level-falling"
        falling.transform = "rate"
        falling.monitoringRate = 2
        var bucket = MonitorSpec(target: "app:test:jobs_total", type: "leakyBucket")
        bucket.id = "bucket"
        bucket.bucketSize = 10
        bucket.fillValue = 1
        var mark = MonitorSpec(target: "app:test:level", type: "watermark")
        mark.id = "mark"
        var sum = MonitorSpec(target: .selection(MonitorSelection(select: "^app:test:", aggregate: "sum")), condition: "above", value: 1)
        sum.id = "sum"
        var armed = MonitorSpec(target: "app:test:level", condition: "above", value: 1)
        armed.id = "armed"
        armed.precondition = MonitorPrecondition(armed: true)
        _ = try daemon.client.createMonitors([depth, jobs, near, falling, bucket, mark, sum, armed])
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: promtool)))
    func theExportPassesPromtoolAndListsWhatItSkips() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "none", "--step", "1"])
        try PrometheusRulesTests.monitors(daemon)
        let file = daemon.directory.file("rules.yml")
        let export = try Products.run(
            Products.path("resmon"), ["export", "prometheus-rules", "--output", file, "--socket", daemon.socket])
        #expect(export.status == 0, "\(export.error)")
        #expect(export.error.contains("4 alerting rules written, 4 monitors skipped"), "\(export.error)")
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let check = try Products.run(PrometheusRulesTests.promtool, ["check", "rules", file])
        #expect(check.status == 0 && check.output.contains("SUCCESS: 4 rules found"), "\(check.output)\(check.error)\n\(text)")

        #expect(text.contains(#"- alert: "Queue_depth_test_50""#), "\(text)")
        #expect(text.contains(#"expr: "resmon_app_level{resource=\"test\"} > 50""#))
        // samples × rate: 3 readings at the 1 s step.
        #expect(text.contains("for: 3s"))
        #expect(text.contains(#"on_call: "yes""#) && text.contains(#"severity: "crit""#) && text.contains(#"monitor: "queue-depth""#))
        #expect(text.contains("cancelValue and cancelSamples are not expressed"))
        #expect(text.components(separatedBy: "are not expressed").count == 2, "only the monitor with a cancelValue has the note")
        // A counter's value in resmon is its rate.
        #expect(text.contains(#"expr: "rate(resmon_app_jobs_total{resource=\"test\"}[60s]) > 10""#), "\(text)")
        #expect(text.contains(#"abs((resmon_app_level{resource=\"test\"} - resmon_app_level{resource=\"test\"} offset 1s) - 5) <= 1"#))
        #expect(text.contains(#"(resmon_app_level{resource=\"test\"} - resmon_app_level{resource=\"test\"} offset 2s) / 2 < -3"#))
        for (monitor, reason) in [
            ("bucket", "a leaky bucket"), ("mark", "a watermark"), ("sum", "a selection target"), ("armed", "a precondition")
        ] {
            #expect(text.contains("# skipped \(monitor): \(reason)"), "\(monitor): \(text)")
        }
    }

    @Test func aWrongExportIsAUsageError() throws {
        let daemon = try DaemonHarness()
        let export = try Products.run(Products.path("resmon"), ["export", "grafana", "--socket", daemon.socket])
        #expect(export.status == 64 && export.error.contains("expected prometheus-rules"), "\(export.error)")
    }

    /// The expression selects the series resmond exports: a real Prometheus scraping a real
    /// resmond fires the exported alert when the pushed value crosses the threshold, and
    /// resolves it when it falls back, as resmond's own monitor does.
    @Test(
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus")
                && FileManager.default.isExecutableFile(atPath: promtool)))
    func aRealPrometheusFiresTheExportedRule() throws {
        let port = try freePort()
        let daemon = try DaemonHarness(
            arguments: ["--listen", "127.0.0.1:\(port)", "--step", "1"], configuration: #"{"host": "rules-host"}"#)
        _ = try daemon.client.push("app:test:level", value: 0)
        var depth = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        depth.id = "queue-depth"
        depth.samples = 2
        _ = try daemon.client.createMonitors([depth])
        let export = try Products.run(
            Products.path("resmon"), ["export", "prometheus-rules", "--this-host", "--socket", daemon.socket])
        #expect(export.status == 0 && export.output.contains(#"host=\"rules-host\""#), "\(export.output)\(export.error)")
        let prometheus = try PrometheusServer(
            configuration: """
                global: {scrape_interval: 1s, evaluation_interval: 1s}
                rule_files: [rules.yml]
                scrape_configs:
                  - job_name: resmond
                    static_configs: [{targets: ["127.0.0.1:\(port)"]}]
                """,
            files: ["rules.yml": export.output])
        #expect(
            daemon.eventually(timeout: 60) { prometheus.query(#"resmon_app_level{host="rules-host"}"#)?.first?.number == 0 },
            "Prometheus scrapes the pushed statistic")
        #expect(prometheus.alerts()?.isEmpty == true)
        _ = try daemon.client.push("app:test:level", value: 75)
        // A pushed statistic is one reading per push for resmond's samples; Prometheus' `for` is time.
        try daemon.waitForCycles(2)
        _ = try daemon.client.push("app:test:level", value: 76)
        var firing: PrometheusServer.Alert?
        #expect(
            daemon.eventually(timeout: 60) {
                firing = prometheus.alerts()?.first { $0.labels["monitor"] == "queue-depth" && $0.state == "firing" }
                return firing != nil
            }, "the exported rule fires: \(prometheus.alerts().map { "\($0)" } ?? "no answer")")
        #expect(firing?.labels["host"] == "rules-host" && firing?.labels["statistic"] == "app:test:level")
        #expect(firing?.labels["alertname"] == "app_test_level_above_50")
        #expect(daemon.eventually(timeout: 30) { (try? daemon.client.monitor("queue-depth").state.phase) == "raised" }, "resmond's own monitor too")
        _ = try daemon.client.push("app:test:level", value: 1)
        #expect(
            daemon.eventually(timeout: 60) { prometheus.alerts().map { !$0.contains { $0.labels["monitor"] == "queue-depth" } } == true },
            "the alert resolves")
    }
}
