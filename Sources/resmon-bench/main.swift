// resmon-bench: prints one line per figure and writes them to a JSON file
// ([{"name","value","unit"}]). Run through `make bench` (release build).
import Events
import FoundationEssentials
import History
import Monitoring
import ResmonAPI
import ResmonClient
import ResmonSystem
import Server
import Statistics
import Storage
import HTTPClient
import CShim
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

struct Figure: Encodable {
    let name: String
    let value: Double
    let unit: String
}

var figures: [Figure] = []
@MainActor func report(_ name: String, _ value: Double, _ unit: String) {
    figures.append(Figure(name: name, value: value, unit: unit))
    let rounded = (value * 1000).rounded() / 1000
    print("\(name): \(rounded) \(unit)")
}

var arguments = CommandLine.arguments.dropFirst()
var resmondPath = "./.build/release/resmond"
var outputPath = "bench/results.json"
var idleSeconds = 60
/// Runs one section only: sample, archive, monitors, metrics, events or daemon.
var only: String?
/// Runs the peers side by side instead (`make bench-peers`).
var peers = false
/// The peers' run also measures the host sample and archive updates, for its ratios against a
/// node_exporter scrape and rrdtool's updates.
@MainActor func wants(_ section: String) -> Bool {
    only == nil || only == section || (only == "peers" && (section == "sample" || section == "archive"))
}
/// Skips monitor figures above this count (for a quick look).
var maxMonitors = Int.max
/// Writes the list of the functions a running resmond executes there, and nothing else (HotFunctions.swift).
var hotFunctionsPath: String?
while let argument = arguments.popFirst() {
    switch argument {
    case "--resmond": resmondPath = arguments.popFirst() ?? resmondPath
    case "--output": outputPath = arguments.popFirst() ?? outputPath
    case "--seconds": idleSeconds = Int(arguments.popFirst() ?? "") ?? idleSeconds
    case "--only": only = arguments.popFirst()
    case "--peers":
        peers = true
        only = "peers"
    case "--max-monitors": maxMonitors = Int(arguments.popFirst() ?? "") ?? maxMonitors
    case "--hot-functions": hotFunctionsPath = arguments.popFirst()
    default:
        print("usage: resmon-bench [--resmond PATH] [--output FILE] [--seconds N] [--only sample|archive|monitors|metrics|events|daemon]")
        print("       resmon-bench --peers [--resmond PATH] [--output FILE] [--seconds N]")
        print("       resmon-bench --hot-functions FILE [--resmond PATH]")
        exit(64)
    }
}
if let hotFunctionsPath {
    writeHotFunctions(to: hotFunctionsPath, resmond: resmondPath)
    exit(0)
}

// MARK: - One host sample: every built-in subsystem collected once, on this machine's /proc.

if wants("sample") {
    let table = SampleTable()
    let collector = Collector(subsystems: Collector.hostSubsystems(paths: HostPaths(), table: table), table: table, step: 1)
    var monotonic = 1.0
    for _ in 0..<50 {
        monotonic += 1
        collector.collect(time: monotonic, monotonicTime: monotonic)
    }
    let rounds = 2000
    let cpuStart = Clock.threadCPU()
    let wallStart = Clock.monotonic()
    for _ in 0..<rounds {
        monotonic += 1
        collector.collect(time: monotonic, monotonicTime: monotonic)
    }
    let cpu = (Clock.threadCPU() - cpuStart) / Double(rounds)
    let wall = (Clock.monotonic() - wallStart) / Double(rounds)
    report("host_sample_cpu", cpu * 1e6, "us")
    report("host_sample_wall", wall * 1e6, "us")
    report("host_sample_statistics", Double(table.count), "statistics")
    for status in collector.statuses() {
        // Per subsystem, the mean wall time of a collection.
        report("subsystem_\(status.name)_wall", status.totalDurationSeconds / Double(max(1, status.collections)) * 1e6, "us")
    }
}

// MARK: - A full sample: host, every process and every cgroup.

