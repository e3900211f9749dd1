import Dispatch
import ResmonAPI
import ResmonClient
import ResmonSystem
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// From a threshold crossing (a pushed value past a 1 s monitor's threshold) to a streaming
/// consumer holding the event. DESIGN's bar: one monitoring period + 10 ms.
enum EventLatency {
    static func run(resmond resmondPath: String, into results: inout Results) {
        guard let daemon = BenchDaemon.start(resmondPath, name: "latency", arguments: ["--listen", "none", "--step", "1"], privateBinary: false) else { return }
        defer { daemon.stop() }
        let client = daemon.client
        guard (try? client.push("app:bench:level", value: 0)) != nil else { return }
        var spec = MonitorSpec(target: "app:bench:level", condition: .above, value: 50)
        spec.id = "latency"
        guard (try? client.createMonitors([spec])) != nil else { return }
        let received = Mutex<[Double]>([])
        DispatchQueue.global().async {
            _ = try? client.streamEvents(after: nil) { event in
                received.withLock { $0.append(Clock.wall()) }
                return true
            }
        }
        sleep(1)
        var latencies: [Double] = []
        for round in 0..<10 {
            let before = received.withLock { $0.count }
            let crossed = Clock.wall()
            _ = try? client.push("app:bench:level", value: round % 2 == 0 ? 90 : 10)
            var arrived: Double?
            for _ in 0..<300 where arrived == nil {
                usleep(2000)
                arrived = received.withLock { $0.count > before ? $0[before] : nil }
            }
            if let arrived { latencies.append(arrived - crossed) }
            usleep(UInt32.random(in: 0...1_000_000))  // cross at any point of the period
        }
        guard !latencies.isEmpty else { return }
        results.report("crossing_to_stream_mean", latencies.reduce(0, +) / Double(latencies.count) * 1000, "ms")
        results.report("crossing_to_stream_max", latencies.max()! * 1000, "ms")
        results.report("crossing_to_stream_bar", 1010, "ms")
    }
}
