import ResmonAPI
import ResmonSystem
import Server
import Statistics

/// `/metrics` for 10,000 series: laying the series out on the first scrape, then rendering.
enum MetricsScrape {
    static func run(into results: inout Results) {
        let table = SampleTable()
        let handles = (0..<10_000).map { index in
            table.register(
                StatisticDescriptor(
                    key: StatisticKey(subsystem: "bench", resource: "r\(index)", statistic: index % 2 == 0 ? "value" : "count_total"),
                    kind: index % 2 == 0 ? .gauge : .counter, unit: "bytes", labels: ["name": "n\(index % 50)"], help: "bench"))
        }
        for time in [1.0, 2.0] {
            var batch = SampleBatch()
            for (index, handle) in handles.enumerated() { batch.record(handle, Double(index) * time) }
            table.apply(batch, time: 1_800_000_000 + time, monotonicTime: time)
        }
        let status = StatusResponse(
            version: "bench", pid: 1, startedAt: 0, uptimeSeconds: 1, stepSeconds: 1, cycles: 1, statistics: 10_000,
            subsystemsAvailable: 1, subsystemsUnavailable: 0, stateDirectory: "/", configDirectory: "/", socket: "/",
            listen: nil, busy: false, cpuSecondsTotal: 0, residentBytes: 0, lastSampleCPUSeconds: nil)
        var bytes = 0
        let rounds = 20
        // The first scrape after statistics come or go lays the series out; the others format values.
        let exposition = MetricsExposition()
        let laying = Clock.threadCPU()
        bytes = exposition.render(table: table, status: status, subsystems: []).count
        results.report("metrics_layout_10k_series", (Clock.threadCPU() - laying) * 1000, "ms")
        let started = Clock.threadCPU()
        for _ in 0..<rounds { bytes = exposition.render(table: table, status: status, subsystems: []).count }
        results.report("metrics_render_10k_series", (Clock.threadCPU() - started) / Double(rounds) * 1000, "ms")
        results.report("metrics_render_10k_series_bytes", Double(bytes), "bytes")
    }
}
