import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Statistics
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct PluginTests {
    @Test func theTextFormatParserKeepsGoodLinesAndNamesTheBadOnes() {
        let text = """
            # HELP demo_requests_total Requests served.
            # TYPE demo_requests_total counter
            demo_requests_total{path="/a",code="200"} 17 1700000000000
            demo_requests_total{path="/b\\"q\\"",code="500"} 3
            # TYPE demo_latency_seconds histogram
            demo_latency_seconds_bucket{le="+Inf"} 20
            demo_latency_seconds_sum 1.5
            temperature 42.5
            broken{path="/a" 1
            # TYPE odd strange
            no_value
            """
        let (samples, errors) = PrometheusText.parse(Array(text.utf8))
        #expect(
            samples.map(\.name) == [
                "demo_requests_total", "demo_requests_total", "demo_latency_seconds_bucket",
                "demo_latency_seconds_sum", "temperature"
            ])
        #expect(samples[0].labels == ["path": "/a", "code": "200"] && samples[0].type == "counter" && samples[0].help == "Requests served.")
        #expect(samples[1].labels["path"] == "/b\"q\"")
        #expect(samples[2].type == "histogram" && samples[2].value == 20)
        #expect(samples[4].type == "untyped" && samples[4].value == 42.5)
        #expect(errors.map(\.line) == [9, 10, 11])
    }

    static func script(_ directory: TemporaryDirectory, _ name: String, _ body: String) throws -> String {
        let path = directory.file(name)
        try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    @Test func anExecPluginIsASubsystemWhoseStatisticsCarryMonitors() throws {
        let directory = TemporaryDirectory("resmon-plugin-exec")
        let count = directory.file("count")
        let program = try Self.script(
            directory, "demo.sh",
            """
            n=$(cat \(count) 2>/dev/null || echo 0); n=$((n+5)); echo $n > \(count)
            echo '# TYPE demo_requests_total counter'
            echo "demo_requests_total{path=\\"/a\\"} $n"
            echo '# TYPE demo_temperature gauge'
            echo 'demo_temperature 42.5'
            echo 'this is not a metric'
            """)
        try directory.write("config/subsystems.d/demo.json", #"{"kind": "exec", "command": ["\#(program)"], "interval": 1}"#)
        let daemon = try DaemonHarness(directory: directory)
        #expect(daemon.eventually { (try? daemon.client.statistic("demo:_:demo_temperature").value) == 42.5 })
        let counter = try daemon.client.statistic("demo:path=/a:demo_requests_total")
        #expect(counter.kind == "counter" && counter.labels["path"] == "/a" && counter.labels["metric"] == "demo_requests_total")
        #expect(daemon.eventually { ((try? daemon.client.statistic("demo:path=/a:demo_requests_total").value) ?? 0) > 0 }, "a rate")
        let status = try #require(try daemon.client.subsystems().first { $0.name == "demo" })
        #expect(status.plugin == "exec" && status.state == "available" && status.malformedLines == 1)
        #expect(status.lastError?.contains("line 5") == true, "\(status.lastError ?? "")")
        _ = try daemon.client.createMonitors([MonitorSpec(target: "demo:_:demo_temperature", condition: "above", value: 40)])
        #expect(daemon.eventually { (try? daemon.client.events().events.contains { $0.type == "above" }) == true })
        #expect(try daemon.client.metrics().contains("demo"))
        #expect(try daemon.client.events(filter: "type = subsystemConfigurationChange").events.first?.message.contains("demo added") == true)
    }

    @Test func oversizedHangingAndFailingPluginsAreReportedAndNeverStopTheDaemon() throws {
        let directory = TemporaryDirectory("resmon-plugin-bad")
        let flood = try Self.script(directory, "flood.sh", "head -c 200000 /dev/zero | tr '\\\\0' 'x'")
        let hang = try Self.script(directory, "hang.sh", "echo $$ > \(directory.file("hang.pid")); exec sleep 60")
        let fail = try Self.script(directory, "fail.sh", "echo 'ok 1'; exit 3")
        try directory.write("config/subsystems.d/flood.json", #"{"kind": "exec", "command": ["\#(flood)"], "interval": 1, "maxBytes": 1024}"#)
        try directory.write("config/subsystems.d/hang.json", #"{"kind": "exec", "command": ["\#(hang)"], "interval": 1, "timeout": 1}"#)
        try directory.write("config/subsystems.d/fail.json", #"{"kind": "exec", "command": ["\#(fail)"], "interval": 1}"#)
        try directory.write("config/subsystems.d/cpu.json", #"{"kind": "exec", "command": ["/bin/true"]}"#)  // a built-in's name
        let daemon = try DaemonHarness(directory: directory)
        func reason(_ name: String) -> String { ((try? daemon.client.subsystems()) ?? []).first { $0.name == name }?.reason ?? "" }
        #expect(daemon.eventually { reason("flood").contains("more than 1024 bytes") })
        #expect(daemon.eventually(timeout: 15) { reason("hang").contains("ran past its timeout") })
        let hung = pid_t((try? String(contentsOfFile: directory.file("hang.pid"), encoding: .utf8))?.filter(\.isNumber) ?? "") ?? 0
        #expect(hung > 0 && daemon.eventually { kill(hung, 0) != 0 }, "the hung plug-in's group is killed")
        #expect(daemon.eventually { reason("fail").contains("exited with 3") })
        #expect(daemon.eventually(timeout: 30) { daemon.stderr.contains("subsystems.d/cpu.json") })
        #expect(try daemon.client.health().status == "ok")
    }

    @Test func aTextfileRewrittenInALoopIsNeverHalfRead() throws {
        let directory = TemporaryDirectory("resmon-plugin-textfile")
        let textfiles = directory.file("textfile")
        mkdir(textfiles, 0o755)
        try directory.write("config/subsystems.d/batch.json", #"{"kind": "textfile", "path": "\#(textfiles)", "interval": 1}"#)
        let daemon = try DaemonHarness(directory: directory)
        let stop = ResmonTestSupport.Mutex(false)
        let done = DispatchSemaphore(value: 0)
        let path = textfiles + "/jobs.prom"
        Thread.detachNewThread {
            var round = 0
            while !stop.get() {
                round += 1
                // Rewritten in place, in two writes with a pause between: a reader that took
                // the file in the middle would see x and y disagree, or a cut line.
                let text = "batch_x \(round)\n" + String(repeating: "# padding\n", count: 200) + "batch_y \(round)\n"
                let bytes = Array(text.utf8)
                let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, bytes.count / 2) }
                usleep(3000)
                _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + bytes.count / 2, bytes.count - bytes.count / 2) }
                close(descriptor)
                usleep(40_000)
            }
            done.signal()
        }
        var checks = 0
        var disagreements = 0
        let deadline = Date().addingTimeInterval(8)
        while Date() < deadline {
            // Both in one request, which reads the table once: two requests could straddle a
            // sampling cycle and see two whole, different files.
            if let both = try? daemon.client.statistics(matching: "^batch:_:batch_[xy]$", where: []), both.count == 2,
                let x = both.first(where: { $0.key.hasSuffix("batch_x") })?.value, let y = both.first(where: { $0.key.hasSuffix("batch_y") })?.value
            {
                checks += 1
                if x != y { disagreements += 1 }
            }
            usleep(100_000)
        }
        stop.set(true)
        _ = done.wait(timeout: .now() + 5)
        #expect(checks > 10 && disagreements == 0, "\(disagreements) of \(checks) readings were half a file")
    }

    @Test func aReloadAddsAndRemovesAPluginWhileAMonitorIsOnIt() throws {
        let directory = TemporaryDirectory("resmon-plugin-reload")
        let program = try Self.script(directory, "level.sh", "echo 'level 90'")
        let declaration = #"{"kind": "exec", "command": ["\#(program)"], "interval": 1}"#
        try directory.write("config/subsystems.d/app2.json", declaration)
        let daemon = try DaemonHarness(directory: directory)
        #expect(daemon.eventually { (try? daemon.client.statistic("app2:_:level").value) == 90 })
        var spec = MonitorSpec(target: "app2:_:level", condition: "above", value: 50)
        spec.id = "level"
        _ = try daemon.client.createMonitors([spec])
        #expect(daemon.eventually { (try? daemon.client.monitor("level").state.phase) == "raised" })
        try FileManager.default.removeItem(atPath: directory.file("config/subsystems.d/app2.json"))
        daemon.signal(SIGHUP)
        #expect(daemon.eventually { (try? daemon.client.statistic("app2:_:level")) == nil })
        #expect(daemon.eventually { (try? daemon.client.monitor("level").state.lastValue) == nil }, "the monitor goes unknown")
        #expect(daemon.eventually { (try? daemon.client.events().events.map(\.type).contains("resourceConfigurationChange")) == true })
        try directory.write("config/subsystems.d/app2.json", declaration)
        daemon.signal(SIGHUP)
        #expect(daemon.eventually { (try? daemon.client.monitor("level").state.lastValue) == 90 }, "and comes back")
        let changes = try daemon.client.events(filter: "type = subsystemConfigurationChange").events.map(\.message)
        #expect(changes.contains { $0.contains("app2 removed") } && changes.filter { $0.contains("app2 added") }.count == 2, "\(changes)")
    }

    @Test func theRegistryIsReReadEveryRefreshPeriodWithoutASignal() throws {
        let directory = TemporaryDirectory("resmon-plugin-refresh")
        let daemon = try DaemonHarness(configuration: #"{"registry": {"refreshSeconds": 1}}"#, directory: directory)
        let program = try Self.script(directory, "late.sh", "echo 'late_value 7'")
        try directory.write("config/subsystems.d/late.json", #"{"kind": "exec", "command": ["\#(program)"], "interval": 1}"#)
        #expect(daemon.eventually { (try? daemon.client.statistic("late:_:late_value").value) == 7 })
    }

    @Test func aScrapePluginReadsAPrometheusEndpoint() throws {
        // resmond's own /metrics is a Prometheus endpoint on loopback: it scrapes itself.
        let port = try freePort()
        let directory = TemporaryDirectory("resmon-plugin-scrape")
        try directory.write("config/subsystems.d/itself.json", #"{"kind": "scrape", "url": "http://127.0.0.1:\#(port)/metrics", "interval": 1}"#)
        // Its series carry `host`, which makes the scraped statistic's resource.
        try directory.write("config/resmond.json", #"{"host": "self"}"#)
        let daemon = try DaemonHarness(arguments: ["--listen", "127.0.0.1:\(port)", "--step", "1"], directory: directory)
        #expect(daemon.eventually { (try? daemon.client.statistic("itself:host=self:resmon_busy").value) == 0 })
        #expect(try daemon.client.subsystems().first { $0.name == "itself" }?.plugin == "scrape")
    }

    /// resmond's own GET for plain HTTP: a chunked answer is decoded; a closed port and an
    /// answer that is not HTTP are reported, and the daemon keeps running.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")))
    func aScrapeDecodesChunkedAnswersAndReportsBadEndpoints() throws {
        let server = """
            import socket, sys
            listener = socket.socket(); listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", int(sys.argv[1]))); listener.listen(8)
            while True:
                connection, _ = listener.accept(); connection.recv(65536)
                if sys.argv[2] == "garbage":
                    connection.sendall(b"garbage\\r\\n\\r\\n")
                else:
                    body = b"# TYPE chunked_value gauge\\nchunked_value 42\\n"
                    connection.sendall(b"HTTP/1.1 200 OK\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n"
                                       + b"%x\\r\\n" % 10 + body[:10] + b"\\r\\n" + b"%x\\r\\n" % (len(body) - 10) + body[10:] + b"\\r\\n0\\r\\n\\r\\n")
                connection.close()
            """
        let (chunkedPort, garbagePort, closedPort) = (try freePort(), try freePort(), try freePort())
        let chunked = try SpawnedGroup("/usr/bin/python3", ["-c", server, "\(chunkedPort)", "chunked"])
        defer { chunked.stop() }
        let garbage = try SpawnedGroup("/usr/bin/python3", ["-c", server, "\(garbagePort)", "garbage"])
        defer { garbage.stop() }
        let directory = TemporaryDirectory("resmon-plugin-http")
        for (name, port) in [("chunked", chunkedPort), ("garbage", garbagePort), ("closed", closedPort)] {
            try directory.write("config/subsystems.d/\(name).json", #"{"kind": "scrape", "url": "http://127.0.0.1:\#(port)/metrics", "interval": 1}"#)
        }
        let daemon = try DaemonHarness(directory: directory)
        func reason(_ name: String) -> String { ((try? daemon.client.subsystems()) ?? []).first { $0.name == name }?.reason ?? "" }
        #expect(daemon.eventually(timeout: 20) { (try? daemon.client.statistic("chunked:_:chunked_value").value) == 42 })
        #expect(daemon.eventually(timeout: 20) { reason("garbage").contains("not an HTTP answer") }, "\(reason("garbage"))")
        #expect(daemon.eventually(timeout: 20) { reason("closed").contains("cannot connect") }, "\(reason("closed"))")
        #expect(try daemon.client.health().status == "ok")
    }
}

/// `/metrics` re-exports plug-ins' families with the type their source declared, under names
/// that follow Prometheus' conventions: node_exporter's output, which promtool does not pass
/// itself (camel case, bits), passes once resmond re-exports it. The node_exporter tests run
/// one at a time: two exporters started at once could be given the same free port.
@Suite(.serialized) struct PluginExpositionTests {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus-node-exporter")))
    func nodeExporterIsASubsystemAndOneOfItsMetricsRaisesAMonitor() throws {
        let port = try freePort()
        let exporter = try SpawnedGroup(
            "/usr/bin/prometheus-node-exporter",
            [
                "--web.listen-address=127.0.0.1:\(port)",
                "--collector.disable-defaults", "--collector.loadavg",
                "--collector.time"
            ])
        defer { exporter.stop() }
        let directory = TemporaryDirectory("resmon-plugin-node")
        try directory.write("config/subsystems.d/node.json", #"{"kind": "scrape", "url": "http://127.0.0.1:\#(port)/metrics", "interval": 1}"#)
        let daemon = try DaemonHarness(directory: directory)
        #expect(daemon.eventually(timeout: 15) { (try? daemon.client.statistic("node:_:node_time_seconds").value ?? 0) ?? 0 > 1e9 })
        _ = try daemon.client.createMonitors([MonitorSpec(target: "node:_:node_time_seconds", condition: "above", value: 1e9)])
        #expect(daemon.eventually { (try? daemon.client.events().events.contains { $0.type == "above" && $0.key == "node:_:node_time_seconds" }) == true })
        #expect(try daemon.client.statistic("node:_:node_load1").kind == "gauge")
        // A plain-HTTP scrape goes without libcurl, and the 8 MB that loading it costs.
        let maps = try String(contentsOfFile: "/proc/\(daemon.process.pid)/maps", encoding: .utf8)
        #expect(!maps.contains("libcurl"))
    }

    @Test(
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus-node-exporter")
                && FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool")))
    func metricsWithNodeExporterAndAHistogramPluggedInPassPromtool() throws {
        let port = try freePort()
        // Every default collector, as the README's tour runs it.
        let exporter = try SpawnedGroup("/usr/bin/prometheus-node-exporter", ["--web.listen-address=127.0.0.1:\(port)"])
        defer { exporter.stop() }
        let directory = TemporaryDirectory("resmon-plugin-promtool")
        let program = try PluginTests.script(
            directory, "latency.sh",
            """
            echo '# HELP demo_latency_milliseconds Request latency.'
            echo '# TYPE demo_latency_milliseconds histogram'
            echo 'demo_latency_milliseconds_bucket{path="/a",le="50"} 7'
            echo 'demo_latency_milliseconds_bucket{path="/a",le="+Inf"} 9'
            echo 'demo_latency_milliseconds_bucket{path="/a",le="5"} 3'
            echo 'demo_latency_milliseconds_sum{path="/a"} 420'
            echo 'demo_latency_milliseconds_count{path="/a"} 9'
            echo '# TYPE demo_Queue_Total gauge'
            echo 'demo_Queue_Total 4'
            echo '# TYPE demo_jobs counter'
            echo 'demo_jobs 12'
            """)
        try directory.write("config/subsystems.d/node.json", #"{"kind": "scrape", "url": "http://127.0.0.1:\#(port)/metrics", "interval": 1}"#)
        try directory.write("config/subsystems.d/demo.json", #"{"kind": "exec", "command": ["\#(program)"], "interval": 1}"#)
        // Every series carries the host last (docs/FLEET.md).
        try directory.write("config/resmond.json", #"{"host": "h"}"#)
        let daemon = try DaemonHarness(directory: directory)
        var metrics = ""
        let complete = daemon.eventually(timeout: 30) {
            metrics = (try? daemon.client.metrics()) ?? ""
            // A plug-in's run comes in whole: one series of each means all of them.
            // The entropy collector tells this test's exporter from another holding the port.
            return ["resmon_node_go_gc_duration_seconds", "resmon_node_node_entropy_", "resmon_demo_demo_latency_"].allSatisfy { metrics.contains($0) }
        }
        try #require(complete, "node_exporter's and the demo's series in /metrics:\n\(metrics.prefix(2000))\n\(daemon.stderr)")
        let check = try Products.run("/usr/bin/promtool", ["check", "metrics"], input: metrics)
        #expect(
            check.status == 0 && check.output.isEmpty && check.error.isEmpty,
            "promtool: status \(check.status)\n\(check.output)\(check.error)")

        let lines = metrics.split(separator: "\n").map(String.init)
        #expect(lines.contains("# TYPE resmon_node_go_gc_duration_seconds summary"))
        #expect(lines.contains { $0.hasPrefix("resmon_node_go_gc_duration_seconds{quantile=\"0.5\",host=\"h\"} ") })
        let histogram = lines.filter { $0.contains("resmon_demo_demo_latency") && !$0.hasPrefix("# HELP") }
        #expect(
            histogram == [
                "# TYPE resmon_demo_demo_latency_seconds histogram",
                "resmon_demo_demo_latency_seconds_bucket{le=\"0.005\",path=\"/a\",host=\"h\"} 3",
                "resmon_demo_demo_latency_seconds_bucket{le=\"0.05\",path=\"/a\",host=\"h\"} 7",
                "resmon_demo_demo_latency_seconds_bucket{le=\"+Inf\",path=\"/a\",host=\"h\"} 9",
                "resmon_demo_demo_latency_seconds_sum{path=\"/a\",host=\"h\"} 0.42",
                "resmon_demo_demo_latency_seconds_count{path=\"/a\",host=\"h\"} 9"
            ])
        #expect(lines.contains("# TYPE resmon_demo_demo_queue gauge") && lines.contains("resmon_demo_demo_queue{host=\"h\"} 4"))
        #expect(lines.contains("# TYPE resmon_demo_demo_jobs_total counter") && lines.contains("resmon_demo_demo_jobs_total{host=\"h\"} 12"))
        #expect(lines.contains("# TYPE resmon_node_node_entropy_available_bytes gauge"))

        // The statistics behind them, as the API shows them.
        let sum = try daemon.client.statistic("demo:path=/a:demo_latency_seconds_sum")
        #expect(sum.kind == "counter" && sum.total == 0.42 && sum.labels["metric"] == "demo_latency_milliseconds_sum")
        #expect(try daemon.client.statistic("demo:le=0.05,path=/a:demo_latency_seconds_bucket").total == 7)
        #expect(try daemon.client.statistic("node:quantile=0.5:go_gc_duration_seconds").kind == "gauge")
        #expect(try daemon.client.statistic("node:_:node_memory_hugepages").kind == "gauge")
    }
}
