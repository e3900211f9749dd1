import BenchSupport
import Dispatch
import ResmonAPI
import ResmonClient
import ResmonSystem
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `make soak`: resmond at step 1 for `seconds` under everything a user does at once — monitors
/// on pushed statistics raising and cancelling every 20 s, a textfile plug-in rewritten every
/// second, an event stream, status every second and `/metrics` every 15 s — with its RSS and CPU
/// read every 30 s. It fails when RSS keeps growing: when the last quarter's median RSS is
/// above the second quarter's by more than 2 MiB and 5 %, and the third quarter's lies between
/// them (growth that does not level off).
enum Soak {
    static let monitors = 20
    static let pluginSeries = 200
    static let interval = 30.0

    struct Reading {
        var elapsed: Double
        var rss: Double
        var cpu: Double
        var events: Int
    }

    /// Whether RSS levelled off.
    static func run(resmond resmondPath: String, seconds: Int, into results: inout Results) -> Bool {
        releaseTheBenchsStartupPages()
        results.countProcesses(as: "soak")
        guard
            let daemon = BenchDaemon.start(
                resmondPath, name: "soak", arguments: ["--listen", "none", "--step", "1"],
                prepare: { directory in
                    mkdir(directory + "/prom", 0o755)
                    mkdir(directory + "/config/subsystems.d", 0o755)
                    writeFile(
                        directory + "/config/subsystems.d/\(StatisticsScale.plugin).json",
                        #"{"kind": "textfile", "path": "\#(directory)/prom", "interval": 1}"#)
                })
        else { return false }
        defer { daemon.stop() }
        let writer = TextfileWriter(path: daemon.directory + "/prom/\(StatisticsScale.plugin).prom", series: pluginSeries)
        defer { writer.stop() }
        let client = daemon.client
        for index in 0..<monitors { _ = try? client.push("app:soak:level\(index)", value: 0) }
        let specs = (0..<monitors).map { index in
            var spec = MonitorSpec(target: "app:soak:level\(index)", condition: .above, value: 50)
            spec.cancelValue = 40
            return spec
        }
        guard (try? client.createMonitors(specs)) != nil else {
            print("soak: the monitors could not be created")
            return false
        }
        let stopping = Atomic<Bool>(false)
        let received = Atomic<Int>(0)
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            // Each monitor's statistic goes above 50 for 10 s, then below 40 for 10 s.
            var tick = 0
            while !stopping.load(ordering: .acquiring) {
                let high = (tick / 10) % 2 == 0
                for index in 0..<monitors { _ = try? client.push("app:soak:level\(index)", value: high ? 60 : 10) }
                tick += 1
                sleep(1)
            }
        }
        DispatchQueue.global().async(group: group) {
            while !stopping.load(ordering: .acquiring) {
                _ = try? client.streamEvents(after: nil, heartbeat: 1, stopping: { stopping.load(ordering: .acquiring) }) { _ in
                    received.add(1, ordering: .relaxed)
                    return true
                }
            }
        }
        let traffic = UserTraffic(client: client)
        defer {
            traffic.stop()
            stopping.store(true, ordering: .releasing)
            group.wait()
        }
        var readings: [Reading] = []
        let started = Clock.monotonic()
        var last = (cpu: cpuSeconds(daemon.pid), time: started)
        while Clock.monotonic() - started < Double(seconds) {
            usleep(UInt32(min(interval, max(1, Double(seconds) - (Clock.monotonic() - started))) * 1_000_000))
            let now = (cpu: cpuSeconds(daemon.pid), time: Clock.monotonic())
            let reading = Reading(
                elapsed: now.time - started, rss: Memory.reading(of: daemon.pid).rss / 1024 / 1024,
                cpu: (now.cpu - last.cpu) * 1000 / (now.time - last.time), events: received.load(ordering: .relaxed))
            last = now
            readings.append(reading)
            print("soak \(Int(reading.elapsed)) s: RSS \(rounded(reading.rss)) MiB, CPU \(rounded(reading.cpu)) ms/s, \(reading.events) events streamed")
        }
        guard kill(daemon.pid, 0) == 0, (try? client.health()) != nil else {
            print("soak: resmond is no longer answering")
            return false
        }
        return judge(readings, into: &results)
    }

    /// Reports the run and says whether RSS levelled off.
    static func judge(_ readings: [Reading], into results: inout Results) -> Bool {
        let quarters = (0..<4).map { quarter in
            readings.filter { Int($0.elapsed * 4 / (readings.last?.elapsed ?? 1)) == quarter || ($0.elapsed == readings.last?.elapsed && quarter == 3) }
        }
        guard quarters.allSatisfy({ !$0.isEmpty }), let first = readings.first, let end = readings.last else {
            print("soak: too short to judge (at least 4 readings, \(Int(interval * 4)) s)")
            return true
        }
        let medians = quarters.map { Spread($0.map(\.rss))?.median ?? .nan }
        results.report("soak_seconds", end.elapsed, "s")
        results.report("soak_rss_first_reading", first.rss, "MiB")
        for (index, median) in medians.enumerated() { results.report("soak_rss_quarter\(index + 1)_median", median, "MiB") }
        results.report("soak_rss_highest", readings.map(\.rss).max() ?? .nan, "MiB")
        if let cpu = Spread(readings.map(\.cpu)) { results.report("soak_cpu", cpu, "ms/s") }
        results.report("soak_events_streamed", Double(end.events), "events")
        let growth = medians[3] - medians[1]
        let levelled = !(growth > max(2, medians[1] * 0.05) && medians[2] > medians[1] && medians[3] > medians[2])
        print(
            levelled
                ? "soak: RSS levelled off (second quarter \(rounded(medians[1])) MiB, last \(rounded(medians[3])) MiB)"
                : "soak: FAILED — RSS still growing: \(rounded(medians[1])) → \(rounded(medians[2])) → \(rounded(medians[3])) MiB over the last three quarters"
        )
        return levelled
    }

    private static func rounded(_ value: Double) -> Double { (value * 10).rounded() / 10 }
}
