// resmon-bench: measures resmon on this machine, one section at a time (a file each), prints one
// line per figure and writes them to a JSON file ([{"name","value","unit"}]). Run through
// `make bench`, `make bench-peers` and `make hot-functions` (release builds).
import BenchSupport
import ResmonSystem

#if canImport(Glibc)
    import Glibc
#endif

let options: BenchOptions
do {
    options = try BenchOptions(arguments: Array(CommandLine.arguments.dropFirst()))
} catch {
    try? FileDescriptor(rawValue: 2).writeAll(Array("resmon-bench: \(error.description) (see resmon-bench --help)\n".utf8))
    exit(64)
}
if options.help {
    print(BenchOptions.usage)
    exit(0)
}
if options.only == .soak {
    var results = Results()
    results.describeMachine()
    let levelled = Soak.run(resmond: options.resmondPath, seconds: options.soakSeconds, into: &results)
    results.write(to: options.outputPath)
    exit(levelled ? 0 : 1)
}
if let path = options.hotFunctionsPath {
    HotFunctions.run(writingTo: path, resmond: options.resmondPath)
    exit(0)
}

/// The sections `options` picks, in this order, after a description of the machine.
func runSections(_ options: BenchOptions) -> Results {
    var results = Results()
    results.describeMachine()
    if options.wants(.sample) { Sampling.run(into: &results) }
    if options.wants(.archive) { ArchiveUpdates.run(into: &results) }
    if options.wants(.monitors) { MonitorScale.run(maxMonitors: options.maxMonitors, into: &results) }
    if options.wants(.api) {
        let counts = options.apiMonitors.filter { $0 <= options.maxMonitors }
        if access(options.resmondPath, X_OK) == 0 {
            APIMonitors.run(resmond: options.resmondPath, counts: counts, soakSeconds: options.soakSeconds, into: &results)
        } else {
            print("resmond not found at \(options.resmondPath): skipping the API monitor figures")
        }
    }
    if options.wants(.statistics) {
        if access(options.resmondPath, X_OK) == 0 {
            StatisticsScale.run(resmond: options.resmondPath, count: options.statistics, soakSeconds: options.soakSeconds, into: &results)
        } else {
            print("resmond not found at \(options.resmondPath): skipping the statistics-at-scale figures")
        }
    }
    if options.wants(.metrics) { MetricsScrape.run(into: &results) }
    if options.wants(.events) { EventLogAppends.run(into: &results) }
    if options.wants(.daemon) {
        if access(options.resmondPath, X_OK) == 0 {
            IdleDaemons.run(resmond: options.resmondPath, seconds: options.idleSeconds, into: &results)
            IdleDaemons.inUse(resmond: options.resmondPath, seconds: options.inUseSeconds, into: &results)
            EventLatency.run(resmond: options.resmondPath, into: &results)
        } else {
            print("resmond not found at \(options.resmondPath): skipping the idle-daemon figures")
        }
    }
    if options.wants(.inline) {
        InlineUpdates.run(libresmon: options.libresmonPath, resmond: options.resmondPath, into: &results)
    }
    if options.wants(.dashboard) {
        DashboardCost.run(
            resmond: options.resmondPath, python: "./.build/browser-venv/bin/python3", viewer: "./bench/dashboard-viewer.py", into: &results)
    }
    if options.peers || options.only == .peers {
        Peers.run(resmond: options.resmondPath, seconds: options.idleSeconds, runs: options.runs, into: &results)
    }
    return results
}

runSections(options).write(to: options.outputPath)
