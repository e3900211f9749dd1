import CShim
import Monitoring
import ResmonAPI
import ResmonSystem
import Statistics
import Storage

#if canImport(Glibc)
    import Glibc
#endif

/// The monitor engine at scale: CPU per evaluation and memory per monitor, for each monitor type
/// at 1,000, 100,000 and 1,000,000 monitors, and a realistic mix.
enum MonitorScale {
    /// Skips the counts above `maxMonitors` (`--max-monitors`, for a quick look).
    static func run(maxMonitors: Int, into results: inout Results) {
        func bench(count: Int, label: String, make: (Int) -> MonitorSpec) {
            guard count <= maxMonitors else { return }
            measure(count: count, label: label, make: make, into: &results)
        }
        let scales = [(1_000, "1k"), (100_000, "100k"), (1_000_000, "1m")]
        for (count, label) in scales {
            bench(count: count, label: label, make: threshold)
        }
        for (count, label) in scales {
            bench(count: count, label: "watermark_" + label, make: watermark)
            bench(count: count, label: "leaky_bucket_" + label, make: bucket)
        }
        // Aggregates resolve their members, and templates make an instance per statistic they choose
        // (here one each), when statistics come and go: at 1,000,000 that setup takes about 75 s and
        // 230 s of the bench.
        for (count, label) in scales {
            bench(count: count, label: "aggregate_" + label, make: aggregate)
            bench(count: count, label: "template_" + label, make: template)
        }
        // A realistic mix: 80 % thresholds, 10 % watermarks, 9 % leaky buckets, 1 % aggregates.
        bench(count: 1_000_000, label: "mix_1m") { index in
            switch index % 100 {
            case 0..<80: threshold(index)
            case 80..<90: watermark(index)
            case 90..<99: bucket(index)
            default: aggregate(index)
            }
        }
    }

    /// Creates `count` monitors from `make` over 100 gauges and 100 counters fed once per simulated
    /// second, then reports the CPU per evaluation and the RSS growth per monitor.
    private static func measure(count: Int, label: String, make: (Int) -> MonitorSpec, into results: inout Results) {
        let directory = "/tmp/resmon-bench-monitors-\(getpid())-\(label)"
        mkdir(directory, 0o755)
        defer {
            for suffix in ["", "-wal", "-shm"] { unlink(directory + "/state.db" + suffix) }
            rmdir(directory)
        }
        let table = SampleTable()
        let statistics = 100
        let gauges = (0..<statistics).map { index in
            table.register(
                StatisticDescriptor(
                    key: StatisticKey(subsystem: "bench", resource: "r\(index)", statistic: "value"),
                    kind: .gauge, unit: "", upperBound: 100, help: "bench"))
        }
        let counters = (0..<statistics).map { index in
            table.register(
                StatisticDescriptor(
                    key: StatisticKey(subsystem: "bench", resource: "c\(index)", statistic: "total"),
                    kind: .counter, unit: "", help: "bench"))
        }
        var time = 1_800_000_000.0
        func feed() {
            time += 1
            var batch = SampleBatch()
            for (index, handle) in gauges.enumerated() { batch.record(handle, Double((Int(time) + index) % 100)) }
            for (index, handle) in counters.enumerated() { batch.record(handle, (time - 1_800_000_000) * Double(index + 1)) }
            table.apply(batch, time: time, monotonicTime: time)
        }
        feed()
        guard let database = try? StateDatabase(path: directory + "/state.db", migrations: MonitorStore.migrations) else { return }
        let engine = MonitorEngine(database: database, table: table, step: 1, host: "bench")
        // Steady state, as resmond runs: it hands freed heap back every minute (malloc_trim), so
        // the requests' transient memory does not count.
        rs_malloc_trim()
        let before = residentBytes()
        var created = 0
        while created < count {
            let batch = min(50_000, count - created)
            let specs = (created..<(created + batch)).map { index -> MonitorSpec in
                var spec = make(index)
                spec.id = "m\(index)"
                return spec
            }
            do {
                _ = try engine.create(specs, owner: 0)
            } catch {
                print("monitor creation failed: \(error)")
                return
            }
            created += batch
        }
        feed()
        engine.evaluate(now: time)  // warm: resolves aggregates' members, makes templates' instances
        rs_malloc_trim()
        let bytesPerMonitor = (residentBytes() - before) / Double(count)
        let rounds = count >= 1_000_000 ? 5 : 50
        var cpu = 0.0
        for _ in 0..<rounds {
            feed()
            let started = Clock.threadCPU()
            engine.evaluate(now: time)
            cpu += Clock.threadCPU() - started
        }
        results.report("monitor_eval_\(label)", cpu / Double(rounds * count) * 1e9, "ns")
        results.report("monitor_memory_\(label)", bytesPerMonitor, "bytes")
    }

    /// Thresholds past the values' range: evaluations without events, the steady state.
    private static func threshold(_ index: Int) -> MonitorSpec {
        var spec = MonitorSpec(
            target: .key("bench:r\(index % 100):value"), condition: index % 2 == 0 ? .above : .below,
            value: index % 2 == 0 ? 1000 : -1000)
        spec.samples = 3
        return spec
    }

    private static func watermark(_ index: Int) -> MonitorSpec {
        var spec = MonitorSpec(target: .key("bench:r\(index % 100):value"), type: .watermark)
        spec.mark = index % 2 == 0 ? "high" : "low"
        return spec
    }

    /// Buckets far larger than the counters grow: no events.
    private static func bucket(_ index: Int) -> MonitorSpec {
        var spec = MonitorSpec(target: .key("bench:c\(index % 100):total"), type: .leakyBucket)
        spec.bucketSize = 1e12
        spec.fillValue = 1e9
        return spec
    }

    /// A sum over ten gauges.
    private static func aggregate(_ index: Int) -> MonitorSpec {
        MonitorSpec(
            target: .selection(MonitorSelection(select: "^bench:r\(index % 10)[0-9]:value$", aggregate: "sum")),
            condition: .above, value: 1e9)
    }

    /// A template over one gauge each: one instance per template.
    private static func template(_ index: Int) -> MonitorSpec {
        MonitorSpec(
            target: .selection(MonitorSelection(select: "^bench:r\(index % 100):value$", each: true)),
            condition: .above, value: 1e9)
    }
}
