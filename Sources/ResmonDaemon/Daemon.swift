import CShim
import Dispatch
import Events
import History
import Monitoring
import ResmonAPI
import ResmonSystem
import Server
import Statistics
import Storage
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// resmond: wires the collector, the sample table and the HTTP servers together and runs their
/// lifecycle — start in dependency order, serve, reload and dump on signals, stop in reverse.
public final class Daemon: Sendable {
    private let options: DaemonOptions
    private let configuration: Mutex<DaemonConfiguration>
    private let table = SampleTable()
    private let collector: Collector
    private let startedAt = Clock.wall()
    private let cycles = Atomic<Int>(0)
    private let lastSampleCPU = Mutex<Double?>(nil)
    private let stopping = Atomic<Bool>(false)
    private let startupPagesReleased = Atomic<Bool>(false)
    /// Monotonic second of the last `malloc_trim`.
    private let lastTrim = Atomic<Int>(0)
    private let pendingReload = Mutex<DaemonConfiguration?>(nil)
    /// Reloads asked for and applied (numbered), and what the last applied one reported: an API
    /// reload answers once the sampling thread has applied its request.
    private let reloads = Mutex<(requested: Int, applied: Int, messages: [String])>((0, 0, []))
    /// Wakes the sampler early: to stop or to apply a reload.
    private let wake = DispatchSemaphore(value: 0)
    private let stopRequested = DispatchSemaphore(value: 0)
    private let samplerFinished = DispatchSemaphore(value: 0)
    private let listenDescription = Mutex<String?>(nil)
    private let pushed: PushedStatistics
    private let writeToken: String?
    private let history: HistoryStore
    private let monitors = Mutex<MonitorEngine?>(nil)
    private let lastSnapshot = Mutex<Double>(0)
    private let sinks = Mutex<SinkRunner?>(nil)
    /// When `subsystems.d` was last read (monotonic; sampling thread).
    private let lastRegistryRead = Mutex<Double>(0)
    /// The last self-measurement: when (monotonic), process CPU seconds then, and the result.
    private let selfCheck = Mutex<(time: Double, cpu: Double, cpuPercent: Double?, memoryMB: Double?)>((0, 0, nil, nil))

    /// Parses the command line, runs the daemon, and exits with its status.
    public static func main(arguments: [String]) -> Never {
        // A parent may hand down a blocked signal mask (Foundation's Process does); TERM, HUP
        // and USR1 must reach us.
        var nothing = sigset_t()
        sigemptyset(&nothing)
        sigprocmask(SIG_SETMASK, &nothing, nil)
        signal(SIGPIPE, SIG_IGN)
        let options: DaemonOptions
        do {
            options = try DaemonOptions(arguments: Array(arguments.dropFirst()))
        } catch {
            Log.error("\(error)")
            exit(2)
        }
        switch options.action {
        case .help:
            print(DaemonOptions.usage)
            exit(0)
        case .version:
            print("resmond \(ResmonVersion.current)")
            exit(0)
        case .checkConfig, .run:
            break
        }
        let configuration: DaemonConfiguration
        do {
            configuration = try options.configuration()
            try Daemon.validate(configuration)
        } catch {
            Log.error("\(error)")
            exit(1)
        }
        if options.action == .checkConfig {
            print("resmond: configuration is valid (\(configuration.configFile))")
            exit(0)
        }
        let daemon = Daemon(options: options, configuration: configuration)
        do {
            try daemon.run()
            exit(0)
        } catch {
            Log.error("\(error)")
            exit(1)
        }
    }

