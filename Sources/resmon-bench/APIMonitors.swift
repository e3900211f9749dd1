import BenchSupport
import FoundationEssentials
import ResmonAPI
import ResmonClient
import ResmonSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Monitors as users make them: created through resmond's API on its Unix socket, in bulk
/// requests, with the UUID ids resmond gives, on the host's statistics; then resmond runs with
/// them under a user's traffic (its status every second, `/metrics` every 15 s) for the soak
/// time. One resmond per count, each from its own copy of the binary.
enum APIMonitors {
    /// Monitors per request: a batch of the mix is about 100 bytes a monitor, well under
    /// `http.maxRequestBytes` (1 MiB), and its answer (about 600 bytes a monitor) a few MB.
    static let batch = 5_000
    /// The self-limits raised so that the bulk load is not refused: creating is a burst of CPU
    /// (over the default 5 %), and a million monitors take far more than the default 25 MB.
    static let limitFlags = ["--cpu-limit", "1600", "--memory-limit", "1048576"]
    /// What a user's monitors watch: the host's statistics (process and cgroup ones come and go).
    static let hostSubsystems: Set<String> = ["cpu", "memory", "load", "pressure", "disk", "net", "fs"]

    static func run(resmond resmondPath: String, counts: [Int], soakSeconds: Int, into results: inout Results) {
        releaseTheBenchsStartupPages()
        for count in counts {
            measure(count: count, resmond: resmondPath, soakSeconds: soakSeconds, into: &results)
        }
    }

    /// `10k`, `1m`, `1500`.
    static func label(_ count: Int) -> String {
        if count % 1_000_000 == 0 { return "\(count / 1_000_000)m" }
        if count % 1_000 == 0 { return "\(count / 1_000)k" }
        return "\(count)"
    }

    private static func measure(count: Int, resmond resmondPath: String, soakSeconds: Int, into results: inout Results) {
        let name = "api_" + label(count)
        results.countProcesses(as: name)
        guard
            let daemon = BenchDaemon.start(
                resmondPath, name: name, arguments: ["--listen", "none", "--step", "1"] + limitFlags, timeoutMilliseconds: 600_000)
        else { return }
        defer { daemon.stop() }
        let (pid, client) = (daemon.pid, daemon.client)
        let traffic = UserTraffic(client: client)
        defer { traffic.stop() }
        // Before the monitors: resmond has given back its start-up pages (after its first 15 s
        // self-monitoring period), and the traffic has faulted in the code it runs. Its CPU
        // then, under the same traffic, is what the monitors' CPU adds to.
        sleep(UInt32(max(1, 20 - Int(Clock.monotonic() - daemon.started))))
        let idleStart = (cpu: cpuSeconds(pid), time: Clock.monotonic())
        sleep(UInt32(min(30, soakSeconds)))
        results.report(name + "_cpu_before", (cpuSeconds(pid) - idleStart.cpu) * 1000 / (Clock.monotonic() - idleStart.time), "ms/s")
        let before = Memory.median(pid)
        results.report(name + "_rss_before", before.rss / 1024 / 1024, "MiB")

        let cpuBeforeCreation = cpuSeconds(pid)
        guard let created = create(count, client: client, name: name, into: &results) else { return }
        results.report(name + "_create_cpu", cpuSeconds(pid) - cpuBeforeCreation, "s")
        let afterCreation = Memory.reading(of: pid)
        results.report(name + "_monitors", Double(created), "monitors")
        results.report(name + "_rss_after_create", afterCreation.rss / 1024 / 1024, "MiB")
        results.report(name + "_rss_per_monitor_after_create", (afterCreation.rss - before.rss) / Double(created), "bytes")

        // The soak: resmond runs with its monitors under the traffic, through its minute's state
        // snapshots and history snapshots (60 s each).
        let metricsBefore = (try? client.metrics()) ?? ""
        let soakStart = Clock.monotonic()
        let cpuStart = cpuSeconds(pid)
        sleep(UInt32(soakSeconds))
        let metricsAfter = (try? client.metrics()) ?? ""
        let soaked = Clock.monotonic() - soakStart
        let cpu = (cpuSeconds(pid) - cpuStart) * 1000 / soaked
        let after = Memory.median(pid)
        let peak = (kibibytes("VmHWM", in: read("/proc/\(pid)/status")) ?? .nan) * 1024
        results.report(name + "_soak", soaked, "s")
        results.report(name + "_rss_after_soak", after.rss / 1024 / 1024, "MiB")
        results.report(name + "_rss_per_monitor", (after.rss - before.rss) / Double(created), "bytes")
        results.report(name + "_rss_anon_per_monitor", (after.anonymous - before.anonymous) / Double(created), "bytes")
        results.report(name + "_pss_per_monitor", (after.pss - before.pss) / Double(created), "bytes")
        results.report(name + "_peak_rss", peak / 1024 / 1024, "MiB")
        results.report(name + "_cpu", cpu, "ms/s")
        reportCycles(traffic.readings(since: soakStart), metrics: (metricsBefore, metricsAfter), name: name, into: &results)
    }

