import ResmonClient
import ResmonSystem
import Statistics

#if canImport(Glibc)
    import Glibc
#endif

/// An idle resmond: RSS, RssAnon, PSS and CPU after `seconds` at step 1 and step 5, and at step 1
/// with processes and cgroups every second.
enum IdleDaemons {
    static func run(resmond resmondPath: String, seconds idleSeconds: Int, into results: inout Results) {
        releaseTheBenchsStartupPages()
        // Defaults at step 1 and 5, and step 1 with processes and cgroups every second too. One at a
        // time, each from its own copy of the binary, as the only resmond on a host: side by side they
        // would share the libraries' pages, which then neither could give back after start-up.
        for (label, step, everySecond) in [("step1", 1, false), ("step5", 5, false), ("step1_processes1s", 1, true)] {
            let directory = "/tmp/resmon-bench-\(getpid())-\(label)"
            mkdir(directory, 0o755)
            mkdir(directory + "/config", 0o755)
            if everySecond {
                writeFile(directory + "/config/resmond.json", #"{"collect": {"subsystems": {"process": {"period": 1}, "cgroup": {"period": 1}}}}"#)
            }
            guard
                let pid = spawn(
                    privateCopy(of: resmondPath, in: directory),
                    [
                        "--state-dir", directory, "--config-dir", directory + "/config",
                        "--listen", "127.0.0.1:0", "--step", "\(step)"
                    ])
            else { continue }
            // Let it settle, then measure CPU over the rest of the period. Its start-up pages are
            // still resident at 5 s; it gives them back after its first self-monitoring period (15 s).
            sleep(5)
            let startCPU = cpuSeconds(pid)
            results.report("resmond_\(label)_rss_at_5s", (kibibytes("Rss", in: read("/proc/\(pid)/smaps_rollup")) ?? .nan) / 1024, "MiB")
            sleep(UInt32(max(1, idleSeconds - 5)))
            let rollup = read("/proc/\(pid)/smaps_rollup")
            let status = read("/proc/\(pid)/status")
            let used = cpuSeconds(pid) - startCPU
            results.report("resmond_\(label)_rss", (kibibytes("Rss", in: rollup) ?? .nan) / 1024, "MiB")
            results.report("resmond_\(label)_rss_anon", (kibibytes("RssAnon", in: status) ?? .nan) / 1024, "MiB")
            results.report("resmond_\(label)_pss", (kibibytes("Pss", in: rollup) ?? .nan) / 1024, "MiB")
            results.report("resmond_\(label)_cpu", used * 1000 / Double(max(1, idleSeconds - 5)), "ms/s")
            kill(pid, SIGTERM)
            var exitStatus: Int32 = 0
            waitpid(pid, &exitStatus, 0)
            _ = Glibc.system("rm -rf '\(directory)'")
        }
    }
    /// resmond at its defaults (step 5) under a user's traffic (its status every second,
    /// `/metrics` every 15 s) for `seconds`: RSS after the start-up release (20 s), halfway and at
    /// the end, each the median of three readings, and the highest RSS of the second half, read
    /// every half second (the minute's history snapshots fall in it).
    static func inUse(resmond resmondPath: String, seconds: Int, into results: inout Results) {
        releaseTheBenchsStartupPages()
        guard let daemon = BenchDaemon.start(resmondPath, name: "in-use", arguments: ["--listen", "none"]) else { return }
        defer { daemon.stop() }
        let (pid, client, started) = (daemon.pid, daemon.client, daemon.started)
        let traffic = UserTraffic(client: client)
        defer { traffic.stop() }
        let total = max(seconds, 40)
        func wait(until elapsed: Double) {
            let left = elapsed - (Clock.monotonic() - started)
            if left > 0 { usleep(UInt32(left * 1_000_000)) }
        }
        let name = "resmond_in_use"
        wait(until: 20)
        results.report(name + "_rss_at_20s", Memory.median(pid).rss / 1024 / 1024, "MiB")
        wait(until: Double(total) / 2)
        let cpuStart = (cpu: cpuSeconds(pid), time: Clock.monotonic())
        results.report(name + "_rss_halfway", Memory.median(pid).rss / 1024 / 1024, "MiB")
        var peak = 0.0
        while Clock.monotonic() - started < Double(total) - 3 {
            peak = max(peak, Memory.reading(of: pid).rss)
            usleep(500_000)
        }
        let end = Memory.median(pid)
        results.report(name + "_seconds", Double(total), "s")
        results.report(name + "_rss", end.rss / 1024 / 1024, "MiB")
        results.report(name + "_rss_anon", end.anonymous / 1024 / 1024, "MiB")
        results.report(name + "_pss", end.pss / 1024 / 1024, "MiB")
        results.report(name + "_peak_rss_second_half", peak / 1024 / 1024, "MiB")
        results.report(name + "_cpu_second_half", (cpuSeconds(pid) - cpuStart.cpu) * 1000 / (Clock.monotonic() - cpuStart.time), "ms/s")
    }
}
