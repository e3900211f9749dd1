import BenchSupport
import ResmonClient
import ResmonSystem

#if canImport(Glibc)
    import Glibc
#endif

/// What the dashboard open in a browser costs resmond (issue 19's bar: ≤ 1 ms/s at step 1): a
/// resmond at `--step 1`, its CPU over a window with no browser, then over a window with
/// headless Chromium showing the overview (bench/dashboard-viewer.py through Selenium), three
/// times; and the page's bytes before Chart.js, and how long the first charts took to draw.
enum DashboardCost {
    static let windowSeconds = 60.0

    static func run(resmond resmondPath: String, python: String, viewer: String, into results: inout Results) {
        guard access(python, X_OK) == 0, access(viewer, R_OK) == 0, access("/usr/bin/chromium", X_OK) == 0 else {
            return print("dashboard: needs \(python) with selenium (make browser-deps), \(viewer) and chromium: skipping")
        }
        releaseTheBenchsStartupPages()
        guard let daemon = BenchDaemon.start(resmondPath, name: "dashboard", arguments: ["--listen", "127.0.0.1:0", "--step", "1"])
        else { return }
        defer { daemon.stop() }
        guard let listen = try? daemon.client.status().listen else { return print("dashboard: resmond reports no TCP listener") }
        let base = "http://\(listen)"
        let files = ["/", "/dashboard/dashboard.css", "/dashboard/dashboard.js", "/dashboard/charts.js", "/dashboard/views.js"]
        let pageBytes = files.map { fetchLength(base + $0).map(Double.init) ?? .nan }.reduce(0, +)
        results.report("dashboard_page_kb_before_chart_js", pageBytes / 1000, "KB")
        // Past its start-up (its first self-monitoring period gives pages back at 15 s).
        sleep(20)
        var closed: [Double] = []
        var open: [Double] = []
        var added: [Double] = []
        var firstCharts: [Double] = []
        for round in 0..<3 {
            let idle = cpuPerSecond(daemon.pid, seconds: windowSeconds)
            guard let browser = Viewer(python: python, script: viewer, url: base + "/", directory: daemon.directory, round: round) else {
                return print("dashboard: the viewer did not start")
            }
            defer { browser.stop() }
            guard let drawn = browser.waitForCharts(timeout: 60) else {
                return print("dashboard: no charts drew within 60 s (\(browser.log))")
            }
            firstCharts.append(drawn)
            // The page's start-up requests (history of each chart) are not its steady cost.
            sleep(10)
            let viewed = cpuPerSecond(daemon.pid, seconds: windowSeconds)
            closed.append(idle)
            open.append(viewed)
            added.append(viewed - idle)
        }
        for (name, values, unit) in [
            ("dashboard_resmond_cpu_closed", closed, "ms/s"), ("dashboard_resmond_cpu_open", open, "ms/s"),
            ("dashboard_resmond_cpu_added", added, "ms/s"), ("dashboard_first_charts", firstCharts, "s")
        ] {
            if let spread = Spread(values) { results.report(name, spread, unit) }
        }
    }

    /// resmond's CPU (utime + stime) over `seconds`, in ms per second.
    static func cpuPerSecond(_ pid: pid_t, seconds: Double) -> Double {
        let start = (cpu: cpuSeconds(pid), time: Clock.monotonic())
        usleep(UInt32(seconds * 1_000_000))
        return (cpuSeconds(pid) - start.cpu) * 1000 / (Clock.monotonic() - start.time)
    }

    /// Headless Chromium on the dashboard, driven by the viewer script, which writes `drawn
    /// SECONDS` to its report file once the overview's first charts hold data and closes the
    /// browser on SIGTERM.
    struct Viewer {
        let pid: pid_t
        let report: String
        var log: String { read(report) }

        init?(python: String, script: String, url: String, directory: String, round: Int) {
            report = directory + "/viewer-\(round).txt"
            guard let pid = spawn(python, [script, url, report]) else { return nil }
            self.pid = pid
        }

        func waitForCharts(timeout: Double) -> Double? {
            let started = Clock.monotonic()
            while Clock.monotonic() - started < timeout {
                for line in log.split(separator: "\n") where line.hasPrefix("drawn ") { return Double(line.dropFirst(6)) }
                if log.contains("failed") { return nil }
                usleep(200_000)
            }
            return nil
        }

        func stop() { terminate(pid, graceSeconds: 30) }
    }
}