    /// Creates `count` monitors in requests of `batch`, the engine bench's mix (MonitorScale) on
    /// the host's statistics: 80 % thresholds, each past any value its statistic takes; 10 %
    /// watermarks, high and low; 10 % leaky buckets on counters, so large that they never empty
    /// (10¹²) and refilled so little (10⁻⁶ a period) that a growing counter drains them every
    /// cycle (their level moves: the minute's state snapshot writes them). No event fires. The
    /// count created, or nil when resmond refused.
    private static func create(_ count: Int, client: ResmonClient, name: String, into results: inout Results) -> Int? {
        let statistics = ((try? client.statistics()) ?? []).filter { hostSubsystems.contains($0.subsystem) }
        let keys = statistics.map(\.key)
        let counters = statistics.filter { $0.kind == "counter" }.map(\.key)
        guard !keys.isEmpty, !counters.isEmpty else {
            print("\(name): resmond lists no host statistics (or no counter among them)")
            return nil
        }
        results.report(name + "_statistics_watched", Double(keys.count), "statistics")
        // The bodies are encoded before the clock starts: the figure is resmond's, not the
        // bench's JSONEncoder (about a second of the 100,000's wall time on this machine).
        var bodies: [(count: Int, body: [UInt8])] = []
        for start in stride(from: 0, to: count, by: batch) {
            // No id: resmond gives each a random UUID, as it does for users who name none.
            let specs = (start..<min(count, start + batch)).map { index in mixed(index, keys: keys, counters: counters) }
            guard let body = try? JSONEncoder().encode(specs) else {
                print("\(name): cannot encode the monitors \(start)…")
                return nil
            }
            bodies.append((specs.count, Array(body)))
        }
        let started = Clock.monotonic()
        var created = 0
        for (specCount, body) in bodies {
            do {
                let answer = try client.send("POST", "/v1/monitors", body: body)
                guard answer.status == 201 else {
                    let text = String(decoding: answer.body.prefix(500), as: UTF8.self)
                    print("\(name): resmond refused the monitors \(created)…: HTTP \(answer.status) \(text)")
                    return nil
                }
            } catch {
                print("\(name): creating the monitors \(created)… failed: \(error)")
                return nil
            }
            created += specCount
            if created % 100_000 == 0 && created < count {
                print("\(name): \(created) created")
                fflush(nil)
            }
        }
        let seconds = Clock.monotonic() - started
        results.report(name + "_create", seconds, "s")
        results.report(name + "_create_rate", Double(created) / seconds, "monitors/s")
        return created
    }

    /// The `index`th monitor of the mix.
    static func mixed(_ index: Int, keys: [String], counters: [String]) -> MonitorSpec {
        switch index % 100 {
        case 0..<80:
            return MonitorSpec(target: .key(keys[index % keys.count]), condition: .above, value: 1e15 + Double(index))
        case 80..<90:
            var spec = MonitorSpec(target: .key(keys[index % keys.count]), type: .watermark)
            spec.mark = index % 2 == 0 ? "high" : "low"
            return spec
        default:
            var spec = MonitorSpec(target: .key(counters[index % counters.count]), type: .leakyBucket)
            spec.bucketSize = 1e12
            spec.fillValue = 1e-6
            return spec
        }
    }

    /// The longest cycle during the soak, as resmond says it and as seen from outside.
    static func reportCycles(
        _ readings: [UserTraffic.Reading], metrics: (before: String, after: String), name: String, into results: inout Results
    ) {
        // resmond's own figures, where this build has them: the longest cycle of the last ten
        // minutes from /v1/status (creation included when the soak is shorter), and the bucket
        // of its histogram in /metrics that holds every cycle of the soak.
        let longest = readings.compactMap(\.longestCycleSeconds).max()
        if let longest { results.report(name + "_longest_cycle", longest * 1000, "ms") }
        let histogram = "resmon_cycle_duration_seconds"
        let bound = ExpositionText.largestObservationBound(ofHistogram: histogram, in: metrics.after, since: metrics.before)
        if let bound { results.report(name + "_longest_cycle_bucket", bound * 1000, "ms") }
        if longest == nil && bound == nil {
            print("\(name): this resmond has neither longestCycleSeconds nor \(histogram); the longest cycle is measured from outside only")
        }
        // From outside: the CPU of the last cycle (`lastSampleCPUSeconds`), read every second. A
        // long cycle stays the last one for longer than a second, so every reading catches it.
        if let cpu = readings.compactMap(\.lastCycleCPUSeconds).max() {
            results.report(name + "_longest_cycle_cpu", cpu * 1000, "ms")
        }
        // A cycle longer than the step costs the samples due meanwhile: the step is 1 s.
        if let first = readings.first, let last = readings.last, last.time > first.time {
            let missed = (last.time - first.time).rounded() - Double(last.cycles - first.cycles)
            results.report(name + "_cycles_missed", max(0, missed), "cycles")
        }
    }
}

/// A process's memory: RSS and PSS from smaps_rollup, RssAnon from status, in bytes.
struct Memory {
    var rss: Double
    var anonymous: Double
    var pss: Double

    static func reading(of pid: pid_t) -> Memory {
        let rollup = read("/proc/\(pid)/smaps_rollup")
        let status = read("/proc/\(pid)/status")
        return Memory(
            rss: (kibibytes("Rss", in: rollup) ?? .nan) * 1024, anonymous: (kibibytes("RssAnon", in: status) ?? .nan) * 1024,
            pss: (kibibytes("Pss", in: rollup) ?? .nan) * 1024)
    }

    /// The median of three readings a second apart, each figure on its own.
    static func median(_ pid: pid_t) -> Memory {
        var readings: [Memory] = []
        for index in 0..<3 {
            if index > 0 { sleep(1) }
            readings.append(reading(of: pid))
        }
        func middle(_ value: (Memory) -> Double) -> Double { Spread(readings.map(value))?.median ?? .nan }
        return Memory(rss: middle(\.rss), anonymous: middle(\.anonymous), pss: middle(\.pss))
    }
}