    /// Checks what the configuration names on this machine: directories and groups.
    static func validate(_ configuration: DaemonConfiguration) throws(ConfigurationError) {
        let source = configuration.configFile
        if let group = configuration.socketGroup, getgrnam(group) == nil {
            throw ConfigurationError(source: source, key: "http.socketGroup", reason: "no group named \"\(group)\"")
        }
        if access(configuration.procRoot, R_OK | X_OK) != 0 {
            throw ConfigurationError(source: source, key: "collect.procRoot", reason: "\(configuration.procRoot) is not a readable directory")
        }
        if access(configuration.sysRoot, R_OK | X_OK) != 0 {
            throw ConfigurationError(source: source, key: "collect.sysRoot", reason: "\(configuration.sysRoot) is not a readable directory")
        }
        if let tokenFile = configuration.tokenFile {
            _ = try readToken(tokenFile, source: source)
        }
        if configuration.socketPath.utf8.count > 107 {
            throw ConfigurationError(source: source, key: "http.socket", reason: "\(configuration.socketPath) is longer than a Unix socket path may be (107 bytes)")
        }
    }

    /// The bearer token in `path`, which must be a regular file owned by root that only its
    /// owner can read (anyone who can read it can write to resmond over TCP).
    static func readToken(_ path: String, source: String) throws(ConfigurationError) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw ConfigurationError(source: source, key: "http.tokenFile", reason: "\(path): \(Errno.current.description)")
        }
        guard info.st_uid == 0, info.st_mode & 0o077 == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw ConfigurationError(source: source, key: "http.tokenFile", reason: "\(path) must be a regular file owned by root with mode 0600 or 0400")
        }
        let bytes = (try? ConfigurationFile.contents(of: path)) ?? nil
        let token = String(decoding: bytes ?? [], as: UTF8.self).trimmingNewlines()
        guard token.utf8.count >= 16, !token.contains(where: { $0.isWhitespace }) else {
            throw ConfigurationError(source: source, key: "http.tokenFile", reason: "\(path) must hold one token of at least 16 characters")
        }
        return token
    }

    init(options: DaemonOptions, configuration: DaemonConfiguration) {
        self.options = options
        self.configuration = Mutex(configuration)
        let paths = HostPaths(procRoot: configuration.procRoot, sysRoot: configuration.sysRoot)
        pushed = PushedStatistics(table: table, expireSeconds: configuration.pushExpireSeconds)
        history = HistoryStore(settings: HistoryStore.Settings(step: configuration.step, processTiers: configuration.historyProcessTiers,
                                                                  pluginTiers: configuration.historyPluginTiers))
        writeToken = configuration.tokenFile.flatMap { try? Daemon.readToken($0, source: configuration.configFile) }
        let collectorBox = Mutex<Collector?>(nil)
        let subsystems = Collector.builtInSubsystems(paths: paths, table: table) + [
            SelfSubsystem(table: table, sampleCost: { collectorBox.withLock { $0?.lastCycleCPU } ?? .nan }),
            AppSubsystem(pushed: pushed),
        ]
        collector = Collector(subsystems: subsystems, table: table, step: Double(configuration.step),
                              settings: configuration.subsystems)
        collectorBox.withLock { $0 = collector }
        collector.onStateChange = { status in
            switch status.state {
            case .available: Log.info("subsystem \(status.name) is available")
            case .unavailable: Log.warning("subsystem \(status.name) is unavailable: \(status.reason ?? "unknown reason")")
            case .disabled: Log.info("subsystem \(status.name) is disabled")
            }
        }
    }

    func run() throws {
        rs_malloc_tune()
        let configuration = self.configuration.withLock { $0 }
        try makeDirectories(configuration.stateDirectory)
        let lock: InstanceLock
        do {
            lock = try InstanceLock(directory: configuration.stateDirectory)
        } catch {
            throw DaemonFailure(error.description)
        }

        // The registry's directories exist from the first start, so that a plug-in or a monitor
        // file can be dropped in (the README's tour does) without knowing to create them.
        for directory in ["subsystems.d", "monitors.d"] {
            do {
                try makeDirectories(configuration.configDirectory + "/" + directory)
            } catch {
                Log.warning("\(error)")
            }
        }
        restoreHistory(configuration)
        var streamSettings = EventStreamHub.Settings()
        streamSettings.maximumStreams = configuration.maxConnections
        let streams = EventStreamHub(settings: streamSettings,
                                     read: { [self] after, limit in
                                         try monitors.withLock { $0 }?.events(after: after, limit: limit) ?? []
                                     },
                                     newest: { [self] in try monitors.withLock { $0 }?.lastEventID() ?? 0 })
        let engine: MonitorEngine
        do {
            let state = try StateDatabase(path: configuration.stateDirectory + "/state.db",
                                          migrations: MonitorEngine.migrations)
            let runner = SinkRunner(database: state)
            sinks.withLock { $0 = runner }
            engine = MonitorEngine(database: state, table: table, step: Double(configuration.step),
                                   published: { [self] events in
                                       streams.publish(events)
                                       sinks.withLock { $0 }?.wake()
                                   },
                                   samplingRequest: { [collector] subsystem, rate, requester in
                                       // Monitors faster than their subsystem's period get it sampled at their rate.
                                       if let rate { collector.requestPeriod(rate, for: subsystem, by: requester) }
                                       else { collector.withdrawPeriodRequest(by: requester) }
                                   },
                                   scheduleChanged: { [wake] in wake.signal() })
            sample()
            try engine.load()
        } catch {
            throw DaemonFailure("cannot open the state database in \(configuration.stateDirectory): \(error)")
        }
        monitors.withLock { $0 = engine }
        if let note = MonitorFileReader.writeDefaultsOnFirstStart(configDirectory: configuration.configDirectory,
                                                                   stateDirectory: configuration.stateDirectory) {
            Log.info(note)
        }
        _ = reconcileMonitorFiles(engine, configuration)
        _ = applyRegistry()
        engine.setStormLimits(perMonitorPerMinute: configuration.eventsPerMonitorPerMinute, maximumPerSecond: configuration.eventsPerSecond)
        let sinkRunner = sinks.withLock { $0 }!
        sinkRunner.configure(configuration.sinks, host: Daemon.hostName(), log: { Log.warning($0) })
        raiseDescriptorLimit()
        let router = APIRouter(context: APIContext(table: table, status: { [self] in status() },
                                                   subsystems: { [collector] in collector.statuses() },
                                                   pushed: pushed, writeToken: writeToken, history: history,
                                                   monitors: engine, streams: streams, sinks: { sinkRunner.statuses() },
                                                   hostUUID: Daemon.hostUUID(), reload: { [self] in reloadAndWait() }))
        var servers: [HTTPServer] = []
        do {
            servers = try startServers(configuration, router: router)
        } catch {
            throw DaemonFailure("\(error)")
        }
        let signalSources = installSignalHandlers(router: router)

        let step = configuration.step
        Log.info("resmond \(ResmonVersion.current) serving \(table.count) statistics on \(configuration.socketPath)"
                 + (listenDescription.withLock { $0 }.map { " and http://\($0)" } ?? "") + ", step \(step) s")
        _ = rs_sd_notify("READY=1\nSTATUS=serving")

        DispatchQueue(label: "resmond.sampler", qos: .utility).async { [self] in
            samplingLoop()
            samplerFinished.signal()
        }
        stopRequested.wait()

        // Stop in reverse order of starting, each part with a deadline.
        _ = rs_sd_notify("STOPPING=1")
        signalSources.forEach { $0.cancel() }
        // Streams end first: libmicrohttpd must not be stopped with a connection suspended.
        streams.stop()
        for server in servers.reversed() { server.stop() }
        wake.signal()
        if samplerFinished.wait(timeout: .now() + 1.5) == .timedOut {
            Log.warning("the sampler did not finish within 1.5 s; stopping anyway")
        }
        sinkRunner.stop()
        saveHistory()
        engine.saveAll()
        unlink(configuration.socketPath)
        withExtendedLifetime(lock) {}
        Log.info("stopped after \(cycles.load(ordering: .relaxed)) sampling cycles")
    }

    private func startServers(_ configuration: DaemonConfiguration, router: APIRouter) throws -> [HTTPServer] {
        var groupID: UInt32?
        if let name = configuration.socketGroup ?? (getgrnam("resmon") != nil ? "resmon" : nil), let group = getgrnam(name) {
            groupID = group.pointee.gr_gid
        }
        // The TCP port is bound and published first: a client that reaches the Unix socket
        // the moment it answers finds the listen address in /v1/status.
        var tcpDescriptor: Int32?
        if let listen = configuration.listen {
            if !listen.isLoopback { Log.warning("serving HTTP on \(listen), which is not a loopback address") }
            let (descriptor, port) = try ListeningSocket.tcp(host: listen.host, port: listen.port)
            tcpDescriptor = descriptor
            listenDescription.withLock { $0 = ListenAddress(host: listen.host, port: port).description }
        }
        let unixDescriptor = try ListeningSocket.unix(path: configuration.socketPath, mode: 0o660, groupID: groupID)
        var servers = [try HTTPServer(descriptor: unixDescriptor, transport: .unixSocket, handler: router,
                                      maxBodyBytes: configuration.maxRequestBytes, threads: configuration.httpThreads,
                                      connectionLimit: configuration.maxConnections)]
        if let tcpDescriptor {
            servers.append(try HTTPServer(descriptor: tcpDescriptor, transport: .tcp, handler: router,
                                          maxBodyBytes: configuration.maxRequestBytes, threads: configuration.httpThreads,
                                          connectionLimit: configuration.maxConnections))
        }
        return servers
    }

    private func installSignalHandlers(router: APIRouter) -> [any DispatchSourceSignal] {
        let queue = DispatchQueue(label: "resmond.signals")
        func on(_ signals: [Int32], _ action: @escaping @Sendable () -> Void) -> [any DispatchSourceSignal] {
            signals.map { number in
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler(handler: action)
                source.resume()
                return source
            }
        }
        return on([SIGTERM, SIGINT], { [self] in requestStop() })
            + on([SIGHUP, SIGTTIN], { [self] in _ = reload() })
            + on([SIGUSR1, SIGTTOU], { [self] in dump(router: router) })
    }

    /// Per-process files are kept open; let resmond hold as many descriptors as it may.
    private func raiseDescriptorLimit() {
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        if getrlimit(resource, &limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = min(limit.rlim_max, 1 << 20)
            setrlimit(resource, &limit)
        }
    }

    func requestStop() {
        if !stopping.exchange(true, ordering: .acquiringAndReleasing) {
            wake.signal()
            stopRequested.signal()
        }
    }

    /// Collects every subsystem that is due, then archives the readings: one sampling cycle.
    private func sample() {
        let started = Clock.threadCPU()
        collector.collect(time: Clock.wall(), monotonicTime: Clock.monotonic())
        history.record(table) { [collector] in
            Dictionary(uniqueKeysWithValues: collector.statuses().map { ($0.name, $0.periodSeconds) })
        }
        monitors.withLock { $0 }?.evaluate(now: Clock.wall())
        let count = cycles.add(1, ordering: .relaxed).newValue
        // Large requests (thousands of monitors in one body and answer) and plug-ins' runs (a
        // parse of node_exporter's 500 samples) leave freed memory in glibc's arenas; give it
        // back every minute. Every 60 cycles was every 5 minutes at the default step, and a
        // plug-in's churn showed in the RSS meanwhile.
        let second = Int(Clock.monotonic())
        if second - lastTrim.load(ordering: .relaxed) >= 60 {
            lastTrim.store(second, ordering: .relaxed)
            rs_malloc_trim()
        }
        if count % 60 == 0 {
            history.prune(now: Clock.wall())
            let (days, maximum) = configuration.withLock { ($0.eventRetentionDays, $0.eventRetentionCount) }
            // Batch by batch, each in its own short transaction, so writers wait at most one batch.
            if let engine = monitors.withLock({ $0 }) {
                while engine.enforceRetention(maximumAge: Double(days) * 86400, maximumCount: maximum, now: Clock.wall()) >= 5000 {}
            }
        }
        checkSelfLimits()
        let interval = Double(configuration.withLock { $0.historySnapshotSeconds })
        if Clock.monotonic() - lastSnapshot.withLock({ $0 }) >= interval { saveHistory() }
        lastSampleCPU.withLock { $0 = Clock.threadCPU() - started }
    }

    /// Reads `subsystems.d` and starts, restarts or stops plug-ins to match (on the sampling
    /// thread: at start, on SIGHUP and every `registry.refreshSeconds`). Each change is logged as
    /// a `subsystemConfigurationChange` event. Returns what it logged.
    @discardableResult
    private func applyRegistry() -> [String] {
        lastRegistryRead.withLock { $0 = Clock.monotonic() }
        let configuration = self.configuration.withLock { $0 }
        let (declared, problems) = PluginRegistry.read(configDirectory: configuration.configDirectory, step: configuration.step)
        for problem in problems { Log.warning(problem) }
        let plugins = declared.map { PluginSubsystem(configuration: $0, table: table, fetch: PluginRegistry.fetch) }
        let (added, changed, removed) = collector.setPlugins(plugins)
        guard let engine = monitors.withLock({ $0 }), !(added.isEmpty && changed.isEmpty && removed.isEmpty) else { return problems }
        let summaries = Dictionary(plugins.map { ($0.name, $0.summary) }, uniquingKeysWith: { first, _ in first })
        let now = Clock.wall()
        let events = [(added, "added"), (changed, "changed"), (removed, "removed")].flatMap { names, what in
            names.map { name in
                EventRecord(id: 0, time: now, code: EventType.subsystemConfigurationChange.rawValue,
                            type: EventType.subsystemConfigurationChange.name, severity: Severity.notice.name, monitorId: nil,
                            monitorName: nil, key: name, value: nil, threshold: nil, host: engine.hostName,
                            message: "plug-in subsystem \(name) \(what)" + (summaries[name].map { " (\($0))" } ?? ""),
                            cancels: nil, labels: [:], annotations: [:])
            }
        }
        for event in events { Log.info(event.message) }
        engine.log(events)
        return problems + events.map(\.message)
    }

    /// Makes the monitors from `monitors.d` what the files say (at start and on SIGHUP);
    /// returns the problems it logged.
    private func reconcileMonitorFiles(_ engine: MonitorEngine, _ configuration: DaemonConfiguration) -> [String] {
        let (declared, problems) = MonitorFileReader.read(configDirectory: configuration.configDirectory)
        let all = problems + engine.reconcile(files: declared)
        for problem in all { Log.warning(problem) }
        return all
    }

    /// Every `limits.selfMonitoringSeconds`: resmond's CPU share of one core and its RSS against
    /// its limits. Over either, new monitors and starts are refused (503 busy) until it is back
    /// under both; existing monitors keep running.
    private func checkSelfLimits() {
        let (period, cpuLimit, memoryLimit) = configuration.withLock { ($0.selfMonitoringSeconds, $0.cpuLimitPercent, $0.memoryLimitMB) }
        let now = Clock.monotonic()
        let cpu = Clock.processCPU()
        let due = selfCheck.withLock { check -> (Double, Double)? in
            if check.time == 0 {
                check.time = now
                check.cpu = cpu
                return nil
            }
            guard now - check.time >= Double(period) else { return nil }
            defer { check.time = now; check.cpu = cpu }
            return (now - check.time, cpu - check.cpu)
        }
        guard let (elapsed, used) = due, let engine = monitors.withLock({ $0 }) else { return }
        releaseStartupPagesOnce()
        let cpuPercent = used / elapsed * 100
        let memoryMB = Daemon.residentBytes() / 1_048_576
        selfCheck.withLock { $0.cpuPercent = cpuPercent; $0.memoryMB = memoryMB }
        var reasons: [String] = []
        if cpuPercent > cpuLimit { reasons.append("CPU \((cpuPercent * 10).rounded() / 10) % of a core > limit \(cpuLimit) %") }
        if memoryMB > Double(memoryLimit) { reasons.append("RSS \((memoryMB * 10).rounded() / 10) MB > limit \(memoryLimit) MB") }
        let reason = reasons.isEmpty ? nil : reasons.joined(separator: ", ")
        let before = engine.busy
        engine.setBusy(reason)
        if let reason, before == nil { Log.warning("over the self-limits (\(reason)): refusing new monitors") }
        if reason == nil, before != nil { Log.info("back under the self-limits: accepting new monitors") }
    }

    /// At the first self-monitoring check (15 s after start by default) start-up is over: the
    /// pages only it touched are given back (StartupPages). Code that runs later, such as the
    /// minute's history snapshot, faults its pages back in when it first runs.
    private func releaseStartupPagesOnce() {
        guard startupPagesReleased.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        guard configuration.withLock({ $0.releaseStartupPages }) else {
            Log.info("start-up pages kept (limits.releaseStartupPages is false)")
            return
        }
        let before = Daemon.residentBytes()
        let advised = StartupPages.release()
        guard advised > 0 else {
            Log.info("this kernel does not reclaim pages on request (MADV_PAGEOUT needs Linux 5.4); start-up pages stay mapped")
            return
        }
        let after = Daemon.residentBytes()
        func mib(_ bytes: Double) -> String { "\((bytes / 1_048_576 * 10).rounded() / 10) MiB" }
        Log.info("released start-up pages (\(mib(Double(advised))) of private file mappings advised): RSS \(mib(before)) → \(mib(after))")
    }

    private var historyPath: String { configuration.withLock { $0.stateDirectory } + "/history.snapshot" }

    /// Loads the last snapshot; a damaged one is moved aside and history starts empty.
    private func restoreHistory(_ configuration: DaemonConfiguration) {
        lastSnapshot.withLock { $0 = Clock.monotonic() }
        let path = historyPath
        do {
            guard let bytes = try readWholeFile(path) else { return }
            let restored = try history.restore(bytes)
            Log.info("history restored: \(restored) statistics from \(path)")
        } catch {
            let aside = path + ".damaged-\(Int(Clock.wall()))"
            rename(path, aside)
            Log.error("history snapshot \(path) cannot be used (\(error)); moved to \(aside), starting with empty history")
        }
    }

    private func saveHistory() {
        lastSnapshot.withLock { $0 = Clock.monotonic() }
        do {
            try history.write(to: historyPath)
        } catch {
            Log.error("history snapshot failed: \(error)")
        }
    }

    /// The host name events carry.
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count - 1)
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// The host's uuid for rrd_updates: /etc/machine-id as a UUID.
    static func hostUUID() -> String {
        let text = (try? readWholeFile("/etc/machine-id", limit: 4096)).flatMap { $0 }.map { String(decoding: $0, as: UTF8.self) } ?? ""
        return UUIDText.format(hex: text) ?? "00000000-0000-0000-0000-000000000000"
    }

    /// Samples on every step boundary of the wall clock (as round-robin archives expect) until
    /// asked to stop; applies reloads between samples.
    private func samplingLoop() {
        while !stopping.load(ordering: .acquiring) {
            let (step, limit) = configuration.withLock { (Double($0.step), $0.cycles) }
            if let limit, cycles.load(ordering: .relaxed) >= limit {
                requestStop()
                return
            }
            let now = Clock.wall()
            let nextStep = ((now / step).rounded(.down) + 1) * step
            // Sub-step monitors wake the sampler between steps to re-read just their subsystems.
            let fast = monitors.withLock { $0 }?.fastSchedule()
            var wakeAt = nextStep
            if let fast { wakeAt = min(nextStep, ((now / fast.interval).rounded(.down) + 1) * fast.interval) }
            _ = wake.wait(timeout: .now() + .nanoseconds(Int(max(0, wakeAt - now) * 1e9)))
            if stopping.load(ordering: .acquiring) { return }
            // Taken with its number under the one lock reload() sets both under.
            if let (reloaded, generation) = pendingReload.withLock({ pending -> (DaemonConfiguration, Int)? in
                defer { pending = nil }
                return pending.map { ($0, reloads.withLock { $0.requested }) }
            }) {
                collector.reconfigure(step: Double(reloaded.step), settings: reloaded.subsystems)
                pushed.setExpiry(seconds: reloaded.pushExpireSeconds)
                configuration.withLock { $0 = reloaded }
                var messages: [String] = []
                if let engine = monitors.withLock({ $0 }) { messages += reconcileMonitorFiles(engine, reloaded) }
                messages += applyRegistry()
                monitors.withLock { $0 }?.setStormLimits(perMonitorPerMinute: reloaded.eventsPerMonitorPerMinute,
                                                          maximumPerSecond: reloaded.eventsPerSecond)
                sinks.withLock { $0 }?.configure(reloaded.sinks, host: Daemon.hostName(), log: { Log.warning($0) })
                reloads.withLock { $0.applied = generation; $0.messages = messages }
                continue
            }
            let refresh = Double(configuration.withLock { $0.registryRefreshSeconds })
            if Clock.monotonic() - lastRegistryRead.withLock({ $0 }) >= refresh { applyRegistry() }
            let woke = Clock.wall()
            if woke + 0.002 >= nextStep {
                sample()
            } else if let fast, woke + 0.002 >= wakeAt {
                collector.collect(subsystems: fast.subsystems, time: woke, monotonicTime: Clock.monotonic())
                monitors.withLock { $0 }?.evaluate(now: woke)
            }
        }
    }

    /// `POST /v1/reload`: reloads, then waits (up to 30 s) until the sampling thread has applied
    /// it, so the answer says what the reload did.
    private func reloadAndWait() -> Result<ReloadResponse, ReloadRefused> {
        let asked: (generation: Int, configFile: String, restartRequired: [String])
        switch reload() {
        case .success(let value): asked = value
        case .failure(let refused): return .failure(refused)
        }
        let deadline = Clock.monotonic() + 30
        while Clock.monotonic() < deadline {
            if let messages = reloads.withLock({ $0.applied >= asked.generation ? $0.messages : nil }) {
                return .success(ReloadResponse(configFile: asked.configFile, restartRequired: asked.restartRequired, messages: messages))
            }
            usleep(5_000)
        }
        return .success(ReloadResponse(configFile: asked.configFile, restartRequired: asked.restartRequired,
                                       messages: ["the reload is queued: the sampling thread has not applied it within 30 s"]))
    }

    /// Re-reads resmond.json (SIGHUP, `POST /v1/reload`) and hands it to the sampling thread,
    /// which applies it with `subsystems.d` and `monitors.d`. A bad file is reported and the
    /// running configuration kept. Returns the reload's number, the file, and the keys that need
    /// a restart.
    private func reload() -> Result<(generation: Int, configFile: String, restartRequired: [String]), ReloadRefused> {
        let reloaded: DaemonConfiguration
        do {
            reloaded = try options.configuration()
            try Daemon.validate(reloaded)
        } catch {
            Log.error("reload refused, keeping the running configuration: \(error)")
            return .failure(ReloadRefused(message: "reload refused, keeping the running configuration: \(error)"))
        }
        let current = configuration.withLock { $0 }
        var restartOnly: [String] = []
        if reloaded.stateDirectory != current.stateDirectory { restartOnly.append("stateDir") }
        if reloaded.socketPath != current.socketPath || reloaded.socketGroup != current.socketGroup { restartOnly.append("http.socket") }
        if reloaded.listen != current.listen || reloaded.maxRequestBytes != current.maxRequestBytes
            || reloaded.httpThreads != current.httpThreads || reloaded.maxConnections != current.maxConnections { restartOnly.append("http") }
        if reloaded.procRoot != current.procRoot || reloaded.sysRoot != current.sysRoot { restartOnly.append("collect.procRoot/sysRoot") }
        if reloaded.tokenFile != current.tokenFile { restartOnly.append("http.tokenFile") }
        var applied = reloaded
        // Keys that need a restart keep their running values so status tells the truth.
        applied.stateDirectory = current.stateDirectory
        applied.socket = current.socket
        applied.socketGroup = current.socketGroup
        applied.listen = current.listen
        applied.maxRequestBytes = current.maxRequestBytes
        applied.httpThreads = current.httpThreads
        applied.maxConnections = current.maxConnections
        applied.procRoot = current.procRoot
        applied.sysRoot = current.sysRoot
        applied.tokenFile = current.tokenFile
        if !restartOnly.isEmpty {
            Log.warning("reload: \(restartOnly.joined(separator: ", ")) changed and take effect at the next start")
        }
        let generation = pendingReload.withLock { pending in
            pending = applied
            return reloads.withLock { $0.requested += 1; return $0.requested }
        }
        wake.signal()
        Log.info("reloaded \(current.configFile) (step \(applied.step) s)")
        return .success((generation, current.configFile, restartOnly))
    }

    /// Writes status, subsystems and every statistic to `resmond-dump.json` in the state directory (SIGUSR1).
    private func dump(router: APIRouter) {
        let path = configuration.withLock { $0.stateDirectory } + "/resmond-dump.json"
        func body(_ path: String) -> [UInt8] {
            router.handle(HTTPRequest(method: "GET", path: path)).body
        }
        let bytes = Array("{\"time\":\(Clock.wall()),\"status\":".utf8) + body("/v1/status")
            + Array(",\"subsystems\":".utf8) + body("/v1/subsystems")
            + Array(",\"statistics\":".utf8) + body("/v1/statistics") + Array("}\n".utf8)
        do {
            try writeAtomically(bytes, to: path)
            Log.info("state dump written to \(path)")
        } catch {
            Log.error("state dump failed: \(error)")
        }
    }

    func status() -> StatusResponse {
        let configuration = self.configuration.withLock { $0 }
        let subsystems = collector.statuses()
        let now = Clock.wall()
        return StatusResponse(
            version: ResmonVersion.current, pid: getpid(), startedAt: startedAt, uptimeSeconds: now - startedAt,
            stepSeconds: Double(configuration.step), cycles: cycles.load(ordering: .relaxed), statistics: table.count,
            subsystemsAvailable: subsystems.filter { $0.state == .available }.count,
            subsystemsUnavailable: subsystems.filter { $0.state == .unavailable }.count,
            stateDirectory: configuration.stateDirectory, configDirectory: configuration.configDirectory,
            socket: configuration.socketPath, listen: listenDescription.withLock { $0 },
            busy: monitors.withLock { $0 }?.busy != nil,
            cpuSecondsTotal: Clock.processCPU(), residentBytes: Daemon.residentBytes(),
            lastSampleCPUSeconds: lastSampleCPU.withLock { $0 }, busyReason: monitors.withLock { $0 }?.busy,
            limits: selfCheck.withLock { check in
                SelfLimits(cpuPercent: configuration.cpuLimitPercent, memoryMB: configuration.memoryLimitMB,
                           selfMonitoringSeconds: configuration.selfMonitoringSeconds,
                           measuredCPUPercent: check.cpuPercent, measuredMemoryMB: check.memoryMB)
            })
    }

    /// Resident set size from /proc/self/statm.
    static func residentBytes() -> Double {
        guard let text = try? ProcFile("/proc/self/statm", capacity: 128).readText()
        else { return .nan }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Double(fields[1]) else { return .nan }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE)))
    }
}
