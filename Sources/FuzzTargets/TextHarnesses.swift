import Events
import FoundationEssentials
import Monitoring
import ResmonAPI
import ResmonClient
import Server
import Statistics

/// The event filter language (docs/EVENTS.md): parsed, then evaluated against events whose
/// fields cover every comparison (numbers, text, missing values); its time literals too.
public func fuzzFilter(_ data: [UInt8]) {
    let text = String(decoding: data, as: UTF8.self)
    _ = EventFilter.time(text, now: 1_800_000_000)
    guard let filter = try? EventFilter(text, now: 1_800_000_000) else { return }
    for event in FilterEvents.all { _ = filter.matches(event) }
}

enum FilterEvents {
    static let all: [EventRecord] = [
        EventRecord(
            id: 42, time: 1_800_000_000.5, code: 1001, type: .above, severity: .warning, monitorId: "disk.sda", monitorName: "sda busy",
            key: "disk:sda:busy_ratio", value: 0.97, threshold: 0.9, host: "db1", message: "disk sda busy 97%", cancels: nil,
            labels: ["device": "sda"], annotations: ["runbook": "https://example.com"]),
        EventRecord(
            id: Int64.max, time: -1, code: Int.min, type: .canceled, severity: .debug, monitorId: nil, monitorName: nil,
            key: nil, value: .nan, threshold: -.infinity, host: "", message: "", cancels: Int64.min, labels: [:], annotations: [:])
    ]
}

/// Prometheus text exposition (plug-ins' output, docs/PLUGINS.md): parsed, applied as a
/// plug-in's run is (names mapped to statistics, units converted, labels made a resource),
/// twice (the second run keeps what it has), then exported again on `/metrics`.
public func fuzzPrometheusText(_ data: [UInt8]) {
    let parsed = PrometheusText.parse(data, maxSamples: 5_001)
    guard parsed.samples.count <= 5_000 else { return }
    let table = SampleTable()
    let plugin = PluginSubsystem(
        configuration: PluginConfiguration(name: "fuzz", kind: .scrape(url: "http://127.0.0.1:1/metrics"), interval: 5, timeout: 5, maxBytes: 1 << 20),
        table: table, fetch: { _, _, _ in .success([]) })
    for time in [100.0, 105] {
        var batch = SampleBatch()
        plugin.apply(parsed.samples, into: &batch)
        table.apply(batch, time: 1_800_000_000 + time, monotonicTime: time)
    }
    _ = FuzzStatistics.metrics.render(table: table, status: FuzzStatistics.status, subsystems: [])
}

/// A perfmon configuration (`POST /v1/monitors/import/perfmon`), for the host and for a cgroup.
public func fuzzPerfmonXML(_ data: [UInt8]) {
    var cursor = InputCursor(data)
    let object: PerfmonImport.Object = cursor.choice(2) == 0 ? .host : .cgroup("/system.slice/nginx.service")
    _ = try? PerfmonImport.variables(xml: cursor.rest, object: object, step: 5, table: FuzzStatistics.table)
}

/// The client's server-sent event parser (ResmonClient), fed the input in chunks cut where the
/// input's first byte says, as a stream arrives; each event's data decoded as the client
/// decodes it. Where a stream is cut must not matter: the events must be those of the input
/// fed whole (a difference is a finding).
public func fuzzSSE(_ data: [UInt8]) {
    var cursor = InputCursor(data)
    let cut = 1 + cursor.choice(64)
    let rest = cursor.rest
    var parser = ServerSentEventParser()
    var events: [ServerSentEvent] = []
    var start = 0
    while start < rest.count {
        let end = min(start + cut, rest.count)
        for event in parser.feed(Array(rest[start..<end])) {
            _ = try? JSONDecoder().decode(EventRecord.self, from: Data(event.data.utf8))
            _ = event.id.flatMap { Int64($0) }
            events.append(event)
        }
        start = end
    }
    var whole = ServerSentEventParser()
    let expected = whole.feed(rest)
    if events != expected { fatalError("fed in chunks of \(cut) bytes, the parser gave \(events); fed whole, \(expected)") }
}

/// A sample table with statistics of the shapes the daemon has (host, per-device, cgroup), for
/// the harnesses that validate against what exists.
enum FuzzStatistics {
    static let table: SampleTable = {
        let table = SampleTable()
        var batch = SampleBatch()
        let statistics: [(String, StatisticKind, String, [String: String])] = [
            ("memory:host:used_bytes", .gauge, "bytes", [:]),
            ("cpu:total:usage_ratio", .gauge, "ratio", [:]),
            ("load:host:load1", .gauge, "", [:]),
            ("net:eth0:receive_bytes_total", .counter, "bytes", ["device": "eth0"]),
            ("disk:sda:busy_ratio", .gauge, "ratio", ["device": "sda"]),
            ("fs:var_log:used_ratio", .gauge, "ratio", ["mountpoint": "/var/log"]),
            ("cgroup:system.slice_nginx.service:cpu_usage_ratio", .gauge, "ratio", ["path": "/system.slice/nginx.service"])
        ]
        for (index, (key, kind, unit, labels)) in statistics.enumerated() {
            guard let parsed = StatisticKey(parsing: key) else { continue }
            let handle = table.register(StatisticDescriptor(key: parsed, kind: kind, unit: unit, labels: labels, help: key))
            batch.record(handle, Double(index) * 10)
        }
        table.apply(batch, time: 1_800_000_000, monotonicTime: 100)
        return table
    }()

    static let status = StatusResponse(
        version: "fuzz", pid: 1, startedAt: 1_800_000_000, uptimeSeconds: 20, stepSeconds: 5, cycles: 4,
        statistics: 7, subsystemsAvailable: 0, subsystemsUnavailable: 0, stateDirectory: "/nonexistent",
        configDirectory: "/nonexistent", socket: "/nonexistent/resmond.sock", listen: nil, busy: false,
        cpuSecondsTotal: 0, residentBytes: 0, lastSampleCPUSeconds: nil)

    /// `/metrics`' exposition; its layout is redone when a table's structure changes.
    static var metrics: MetricsExposition { MetricsExposition() }
}
