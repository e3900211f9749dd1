import Foundation
import HTTPClient
import ResmonAPI
import ResmonTestSupport
import Testing

/// The real Prometheus from Debian on 127.0.0.1 as a remote-write receiver
/// (`--web.enable-remote-write-receiver`) unless told otherwise; its storage outlives a stop, so
/// a restart keeps what it had received.
final class PrometheusReceiver {
    let directory = TemporaryDirectory("resmon-prometheus")
    let port: Int
    private let receiver: Bool
    private var process: SpawnedGroup?

    init(receiver: Bool = true) throws {
        self.receiver = receiver
        port = try freePort()
        try directory.write("prometheus.yml", "global:\n  scrape_interval: 1m\n")
        try start()
    }

    var writeURL: String { "http://127.0.0.1:\(port)/api/v1/write" }

    func start() throws {
        process = try SpawnedGroup(
            "/usr/bin/prometheus",
            [
                "--config.file=" + directory.file("prometheus.yml"), "--storage.tsdb.path=" + directory.file("data"),
                "--web.listen-address=127.0.0.1:\(port)"
            ] + (receiver ? ["--web.enable-remote-write-receiver"] : []))
        guard eventually(timeout: 60, { ready }) else { throw DaemonHarness.NotReady(description: "Prometheus did not become ready") }
    }

    func stop() {
        process?.stop()
        process = nil
    }

    var ready: Bool { (try? HTTPClient.fetch("http://127.0.0.1:\(port)/-/ready", timeoutMilliseconds: 2000, maximumBytes: 4096))?.status == 200 }

    struct Series: Decodable {
        let metric: [String: String]
        let value: [Value]?
        let values: [[Value]]?
    }

    /// A number or a string, as the query API mixes them in `[time, "value"]`.
    enum Value: Decodable {
        case number(Double)
        case text(String)

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Double.self) { self = .number(number) } else { self = .text(try container.decode(String.self)) }
        }

        var number: Double? {
            switch self {
            case .number(let number): number
            case .text(let text): Double(text)
            }
        }
    }

    private struct Answer: Decodable {
        struct Result: Decodable { let result: [Series] }
        let status: String
        let data: Result?
    }

    /// An instant query's series (a range selector gives each its samples in `values`); nil
    /// while Prometheus does not answer.
    func query(_ expression: String) -> [Series]? {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "_")
        let encoded = expression.addingPercentEncoding(withAllowedCharacters: allowed) ?? expression
        guard let answer = try? HTTPClient.fetch("http://127.0.0.1:\(port)/api/v1/query?query=" + encoded, timeoutMilliseconds: 5000, maximumBytes: 16 << 20),
            answer.status == 200
        else { return nil }
        return (try? JSONDecoder().decode(Answer.self, from: Data(answer.body)))?.data?.result
    }

    deinit { stop() }
}

let prometheusInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus")