if wants("sample") {
    let table = SampleTable()
    let processes = ProcessSubsystem(paths: HostPaths(), table: table)
    let cgroups = CgroupSubsystem(paths: HostPaths(), table: table)
    let collector = Collector(subsystems: Collector.hostSubsystems(paths: HostPaths(), table: table) + [processes, cgroups],
                              table: table, step: 1)
    var monotonic = 1.0
    for _ in 0..<20 {
        monotonic += 1
        collector.collect(time: monotonic, monotonicTime: monotonic)
    }
    let rounds = 500
    let cpuStart = Clock.threadCPU()
    for _ in 0..<rounds {
        monotonic += 1
        collector.collect(time: monotonic, monotonicTime: monotonic)
    }
    let cpu = (Clock.threadCPU() - cpuStart) / Double(rounds)
    let statuses = Dictionary(uniqueKeysWithValues: collector.statuses().map { ($0.name, $0) })
    let processCount = Double(table.samples(where: { $0.hasPrefix("process:") && $0.hasSuffix(":rss_bytes") }).count)
    report("full_sample_cpu", cpu * 1e6, "us")
    report("full_sample_statistics", Double(table.count), "statistics")
    report("processes", processCount, "processes")
    func average(_ name: String) -> Double {
        guard let status = statuses[name], status.collections > 0 else { return .nan }
        return status.totalDurationSeconds / Double(status.collections)
    }
    report("process_subsystem_wall", average("process") * 1e6, "us")
    report("per_process_wall", average("process") * 1e6 / max(1, processCount), "us")
    report("cgroup_subsystem_wall", average("cgroup") * 1e6, "us")
}

// MARK: - Archive updates: resmon's engine beside rrdtool's.

