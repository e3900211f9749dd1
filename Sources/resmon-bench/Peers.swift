import BenchSupport
import HTTPClient
import ResmonAPI
import ResmonClient
import ResmonSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The peers side by side (`make bench-peers`, or --peers): resmond, collectd, node_exporter and
/// Prometheus on this machine, each one's CPU per second and memory, and the ratios.
enum Peers {
    /// `runs` independent runs, each of the host sample, the archive updates and `seconds` side
    /// by side (every process started anew); each figure is reported as the median of the runs,
    /// with their range, so one disturbed run moves no figure.
    static func run(resmond resmondPath: String, seconds: Int, runs: Int, into results: inout Results) {
        var each: [Results] = []
        for run in 1...max(1, runs) {
            print("peers: run \(run) of \(runs)")
            fflush(nil)
            var one = Results()
            one.printing = false
            Sampling.run(into: &one)
            ArchiveUpdates.run(into: &one)
            sideBySide(resmond: resmondPath, seconds: seconds, into: &one)
            each.append(one)
        }
        results.reportMedians(of: each)
    }

    /// Lets them run `seconds`. The ratios to a scrape and to rrdtool read the host sample and
    /// archive figures already in `results`.
    private static func sideBySide(resmond resmondPath: String, seconds: Int, into results: inout Results) {
        releaseTheBenchsStartupPages()
        let root = "/tmp/resmon-peers-\(getpid())"
        mkdir(root, 0o755)
        var started: [(name: String, pid: pid_t)] = []
        func start(_ name: String, _ path: String, _ arguments: [String]) {
            guard access(path, X_OK) == 0 else {
                print("\(name): \(path) is not installed (make bench-peers installs it); skipped")
                return
            }
            if let pid = spawn(path, arguments) { started.append((name, pid)) }
        }
        // resmond at a 1 s step with processes every second, like collectd's processes plugin;
        // a second one with 10,000 threshold monitors created below, for the monitors' cost. Each
        // runs from its own copy of the binary, and the second starts once the first has given back
        // its start-up pages (after its first 15 s self-monitoring period): two resmonds mapping
        // the same libraries at that moment would keep each other's pages, which on a host, with
        // one resmond, does not happen.
        for label in ["resmond", "resmond_10k_monitors"] {
            mkdir(root + "/" + label, 0o755)
            mkdir(root + "/" + label + "/config", 0o755)
            mkdir(root + "/" + label + "/config/monitors.d", 0o755)
            writeFile(root + "/" + label + "/config/monitors.d/defaults.json", "{}\n")
            writeFile(root + "/" + label + "/config/resmond.json", #"{"collect": {"subsystems": {"process": {"period": 1}, "cgroup": {"period": 1}}}}"#)
            start(
                label, privateCopy(of: resmondPath, in: root + "/" + label),
                ["--state-dir", root + "/" + label, "--config-dir", root + "/" + label + "/config", "--listen", "none", "--step", "1"])
            if label == "resmond" { sleep(17) }
        }
        // collectd at 1 s with the same plug-ins, writing rrd files as resmon keeps archives.
        mkdir(root + "/collectd", 0o755)
        writeFile(
            root + "/collectd/collectd.conf",
            """
            Hostname "bench"
            Interval 1
            BaseDir "\(root)/collectd"
            PIDFile "\(root)/collectd/collectd.pid"
            PluginDir "/usr/lib/collectd"
            TypesDB "/usr/share/collectd/types.db"
            LoadPlugin cpu
            LoadPlugin memory
            LoadPlugin load
            LoadPlugin disk
            LoadPlugin interface
            LoadPlugin df
            LoadPlugin processes
            LoadPlugin rrdtool
            <Plugin rrdtool>
              DataDir "\(root)/collectd/rrd"
            </Plugin>

            """)  // collectd's parser wants the last line ended
        start("collectd", "/usr/sbin/collectd", ["-f", "-C", root + "/collectd/collectd.conf"])
        // node_exporter with its defaults, scraped every second by Prometheus only (by this
        // process when Prometheus is not installed): one scraper, as on a host.
        let nodePort = freeTCPPort()
        start("node_exporter", "/usr/bin/prometheus-node-exporter", ["--web.listen-address=127.0.0.1:\(nodePort)"])
        // Prometheus evaluating 10,000 alert rules every second over node_exporter's series.
        let prometheusPort = freeTCPPort()
        mkdir(root + "/prometheus", 0o755)
        var rules = "groups:\n  - name: bench\n    interval: 1s\n    rules:\n"
        for index in 0..<10_000 { rules += "      - alert: rule\(index)\n        expr: node_load1 > \(1000 + index)\n" }
        writeFile(root + "/prometheus/rules.yml", rules)
        writeFile(
            root + "/prometheus/prometheus.yml",
            """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            rule_files: ["\(root)/prometheus/rules.yml"]
            scrape_configs:
              - job_name: node
                static_configs: [{targets: ["127.0.0.1:\(nodePort)"]}]
            """)
        start(
            "prometheus", "/usr/bin/prometheus",
            [
                "--config.file=" + root + "/prometheus/prometheus.yml",
                "--storage.tsdb.path=" + root + "/prometheus/data",
                "--web.listen-address=127.0.0.1:\(prometheusPort)"
            ])
        defer {
            for (_, pid) in started {
                kill(pid, SIGTERM)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
            }
            _ = Glibc.system("rm -rf '\(root)'")
        }
        sleep(3)
        // 10,000 thresholds like the rules: past the value, no events. No id: resmond gives each
        // a UUID, as users get.
        let monitored = ResmonClient(socketPath: root + "/resmond_10k_monitors/resmond.sock")
        let specs = (0..<10_000).map { index in
            MonitorSpec(target: "load:host:load1", condition: .above, value: Double(1000 + index))
        }
        if (try? monitored.createMonitors(specs)) == nil { print("resmond_10k_monitors: cannot create the monitors") }
        // The window opens once the second resmond, too, has given back its start-up pages (15 s
        // after its start): both are measured running, not starting.
        sleep(14)
        results.countProcesses(as: "peers")
        let prometheusRuns = started.contains { $0.name == "prometheus" }
        let prometheusMetrics = "http://127.0.0.1:\(prometheusPort)/metrics"
        let scrapesBefore = prometheusRuns ? prometheusScrapes(prometheusMetrics) : 0
        let before = started.map { cpuSeconds($0.pid) }
        let wallStart = Clock.monotonic()
        var scrapes = 0
        var ticks = 0
        while Clock.monotonic() - wallStart < Double(seconds) {
            ticks += 1
            if !prometheusRuns && fetchLength("http://127.0.0.1:\(nodePort)/metrics") != nil { scrapes += 1 }
            let wait = wallStart + Double(ticks) - Clock.monotonic()
            if wait > 0 { usleep(UInt32(wait * 1e6)) }
        }
        let elapsed = Clock.monotonic() - wallStart
        if prometheusRuns {
            // Its scrapes of node_exporter over the window, from its own counter; none counted
            // (so no figure per scrape) when it cannot be read.
            if let first = scrapesBefore, let last = prometheusScrapes(prometheusMetrics), last >= first {
                scrapes = Int(last - first)
            } else {
                print("peers: Prometheus's scrape count cannot be read")
            }
        }
        results.report("peer_node_exporter_scrapes_per_second", Double(scrapes) / elapsed, "scrapes/s")
        var cpu: [String: Double] = [:]
        var rss: [String: Double] = [:]
        var anonymous: [String: Double] = [:]
        var pss: [String: Double] = [:]
        for (index, peer) in started.enumerated() {
            cpu[peer.name] = (cpuSeconds(peer.pid) - before[index]) * 1000 / elapsed
            let rollup = read("/proc/\(peer.pid)/smaps_rollup")
            rss[peer.name] = (kibibytes("Rss", in: rollup) ?? .nan) / 1024
            anonymous[peer.name] = (kibibytes("RssAnon", in: read("/proc/\(peer.pid)/status")) ?? .nan) / 1024
            pss[peer.name] = (kibibytes("Pss", in: rollup) ?? .nan) / 1024
            results.report("peer_\(peer.name)_cpu", cpu[peer.name]!, "ms/s")
            results.report("peer_\(peer.name)_rss", rss[peer.name]!, "MiB")
            results.report("peer_\(peer.name)_rss_anon", anonymous[peer.name]!, "MiB")
            results.report("peer_\(peer.name)_pss", pss[peer.name]!, "MiB")
        }
        if scrapes > 0, let node = cpu["node_exporter"] {
            let perScrape = node * elapsed / Double(scrapes)
            results.report("peer_node_exporter_cpu_per_scrape", perScrape, "ms")
            // DESIGN's bar: a full host sample costs at most a third of a scrape.
            if let sample = results.value(named: "host_sample_cpu") {
                results.report("ratio_node_exporter_scrape_over_host_sample", perScrape * 1000 / sample, "x")
            }
        }
        if let ours = cpu["resmond"] {
            for peer in ["collectd", "node_exporter"] {
                if let theirs = cpu[peer] { results.report("ratio_cpu_\(peer)_over_resmond", theirs / ours, "x") }
                if let theirs = rss[peer], let mine = rss["resmond"] { results.report("ratio_rss_\(peer)_over_resmond", theirs / mine, "x") }
                if let theirs = anonymous[peer], let mine = anonymous["resmond"] { results.report("ratio_rss_anon_\(peer)_over_resmond", theirs / mine, "x") }
                if let theirs = pss[peer], let mine = pss["resmond"] { results.report("ratio_pss_\(peer)_over_resmond", theirs / mine, "x") }
            }
        }
        // rrdtool updating the same data sources (measured by the archive section above).
        if let perFile = results.value(named: "archive_update_vs_rrdtool_per_file") {
            results.report("ratio_rrdtool_update_over_resmond_archive_update", perFile, "x")
        }
        if let monitors = cpu["resmond_10k_monitors"], let plain = cpu["resmond"], let prometheus = cpu["prometheus"] {
            let monitorCost = monitors - plain
            results.report("resmond_10k_monitors_cost", monitorCost, "ms/s")
            // CPU times come in ticks: below two ticks over the window the difference is noise,
            // and a ratio to it would be anything (a floor of 0.001 once gave 643,992×).
            let resolution = 2 / Double(sysconf(Int32(_SC_CLK_TCK))) * 1000 / elapsed
            if monitorCost >= resolution {
                results.report("ratio_prometheus_10k_rules_over_resmond_10k_monitors", prometheus / monitorCost, "x")
            } else {
                print("peers: the 10,000 monitors' CPU (\(monitorCost) ms/s) is below what this window resolves (\(resolution) ms/s)")
            }
        }
    }

    /// How many scrapes Prometheus has made (its `prometheus_target_interval_length_seconds`
    /// summary counts one per scrape after a target's first; node_exporter is its only target).
    private static func prometheusScrapes(_ url: String) -> Double? {
        guard let answer = try? HTTPClient.fetch(url, timeoutMilliseconds: 5000, maximumBytes: 16 << 20), answer.status == 200 else { return nil }
        return ExpositionText.value(
            of: "prometheus_target_interval_length_seconds_count", labels: ["interval": "1s"], in: String(decoding: answer.body, as: UTF8.self))
    }
}
