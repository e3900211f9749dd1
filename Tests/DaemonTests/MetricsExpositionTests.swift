import ResmonAPI
import Server
import Statistics
import Testing

/// `/metrics` is rendered from a layout kept between scrapes: it must follow every change of
/// the table's structure, and values must be current at every scrape.
@Suite struct MetricsExpositionTests {
    let status = StatusResponse(
        version: "test", pid: 1, startedAt: 0, uptimeSeconds: 1, stepSeconds: 1, cycles: 1, statistics: 0,
        subsystemsAvailable: 0, subsystemsUnavailable: 0, stateDirectory: "/", configDirectory: "/", socket: "/",
        listen: nil, busy: false, cpuSecondsTotal: 0, residentBytes: 0, lastSampleCPUSeconds: nil)

    func descriptor(
        _ resource: String, labels: [String: String] = [:], help: String = "queue depth",
        kind: StatisticKind = .gauge
    ) -> StatisticDescriptor {
        StatisticDescriptor(
            key: StatisticKey(subsystem: "app", resource: resource, statistic: kind == .gauge ? "depth" : "jobs_total"),
            kind: kind, unit: "jobs", labels: labels, help: help)
    }

    func scrape(_ exposition: MetricsExposition, _ table: SampleTable) -> [String] {
        String(decoding: exposition.render(table: table, status: status, subsystems: []), as: UTF8.self)
            .split(separator: "\n").map(String.init).filter { $0.contains("resmon_app_") }
    }

    func feed(_ table: SampleTable, _ values: [(StatisticHandle, Double)], time: Double) {
        var batch = SampleBatch()
        for (handle, value) in values { batch.record(handle, value) }
        table.apply(batch, time: time, monotonicTime: time)
    }

    @Test func theLayoutFollowsStatisticsThatComeGoAndChange() {
        let table = SampleTable()
        let exposition = MetricsExposition()
        let a = table.register(descriptor("a", labels: ["queue": "mail"]))
        #expect(scrape(exposition, table).isEmpty)  // never read: left out
        feed(table, [(a, 3)], time: 1)
        #expect(
            scrape(exposition, table) == [
                "# HELP resmon_app_depth queue depth (jobs)", "# TYPE resmon_app_depth gauge",
                "resmon_app_depth{resource=\"a\",queue=\"mail\"} 3"
            ])
        // A value changes: the same layout, the new value.
        feed(table, [(a, 4)], time: 2)
        #expect(scrape(exposition, table).last == "resmon_app_depth{resource=\"a\",queue=\"mail\"} 4")
        // A statistic comes, sorted by resource within its family.
        let b = table.register(descriptor("0b"))
        feed(table, [(a, 5), (b, 7)], time: 3)
        #expect(
            scrape(exposition, table).suffix(2) == [
                "resmon_app_depth{resource=\"0b\"} 7",
                "resmon_app_depth{resource=\"a\",queue=\"mail\"} 5"
            ])
        // Labels change.
        _ = table.register(descriptor("a", labels: ["queue": "print"]))
        #expect(scrape(exposition, table).last == "resmon_app_depth{resource=\"a\",queue=\"print\"} 5")
        // Help changes.
        _ = table.register(descriptor("a", labels: ["queue": "print"], help: "jobs waiting"))
        #expect(scrape(exposition, table).first == "# HELP resmon_app_depth jobs waiting (jobs)")
        // A statistic goes; a new one may reuse its slot.
        table.retire(b)
        #expect(scrape(exposition, table).count == 3)
        let c = table.register(descriptor("c", kind: .counter))
        feed(table, [(c, 10)], time: 4)
        let lines = scrape(exposition, table)
        #expect(lines.contains("resmon_app_jobs_total{resource=\"c\"} 10"))
        #expect(lines.contains("# TYPE resmon_app_jobs_total counter"))
        #expect(!lines.contains { $0.contains("0b") })
    }

    @Test func aPluginsSummaryIsOneFamilyWithItsSourcesTypeAndLabels() {
        let table = SampleTable()
        let exposition = MetricsExposition()
        let family = SourceFamily(name: "rpc_seconds", type: .summary, help: "RPC latency.")
        var handles: [(StatisticHandle, Double)] = []
        // Registered out of order: the layout orders each label set's quantiles, then _sum, then _count.
        for (statistic, labels, value) in [
            ("rpc_seconds_count", ["method": "get"], 10.0), ("rpc_seconds", ["method": "get", "quantile": "0.9"], 0.3),
            ("rpc_seconds_sum", ["method": "get"], 2.5), ("rpc_seconds", ["method": "get", "quantile": "0.5"], 0.2),
            ("rpc_seconds_count", ["method": "put"], 1.0)
        ] {
            let resource = labels.sorted { $0.key < $1.key }.map { $0.key + "=" + $0.value }.joined(separator: ",")
            let kind: StatisticKind = statistic == "rpc_seconds" ? .gauge : .counter
            let handle = table.register(
                StatisticDescriptor(
                    key: StatisticKey(subsystem: "app", resource: resource, statistic: statistic),
                    kind: kind, unit: "", labels: labels.merging(["metric": statistic]) { $1 },
                    help: family.help, family: family))
            handles.append((handle, value))
        }
        feed(table, handles, time: 1)
        #expect(
            scrape(exposition, table) == [
                "# HELP resmon_app_rpc_seconds RPC latency.", "# TYPE resmon_app_rpc_seconds summary",
                "resmon_app_rpc_seconds{method=\"get\",quantile=\"0.5\"} 0.2",
                "resmon_app_rpc_seconds{method=\"get\",quantile=\"0.9\"} 0.3",
                "resmon_app_rpc_seconds_sum{method=\"get\"} 2.5",
                "resmon_app_rpc_seconds_count{method=\"get\"} 10",
                "resmon_app_rpc_seconds_count{method=\"put\"} 1"
            ])
    }
}