/// Runs `rrdtool -` (commands on standard input) and returns the CPU seconds it used.
func rrdtoolCPU(_ commands: String) -> Double? {
    guard access("/usr/bin/rrdtool", X_OK) == 0 else { return nil }
    var pipeEnds: [Int32] = [0, 0]
    pipe(&pipeEnds)
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_adddup2(&actions, pipeEnds[0], 0)
    posix_spawn_file_actions_addclose(&actions, pipeEnds[1])
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    defer { posix_spawn_file_actions_destroy(&actions) }
    let program: [String] = ["/usr/bin/rrdtool", "-"]
    let argv = program.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var child = pid_t()
    guard posix_spawn(&child, "/usr/bin/rrdtool", &actions, nil, argv, environ) == 0 else { return nil }
    close(pipeEnds[0])
    let bytes = Array(commands.utf8)
    let total = bytes.count
    var written = 0
    while written < total {
        let count = bytes.withUnsafeBytes { write(pipeEnds[1], $0.baseAddress! + written, total - written) }
        if count <= 0 { break }
        written += count
    }
    close(pipeEnds[1])
    var status: Int32 = 0
    var usage = rusage()
    wait4(child, &status, 0, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

if wants("archive") {
    let step = 5, sources = 100, steps = 200
    let start = 1_700_000_000
    let archives = ArchiveDefinition.standard(step: step)
    var databases = (0..<sources).map { _ in
        RoundRobinDatabase(step: step, kind: .gauge, heartbeat: 3 * step, archives: archives, start: start)
    }
    let rounds = 50
    let cpuStart = Clock.threadCPU()
    for round in 0..<rounds {
        for index in 0..<steps {
            let time = start + (round * steps + index + 1) * step
            for source in 0..<sources { try? databases[source].update(time: time, reading: Double(source + index)) }
        }
    }
    let resmonPerUpdate = (Clock.threadCPU() - cpuStart) / Double(rounds * steps * sources)
    report("archive_update_cpu", resmonPerUpdate * 1e9, "ns")
    report("archive_bytes_full", Double(databases[0].storageBytes), "bytes")
    report("archive_bytes_process", Double(RoundRobinDatabase(step: step, kind: .gauge, heartbeat: 15, archives: ArchiveDefinition.standard(step: step, tiers: 1), start: start).storageBytes), "bytes")

    let directory = "/tmp/resmon-bench-rrd-\(getpid())"
    mkdir(directory, 0o755)
    let rras = archives.map { "RRA:\($0.function.rawValue):0.5:\($0.stepsPerRow):\($0.rows)" }.joined(separator: " ")
    var create = ""
    for source in 0..<sources { create += "create \(directory)/\(source).rrd --start \(start) --step \(step) DS:v:GAUGE:15:U:U \(rras)\n" }
    create += "create \(directory)/all.rrd --start \(start) --step \(step) "
        + (0..<sources).map { "DS:v\($0):GAUGE:15:U:U" }.joined(separator: " ") + " \(rras)\n"
    _ = rrdtoolCPU(create)
    var perFile = ""
    var batched = ""
    for index in 0..<steps {
        let time = start + (index + 1) * step
        for source in 0..<sources { perFile += "update \(directory)/\(source).rrd \(time):\(source + index)\n" }
        batched += "update \(directory)/all.rrd \(time):" + (0..<sources).map { String($0 + index) }.joined(separator: ":") + "\n"
    }
    if let perFileCPU = rrdtoolCPU(perFile), let batchedCPU = rrdtoolCPU(batched) {
        let perFileUpdate = perFileCPU / Double(steps * sources)
        let batchedUpdate = batchedCPU / Double(steps * sources)
        report("rrdtool_update_per_file_cpu", perFileUpdate * 1e9, "ns")
        report("rrdtool_update_batched_cpu", batchedUpdate * 1e9, "ns")
        report("archive_update_vs_rrdtool_per_file", perFileUpdate / resmonPerUpdate, "x")
        report("archive_update_vs_rrdtool_batched", batchedUpdate / resmonPerUpdate, "x")
    }
    for source in 0..<sources { unlink("\(directory)/\(source).rrd") }
    unlink("\(directory)/all.rrd")
    rmdir(directory)
}

// MARK: - Threshold monitors: evaluation cost and memory per monitor.

func residentBytes() -> Double {
    let text = read("/proc/self/statm")
    let fields = text.split(separator: " ")
    return fields.count > 1 ? (Double(fields[1]) ?? .nan) * Double(sysconf(Int32(_SC_PAGESIZE))) : .nan
}

/// Creates `count` monitors from `make` over 100 gauges and 100 counters fed once per simulated
/// second, then reports the CPU per evaluation and the RSS growth per monitor.
@MainActor func benchMonitors(count: Int, label: String, make: (Int) -> MonitorSpec) {
    guard count <= maxMonitors else { return }
    let directory = "/tmp/resmon-bench-monitors-\(getpid())-\(label)"
    mkdir(directory, 0o755)
    defer {
        for suffix in ["", "-wal", "-shm"] { unlink(directory + "/state.db" + suffix) }
        rmdir(directory)
    }
    let table = SampleTable()
    let statistics = 100
    let gauges = (0..<statistics).map { index in
        table.register(StatisticDescriptor(key: StatisticKey(subsystem: "bench", resource: "r\(index)", statistic: "value"),
                                           kind: .gauge, unit: "", upperBound: 100, help: "bench"))
    }
    let counters = (0..<statistics).map { index in
        table.register(StatisticDescriptor(key: StatisticKey(subsystem: "bench", resource: "c\(index)", statistic: "total"),
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
    engine.evaluate(now: time) // warm: resolves aggregates' members, makes templates' instances
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
    report("monitor_eval_\(label)", cpu / Double(rounds * count) * 1e9, "ns")
    report("monitor_memory_\(label)", bytesPerMonitor, "bytes")
}

/// Thresholds past the values' range: evaluations without events, the steady state.
func threshold(_ index: Int) -> MonitorSpec {
    var spec = MonitorSpec(target: .key("bench:r\(index % 100):value"), condition: index % 2 == 0 ? "above" : "below",
                           value: index % 2 == 0 ? 1000 : -1000)
    spec.samples = 3
    return spec
}

func watermark(_ index: Int) -> MonitorSpec {
    var spec = MonitorSpec(target: .key("bench:r\(index % 100):value"), type: "watermark")
    spec.mark = index % 2 == 0 ? "high" : "low"
    return spec
}

/// Buckets far larger than the counters grow: no events.
func bucket(_ index: Int) -> MonitorSpec {
    var spec = MonitorSpec(target: .key("bench:c\(index % 100):total"), type: "leakyBucket")
    spec.bucketSize = 1e12
    spec.fillValue = 1e9
    return spec
}

/// A sum over ten gauges.
func aggregate(_ index: Int) -> MonitorSpec {
    MonitorSpec(target: .selection(MonitorSelection(select: "^bench:r\(index % 10)[0-9]:value$", aggregate: "sum")),
                condition: "above", value: 1e9)
}

/// A template over one gauge each: one instance per template.
func template(_ index: Int) -> MonitorSpec {
    MonitorSpec(target: .selection(MonitorSelection(select: "^bench:r\(index % 100):value$", each: true)),
                condition: "above", value: 1e9)
}

if wants("monitors") {
let scales = [(1_000, "1k"), (100_000, "100k"), (1_000_000, "1m")]
for (count, label) in scales {
    benchMonitors(count: count, label: label, make: threshold)
}
for (count, label) in scales {
    benchMonitors(count: count, label: "watermark_" + label, make: watermark)
    benchMonitors(count: count, label: "leaky_bucket_" + label, make: bucket)
}
// Aggregates resolve their members, and templates make an instance per statistic they choose
// (here one each), when statistics come and go: at 1,000,000 that setup takes about 75 s and
// 230 s of the bench.
for (count, label) in scales {
    benchMonitors(count: count, label: "aggregate_" + label, make: aggregate)
    benchMonitors(count: count, label: "template_" + label, make: template)
}
// A realistic mix: 80 % thresholds, 10 % watermarks, 9 % leaky buckets, 1 % aggregates.
benchMonitors(count: 1_000_000, label: "mix_1m") { index in
    switch index % 100 {
    case 0..<80: threshold(index)
    case 80..<90: watermark(index)
    case 90..<99: bucket(index)
    default: aggregate(index)
    }
}
}

// MARK: - /metrics for 10,000 series

if wants("metrics") {
    let table = SampleTable()
    let handles = (0..<10_000).map { index in
        table.register(StatisticDescriptor(key: StatisticKey(subsystem: "bench", resource: "r\(index)", statistic: index % 2 == 0 ? "value" : "count_total"),
                                           kind: index % 2 == 0 ? .gauge : .counter, unit: "bytes", labels: ["name": "n\(index % 50)"], help: "bench"))
    }
    for time in [1.0, 2.0] {
        var batch = SampleBatch()
        for (index, handle) in handles.enumerated() { batch.record(handle, Double(index) * time) }
        table.apply(batch, time: 1_800_000_000 + time, monotonicTime: time)
    }
    let status = StatusResponse(version: "bench", pid: 1, startedAt: 0, uptimeSeconds: 1, stepSeconds: 1, cycles: 1, statistics: 10_000,
                                subsystemsAvailable: 1, subsystemsUnavailable: 0, stateDirectory: "/", configDirectory: "/", socket: "/",
                                listen: nil, busy: false, cpuSecondsTotal: 0, residentBytes: 0, lastSampleCPUSeconds: nil)
    var bytes = 0
    let rounds = 20
    // The first scrape after statistics come or go lays the series out; the others format values.
    let exposition = MetricsExposition()
    let laying = Clock.threadCPU()
    bytes = exposition.render(table: table, status: status, subsystems: []).count
    report("metrics_layout_10k_series", (Clock.threadCPU() - laying) * 1000, "ms")
    let started = Clock.threadCPU()
    for _ in 0..<rounds { bytes = exposition.render(table: table, status: status, subsystems: []).count }
    report("metrics_render_10k_series", (Clock.threadCPU() - started) / Double(rounds) * 1000, "ms")
    report("metrics_render_10k_series_bytes", Double(bytes), "bytes")
}

// MARK: - The event log: events per second appended, one per transaction and a thousand.

if wants("events") {
    let directory = "/tmp/resmon-bench-events-\(getpid())"
    mkdir(directory, 0o755)
    defer {
        for suffix in ["", "-wal", "-shm"] { unlink(directory + "/state.db" + suffix) }
        rmdir(directory)
    }
    if let state = try? StateDatabase(path: directory + "/state.db", migrations: MonitorStore.migrations) {
        let event = EventRecord(id: 0, time: 1_800_000_000, code: 501, type: "above", severity: "warning", monitorId: "bench",
                                monitorName: "bench:r0:value above 90", key: "bench:r0:value", value: 95, threshold: 90, host: "bench",
                                message: "bench:r0:value is 95, above 90", cancels: nil, labels: ["team": "bench"], annotations: [:])
        for (label, perTransaction, transactions) in [("single", 1, 300), ("batch1000", 1000, 30)] {
            let started = Clock.monotonic()
            for _ in 0..<transactions {
                try? state.withDatabase { database in
                    try database.transaction { _ = try EventStore.append(Array(repeating: event, count: perTransaction), in: database) }
                }
            }
            report("event_log_append_\(label)", Double(perTransaction * transactions) / (Clock.monotonic() - started), "events/s")
        }
    }
}

// MARK: - An idle resmond: RSS, RssAnon, PSS and CPU after a while at step 1 and step 5.

func spawn(_ path: String, _ arguments: [String]) -> pid_t? {
    var child = pid_t()
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    defer { posix_spawn_file_actions_destroy(&actions) }
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    return posix_spawn(&child, path, &actions, nil, argv, environ) == 0 ? child : nil
}

func kibibytes(_ field: String, in text: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        return line.split(separator: " ").dropFirst().first.flatMap { Double($0) }
    }
    return nil
}

func read(_ path: String) -> String {
    (try? ProcFile(path, capacity: 4096).read { String(decoding: $0, as: UTF8.self) }) ?? ""
}

/// utime + stime of a process, in seconds.
func cpuSeconds(_ pid: pid_t) -> Double {
    let stat = read("/proc/\(pid)/stat")
    guard let close = stat.lastIndex(of: ")") else { return .nan }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return .nan }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// The bench maps the libraries resmond maps (libmicrohttpd, gnutls, SQLite). Pages two processes
/// map stay with both, so the bench gives back what it touched only while starting before it
/// measures a resmond's memory: resmond is then measured as the only user of those pages, as on
/// a host where nothing else runs libmicrohttpd.
func releaseTheBenchsStartupPages() { _ = StartupPages.release() }

if wants("daemon"), access(resmondPath, X_OK) == 0 {
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
        guard let pid = spawn(privateCopy(of: resmondPath, in: directory), ["--state-dir", directory, "--config-dir", directory + "/config",
                                                                            "--listen", "127.0.0.1:0", "--step", "\(step)"])
        else { continue }
        // Let it settle, then measure CPU over the rest of the period. Its start-up pages are
        // still resident at 5 s; it gives them back after its first self-monitoring period (15 s).
        sleep(5)
        let startCPU = cpuSeconds(pid)
        report("resmond_\(label)_rss_at_5s", (kibibytes("Rss", in: read("/proc/\(pid)/smaps_rollup")) ?? .nan) / 1024, "MiB")
        sleep(UInt32(max(1, idleSeconds - 5)))
        let rollup = read("/proc/\(pid)/smaps_rollup")
        let status = read("/proc/\(pid)/status")
        let used = cpuSeconds(pid) - startCPU
        report("resmond_\(label)_rss", (kibibytes("Rss", in: rollup) ?? .nan) / 1024, "MiB")
        report("resmond_\(label)_rss_anon", (kibibytes("RssAnon", in: status) ?? .nan) / 1024, "MiB")
        report("resmond_\(label)_pss", (kibibytes("Pss", in: rollup) ?? .nan) / 1024, "MiB")
        report("resmond_\(label)_cpu", used * 1000 / Double(max(1, idleSeconds - 5)), "ms/s")
        kill(pid, SIGTERM)
        var exitStatus: Int32 = 0
        waitpid(pid, &exitStatus, 0)
        _ = Glibc.system("rm -rf '\(directory)'")
    }
    crossingToStreamLatency()
} else if wants("daemon") {
    print("resmond not found at \(resmondPath): skipping the idle-daemon figures")
}

/// From a threshold crossing (a pushed value past a 1 s monitor's threshold) to a streaming
/// consumer holding the event. DESIGN's bar: one monitoring period + 10 ms.
@MainActor func crossingToStreamLatency() {
    let directory = "/tmp/resmon-bench-\(getpid())-latency"
    mkdir(directory, 0o755)
    mkdir(directory + "/config", 0o755)
    guard let pid = spawn(resmondPath, ["--state-dir", directory, "--config-dir", directory + "/config", "--listen", "none", "--step", "1"])
    else { return }
    defer {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        for name in ["state.db", "state.db-wal", "state.db-shm", "history.snapshot", "resmond.lock"] { unlink(directory + "/" + name) }
        rmdir(directory + "/config")
        rmdir(directory)
    }
    let client = ResmonClient(socketPath: directory + "/resmond.sock", timeoutMilliseconds: 5000)
    var ready = false
    for _ in 0..<200 where !ready {
        ready = (try? client.health()) != nil
        usleep(50_000)
    }
    guard ready, (try? client.push("app:bench:level", value: 0)) != nil else { return }
    var spec = MonitorSpec(target: "app:bench:level", condition: "above", value: 50)
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
        usleep(UInt32.random(in: 0...1_000_000)) // cross at any point of the period
    }
    guard !latencies.isEmpty else { return }
    report("crossing_to_stream_mean", latencies.reduce(0, +) / Double(latencies.count) * 1000, "ms")
    report("crossing_to_stream_max", latencies.max()! * 1000, "ms")
    report("crossing_to_stream_bar", 1010, "ms")
}

if peers { benchPeers(seconds: idleSeconds) }

let encoder = WireJSON.encoder(pretty: true)
if let data = try? encoder.encode(figures) {
    let bytes = Array(data) + [0x0a]
    let descriptor = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    if descriptor >= 0 {
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        print("wrote \(outputPath)")
    }
}

// MARK: - Peers, side by side (`make bench-peers`, or --peers)

/// A TCP GET through libcurl: the body's length, or nil.
func fetchLength(_ url: String) -> Int? {
    guard let answer = try? HTTPClient.fetch(url, timeoutMilliseconds: 5000, maximumBytes: 64 << 20), answer.status == 200 else { return nil }
    return answer.body.count
}

/// A copy of `path` in `directory`, for a resmond to run alone as on a host: two processes of
/// one file share its pages, which neither can then give back after start-up.
func privateCopy(of path: String, in directory: String) -> String {
    let copy = directory + "/resmond"
    return Glibc.system("cp '\(path)' '\(copy)'") == 0 ? copy : path
}

func writeFile(_ path: String, _ text: String) {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    _ = text.withCString { write(descriptor, $0, strlen($0)) }
    close(descriptor)
}

func freeTCPPort() -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Starts resmond, collectd, node_exporter and Prometheus side by side on this machine, lets
/// them run `seconds`, and reports each one's CPU per second and memory, and the ratios.
@MainActor func benchPeers(seconds: Int) {
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
        start(label, privateCopy(of: resmondPath, in: root + "/" + label), ["--state-dir", root + "/" + label, "--config-dir", root + "/" + label + "/config", "--listen", "none", "--step", "1"])
        if label == "resmond" { sleep(17) }
    }
    // collectd at 1 s with the same plug-ins, writing rrd files as resmon keeps archives.
    mkdir(root + "/collectd", 0o755)
    writeFile(root + "/collectd/collectd.conf", """
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

        """) // collectd's parser wants the last line ended
    start("collectd", "/usr/sbin/collectd", ["-f", "-C", root + "/collectd/collectd.conf"])
    // node_exporter with its defaults, scraped every second by this process.
    let nodePort = freeTCPPort()
    start("node_exporter", "/usr/bin/prometheus-node-exporter", ["--web.listen-address=127.0.0.1:\(nodePort)"])
    // Prometheus evaluating 10,000 alert rules every second over node_exporter's series.
    let prometheusPort = freeTCPPort()
    mkdir(root + "/prometheus", 0o755)
    var rules = "groups:\n  - name: bench\n    interval: 1s\n    rules:\n"
    for index in 0..<10_000 { rules += "      - alert: rule\(index)\n        expr: node_load1 > \(1000 + index)\n" }
    writeFile(root + "/prometheus/rules.yml", rules)
    writeFile(root + "/prometheus/prometheus.yml", """
        global:
          scrape_interval: 1s
          evaluation_interval: 1s
        rule_files: ["\(root)/prometheus/rules.yml"]
        scrape_configs:
          - job_name: node
            static_configs: [{targets: ["127.0.0.1:\(nodePort)"]}]
        """)
    start("prometheus", "/usr/bin/prometheus", ["--config.file=" + root + "/prometheus/prometheus.yml",
                                                "--storage.tsdb.path=" + root + "/prometheus/data",
                                                "--web.listen-address=127.0.0.1:\(prometheusPort)"])
    defer {
        for (_, pid) in started {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        _ = Glibc.system("rm -rf '\(root)'")
    }
    sleep(3)
    // 10,000 thresholds like the rules: past the value, no events.
    let monitored = ResmonClient(socketPath: root + "/resmond_10k_monitors/resmond.sock")
    let specs = (0..<10_000).map { index -> MonitorSpec in
        var spec = MonitorSpec(target: "load:host:load1", condition: "above", value: Double(1000 + index))
        spec.id = "rule\(index)"
        return spec
    }
    if (try? monitored.createMonitors(specs)) == nil { print("resmond_10k_monitors: cannot create the monitors") }
    // The window opens once the second resmond, too, has given back its start-up pages (15 s
    // after its start): both are measured running, not starting.
    sleep(14)
    let before = started.map { cpuSeconds($0.pid) }
    let wallStart = Clock.monotonic()
    var scrapes = 0
    while Clock.monotonic() - wallStart < Double(seconds) {
        let next = wallStart + Double(scrapes + 1)
        if fetchLength("http://127.0.0.1:\(nodePort)/metrics") != nil { scrapes += 1 }
        let wait = next - Clock.monotonic()
        if wait > 0 { usleep(UInt32(wait * 1e6)) }
    }
    let elapsed = Clock.monotonic() - wallStart
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
        report("peer_\(peer.name)_cpu", cpu[peer.name]!, "ms/s")
        report("peer_\(peer.name)_rss", rss[peer.name]!, "MiB")
        report("peer_\(peer.name)_rss_anon", anonymous[peer.name]!, "MiB")
        report("peer_\(peer.name)_pss", pss[peer.name]!, "MiB")
    }
    if scrapes > 0, let node = cpu["node_exporter"] {
        let perScrape = node * elapsed / Double(scrapes)
        report("peer_node_exporter_cpu_per_scrape", perScrape, "ms")
        // DESIGN's bar: a full host sample costs at most a third of a scrape.
        if let sample = figures.last(where: { $0.name == "host_sample_cpu" })?.value {
            report("ratio_node_exporter_scrape_over_host_sample", perScrape * 1000 / sample, "x")
        }
    }
    if let ours = cpu["resmond"] {
        for peer in ["collectd", "node_exporter"] {
            if let theirs = cpu[peer] { report("ratio_cpu_\(peer)_over_resmond", theirs / ours, "x") }
            if let theirs = rss[peer], let mine = rss["resmond"] { report("ratio_rss_\(peer)_over_resmond", theirs / mine, "x") }
            if let theirs = anonymous[peer], let mine = anonymous["resmond"] { report("ratio_rss_anon_\(peer)_over_resmond", theirs / mine, "x") }
            if let theirs = pss[peer], let mine = pss["resmond"] { report("ratio_pss_\(peer)_over_resmond", theirs / mine, "x") }
        }
    }
    // rrdtool updating the same data sources (measured by the archive section above).
    if let perFile = figures.last(where: { $0.name == "archive_update_vs_rrdtool_per_file" })?.value {
        report("ratio_rrdtool_update_over_resmond_archive_update", perFile, "x")
    }
    if let monitors = cpu["resmond_10k_monitors"], let plain = cpu["resmond"], let prometheus = cpu["prometheus"] {
        let monitorCost = max(0.001, monitors - plain)
        report("resmond_10k_monitors_cost", monitorCost, "ms/s")
        report("ratio_prometheus_10k_rules_over_resmond_10k_monitors", prometheus / monitorCost, "x")
    }
}