/// Prometheus remote_write end to end, against the real Prometheus (issue 21).
@Suite(.serialized) struct RemoteWriteTests {
    /// What resmond pushes is what a scrape of `/metrics` would have given: the same name, the
    /// same labels, plus `job` and `instance`; and `/v1/status` and `/metrics` count it.
    @Test(.enabled(if: prometheusInstalled)) func pushedSeriesAreQueriedBackFromPrometheus() throws {
        let prometheus = try PrometheusReceiver()
        let daemon = try DaemonHarness(
            configuration: """
                {"remoteWrite": {"url": "\(prometheus.writeURL)", "intervalSeconds": 1, "labels": {"instance": "test-host"}}}
                """)
        _ = try daemon.client.push("app:queue:depth", value: 42)
        var found: [PrometheusReceiver.Series] = []
        #expect(
            daemon.eventually(timeout: 60) {
                found = prometheus.query(#"resmon_app_depth{instance="test-host"}"#) ?? []
                return found.first?.value?.last?.number == 42
            }, "the pushed statistic never reached Prometheus: \(daemon.stderr)")
        let series = try #require(found.first)
        #expect(series.metric["job"] == "resmon" && series.metric["resource"] == "queue")
        // The labels /metrics shows for the same series, plus job and instance.
        let metrics = try daemon.client.metrics()
        let line = try #require(metrics.split(separator: "\n").first { $0.hasPrefix("resmon_app_depth{") })
        let exposed = line.drop { $0 != "{" }.dropFirst().prefix { $0 != "}" }.split(separator: ",").map { String($0.prefix { $0 != "=" }) }
        #expect(Set(series.metric.keys) == Set(exposed + ["__name__", "job", "instance"]))
        // Built-in statistics too, and their samples keep coming.
        #expect(
            daemon.eventually(timeout: 60) {
                (prometheus.query(#"count_over_time(resmon_self_rss_bytes{instance="test-host"}[5m])"#)?.first?.value?.last?.number ?? 0) >= 3
            })
        let status = try #require(try daemon.client.status().remoteWrite)
        #expect(status.samplesSent > 0 && status.samplesFailed == 0 && status.samplesDropped == 0)
        let exposition = try daemon.client.metrics()
        #expect(exposition.contains("resmon_remote_write_samples_sent_total "))
        let promtool = try Products.run("/usr/bin/promtool", ["check", "metrics"], input: exposition)
        #expect(promtool.status == 0, "promtool: \(promtool.output) \(promtool.error)")
    }

    /// Prometheus away for a while: resmond queues, retries with back-off, and once Prometheus is
    /// back (same storage) the samples taken during the outage arrive with their own times.
    @Test(.enabled(if: prometheusInstalled)) func samplesTakenDuringAnOutageArriveAfterIt() throws {
        let prometheus = try PrometheusReceiver()
        let daemon = try DaemonHarness(
            configuration: """
                {"remoteWrite": {"url": "\(prometheus.writeURL)", "intervalSeconds": 1, "maxBackoffSeconds": 1,
                                 "match": "^self:resmond:rss_bytes$", "labels": {"instance": "outage"}}}
                """)
        let query = #"resmon_self_rss_bytes{instance="outage"}[30m]"#
        func times() -> [Double] { prometheus.query(query)?.first?.values?.compactMap { $0.first?.number } ?? [] }
        #expect(daemon.eventually(timeout: 60) { !times().isEmpty }, "nothing arrived before the outage: \(daemon.stderr)")
        prometheus.stop()
        let outageStarted = Date().timeIntervalSince1970
        // Several steps' samples wait in the queue, and the sender has retried.
        #expect(
            daemon.eventually(timeout: 60) {
                guard let status = try? daemon.client.status().remoteWrite else { return false }
                return status.queuedSamples >= 5 && status.retries >= 2
            })
        let outageEnded = Date().timeIntervalSince1970
        try prometheus.start()
        #expect(
            daemon.eventually(timeout: 60) {
                times().contains { $0 > outageStarted + 1 && $0 < outageEnded - 1 }
            }, "no sample taken during the outage arrived: \(daemon.stderr)")
        let during = times().filter { $0 > outageStarted && $0 < outageEnded }
        #expect(during.count >= 3, "\(during)")
        #expect(daemon.eventually(timeout: 30) { (try? daemon.client.status().remoteWrite?.queuedSamples) == 0 })
        let status = try #require(try daemon.client.status().remoteWrite)
        #expect(status.samplesDropped == 0 && status.samplesFailed == 0 && status.lastError == nil)
        #expect(daemon.stderr.contains("retrying with back-off") && daemon.stderr.contains("accepts samples again"))
    }

    /// A receiver that refuses (4xx: here Prometheus without its receiver, 404) gets each batch
    /// once: logged, counted, dropped, never retried; a port nobody listens on is retried. The
    /// daemon keeps running either way.
    @Test(.enabled(if: prometheusInstalled)) func refusedBatchesAreDroppedAndUnreachableOnesRetried() throws {
        let prometheus = try PrometheusReceiver(receiver: false)
        let refused = try DaemonHarness(
            configuration: """
                {"remoteWrite": {"url": "\(prometheus.writeURL)", "intervalSeconds": 1, "match": "^self:"}}
                """)
        #expect(refused.eventually(timeout: 60) { ((try? refused.client.status().remoteWrite?.samplesFailed) ?? 0) > 0 })
        let status = try #require(try refused.client.status().remoteWrite)
        #expect(status.retries == 0 && status.samplesSent == 0)
        #expect(status.lastError?.hasPrefix("HTTP 404") == true, "\(status)")
        #expect(refused.stderr.contains("refused") && refused.stderr.contains("dropped"), "\(refused.stderr)")
        try refused.waitForCycles(2)

        let unreachable = try DaemonHarness(
            configuration: """
                {"remoteWrite": {"url": "http://127.0.0.1:\(try freePort())/api/v1/write", "intervalSeconds": 1, "maxBackoffSeconds": 1}}
                """)
        #expect(unreachable.eventually(timeout: 60) { ((try? unreachable.client.status().remoteWrite?.retries) ?? 0) >= 2 })
        let waiting = try #require(try unreachable.client.status().remoteWrite)
        #expect(waiting.samplesFailed == 0 && waiting.queuedSamples > 0 && waiting.lastError?.contains("connect") == true, "\(waiting)")
        try unreachable.waitForCycles(2)
    }

    /// A reload starts remote_write, and a later one without it stops it; resmond serves throughout.
    @Test func aReloadStartsAndStopsRemoteWrite() throws {
        let daemon = try DaemonHarness()
        #expect(try daemon.client.status().remoteWrite == nil)
        let url = "http://127.0.0.1:\(try freePort())/api/v1/write"
        try daemon.directory.write("config/resmond.json", #"{"remoteWrite": {"url": "\#(url)", "intervalSeconds": 1}}"#)
        _ = try daemon.client.reload()
        #expect(daemon.eventually(timeout: 30) { ((try? daemon.client.status().remoteWrite?.retries) ?? 0) >= 1 })
        try daemon.directory.write("config/resmond.json", "{}")
        _ = try daemon.client.reload()
        #expect(try daemon.client.status().remoteWrite == nil)
        try daemon.waitForCycles(2)
    }

    @Test func badRemoteWriteConfigurationIsRefusedWithTheKey() throws {
        let cases: [(String, String)] = [
            (#"{"remoteWrite": {}}"#, "remoteWrite.url"),
            (#"{"remoteWrite": {"url": "ftp://host/write"}}"#, "remoteWrite.url"),
            (#"{"remoteWrite": {"url": "http://h/w", "batchSamples": 0}}"#, "remoteWrite.batchSamples"),
            (#"{"remoteWrite": {"url": "http://h/w", "batchSamples": 500, "queueSamples": 100}}"#, "remoteWrite.queueSamples"),
            (#"{"remoteWrite": {"url": "http://h/w", "match": "("}}"#, "remoteWrite.match"),
            (#"{"remoteWrite": {"url": "http://h/w", "labels": {"__name__": "x"}}}"#, "remoteWrite.labels.__name__"),
            (#"{"remoteWrite": {"url": "http://h/w", "headers": {"X-A": "a\nb"}}}"#, "remoteWrite.headers.X-A"),
            (#"{"remoteWrite": {"url": "http://h/w", "tokenFile": "/nonexistent/token"}}"#, "remoteWrite.tokenFile"),
            (#"{"remoteWrite": {"url": "http://h/w", "headers": {"Content-Encoding": "gzip"}}}"#, "remoteWrite.headers.Content-Encoding"),
            (#"{"remoteWrite": {"url": "http://h/w", "colour": "red"}}"#, "remoteWrite.colour")
        ]
        for (text, key) in cases {
            let directory = TemporaryDirectory("resmon-remote-write-config")
            try directory.write("config/resmond.json", text)
            let result = try Products.run(Products.path("resmond"), ["--config-dir", directory.file("config"), "--check-config"])
            #expect(result.status != 0 && result.error.contains("key \(key)"), "\(text): \(result.error)")
        }
    }
}
