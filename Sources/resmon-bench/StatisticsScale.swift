import BenchSupport
import Dispatch
import FoundationEssentials
import ResmonAPI
import ResmonClient
import ResmonSystem
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Statistics at scale: a resmond at step 1 with a textfile plug-in of `count` series, every one
/// archived in all four timescales, as a host with many plug-in or cgroup statistics. Half the
/// series move every second, half never do (gauges that stay put keep one ring until their rows
/// differ). resmond runs under a user's traffic for the soak; the figures are RSS per statistic
/// end to end, CPU, the peak, and what its history snapshots cost.
enum StatisticsScale {
    /// The plug-in's name and its series' prefix.
    static let plugin = "bulk"

    static func run(resmond resmondPath: String, count: Int, soakSeconds: Int, into results: inout Results) {
        releaseTheBenchsStartupPages()
        let name = "statistics_" + APIMonitors.label(count)
        let directory = "/tmp/resmon-bench-\(getpid())-\(name)"
        for path in [directory, directory + "/config", directory + "/config/subsystems.d", directory + "/prom"] { mkdir(path, 0o755) }
        defer { _ = Glibc.system("rm -rf '\(directory)'") }
        writeFile(
            directory + "/config/resmond.json",
            #"{"history": {"pluginTiers": 4, "maxPluginStatistics": \#(count)}, "registry": {"maxSeries": \#(count)}}"#)
        results.countProcesses(as: name)
        guard
            let pid = spawn(
                privateCopy(of: resmondPath, in: directory),
                ["--state-dir", directory, "--config-dir", directory + "/config", "--listen", "none", "--step", "1"]
                    + APIMonitors.limitFlags)
        else {
            print("\(name): cannot start \(resmondPath)")
            return
        }
        defer { terminate(pid, graceSeconds: 120) }
        let client = ResmonClient(socketPath: directory + "/resmond.sock", timeoutMilliseconds: 60_000)
        let started = Clock.monotonic()
        while (try? client.health()) == nil {
            guard Clock.monotonic() - started < 60 else {
                print("\(name): resmond did not answer within 60 s")
                return
            }
            usleep(100_000)
        }
        let traffic = UserTraffic(client: client)
        defer { traffic.stop() }
        // As the API section: after the start-up release, under the same traffic.
        sleep(UInt32(max(1, 20 - Int(Clock.monotonic() - started))))
        let idleStart = (cpu: cpuSeconds(pid), time: Clock.monotonic())
        sleep(UInt32(min(30, soakSeconds)))
        results.report(name + "_cpu_before", (cpuSeconds(pid) - idleStart.cpu) * 1000 / (Clock.monotonic() - idleStart.time), "ms/s")
        let before = Memory.median(pid)
        results.report(name + "_rss_before", before.rss / 1024 / 1024, "MiB")

        let writer = TextfileWriter(path: directory + "/prom/\(plugin).prom", series: count)
        defer { writer.stop() }
        writeFile(
            directory + "/config/subsystems.d/\(plugin).json",
            #"{"kind": "textfile", "path": "\#(directory)/prom", "interval": 1, "maxSeries": \#(count), "maxBytes": \#(count * 64)}"#)
        kill(pid, SIGHUP)
        let plugged = Clock.monotonic()
        var archived = 0
        while archived < count && Clock.monotonic() - plugged < 120 {
            archived = ((try? client.subsystems()) ?? []).first { $0.name == plugin }?.statistics ?? 0
            if archived < count { usleep(250_000) }
        }
        guard archived >= count else {
            print("\(name): the plug-in gave \(archived) statistics, not \(count), within 120 s")
            return
        }
        results.report(name + "_plugged_in", Clock.monotonic() - plugged, "s")

        // The soak: every second a new file, read, archived; history snapshots every minute. RSS
        // is read every half second for its peak; each snapshot's cost as resmond reports it.
        let metricsBefore = (try? client.metrics()) ?? ""
        let soakStart = Clock.monotonic()
        let cpuStart = cpuSeconds(pid)
        var peak = 0.0
        var snapshots: [HistorySnapshotReport] = []
        var nextStatus = soakStart
        while Clock.monotonic() - soakStart < Double(soakSeconds) {
            peak = max(peak, Memory.reading(of: pid).rss)
            if Clock.monotonic() >= nextStatus {
                nextStatus += 10
                if let report = try? client.status().lastHistorySnapshot, report.time != snapshots.last?.time { snapshots.append(report) }
            }
            usleep(500_000)
        }
        if let report = try? client.status().lastHistorySnapshot, report.time != snapshots.last?.time { snapshots.append(report) }
        let metricsAfter = (try? client.metrics()) ?? ""
        let soaked = Clock.monotonic() - soakStart
        results.report(name + "_cpu", (cpuSeconds(pid) - cpuStart) * 1000 / soaked, "ms/s")
        let after = Memory.median(pid)
        results.report(name + "_statistics", Double(count), "statistics")
        results.report(name + "_soak", soaked, "s")
        results.report(name + "_rss_after_soak", after.rss / 1024 / 1024, "MiB")
        results.report(name + "_rss_per_statistic", (after.rss - before.rss) / Double(count), "bytes")
        results.report(name + "_rss_anon_per_statistic", (after.anonymous - before.anonymous) / Double(count), "bytes")
        results.report(name + "_pss_per_statistic", (after.pss - before.pss) / Double(count), "bytes")
        results.report(name + "_peak_rss_in_soak", peak / 1024 / 1024, "MiB")
        results.report(name + "_history_snapshots", Double(snapshots.count), "snapshots")
        if let largest = snapshots.compactMap(\.bytes).max() { results.report(name + "_history_snapshot_bytes", Double(largest), "bytes") }
        // Each snapshot is a run of the same work: its median and range, in milliseconds.
        if let spread = Spread(snapshots.map { $0.wallSeconds * 1000 }) { results.report(name + "_history_snapshot_wall", spread, "ms") }
        if let spread = Spread(snapshots.map { $0.cpuSeconds * 1000 }) { results.report(name + "_history_snapshot_cpu", spread, "ms") }
        APIMonitors.reportCycles(traffic.readings(since: soakStart), metrics: (metricsBefore, metricsAfter), name: name, into: &results)
    }
}

/// The plug-in's textfile, rewritten every second on a thread of its own (to a temporary name,
/// then renamed, as docs/PLUGINS.md asks): `bulk_still{i="N"}` keep their value, `bulk_moving{i="N"}`
/// take a new one each time.
final class TextfileWriter: Sendable {
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    init(path: String, series: Int) {
        DispatchQueue(label: "resmon-bench.textfile").async { [self] in
            var round = 0
            while !stopping.load(ordering: .acquiring) {
                var text = ""
                text.reserveCapacity(series * 40)
                for index in 0..<series {
                    if index % 2 == 0 {
                        text += "\(StatisticsScale.plugin)_still{i=\"\(index)\"} \(index)\n"
                    } else {
                        text += "\(StatisticsScale.plugin)_moving{i=\"\(index)\"} \((round * 7 + index) % 1000)\n"
                    }
                }
                writeFile(path + ".tmp", text)
                rename(path + ".tmp", path)
                round += 1
                usleep(1_000_000)
            }
            finished.signal()
        }
    }

    func stop() {
        stopping.store(true, ordering: .releasing)
        finished.wait()
    }
}
