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

#if canImport(Glibc)
    import Glibc
#endif

/// resmond: builds its services (Service.swift) and runs their lifecycle — start in dependency
/// order, serve until asked to stop, stop in reverse.
public final class Daemon: Sendable {
    private let options: DaemonOptions
    private let configuration: RunningConfiguration
    private let table = SampleTable()
    private let collector: Collector
    private let pushed: PushedStatistics
    private let history: HistoryStore
    private let stopRequest = StopRequest()

    /// Parses the command line, runs the daemon, and exits with its status.
    public static func main(arguments: [String]) -> Never {
        // A parent may hand down a blocked signal mask (Foundation's Process does); TERM, HUP
        // and USR1 must reach us.
        var nothing = sigset_t()
        sigemptyset(&nothing)
        sigprocmask(SIG_SETMASK, &nothing, nil)
        signal(SIGPIPE, SIG_IGN)
        // Past a file size limit (RLIMIT_FSIZE) a write fails with EFBIG, which the state
        // database reports like a full disk; the signal's default would end resmond instead.
        signal(SIGXFSZ, SIG_IGN)
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
            try configuration.validateOnThisMachine()
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

    init(options: DaemonOptions, configuration: DaemonConfiguration) {
        self.options = options
        self.configuration = RunningConfiguration(configuration)
        let paths = HostPaths(procRoot: configuration.procRoot, sysRoot: configuration.sysRoot)
        pushed = PushedStatistics(table: table, expireSeconds: configuration.pushExpireSeconds)
        history = HistoryStore(
            settings: HistoryStore.Settings(
                step: configuration.step, processTiers: configuration.historyProcessTiers,
                pluginTiers: configuration.historyPluginTiers, maxPluginStatistics: configuration.historyMaxPluginStatistics))
        let collectorBox = LateBound<Collector>()
        let subsystems =
            Collector.builtInSubsystems(paths: paths, table: table) + [
                SelfSubsystem(table: table, sampleCost: { collectorBox.value?.lastCycleCPU ?? .nan }),
                AppSubsystem(pushed: pushed)
            ]
        collector = Collector(
            subsystems: subsystems, table: table, step: Double(configuration.step),
            settings: configuration.subsystems)
        collectorBox.bind(collector)
        collector.onStateChange = { status in
            switch status.state {
            case .available: Log.info("subsystem \(status.name) is available")
            case .unavailable: Log.warning("subsystem \(status.name) is unavailable: \(status.reason ?? "unknown reason")")
            case .disabled: Log.info("subsystem \(status.name) is disabled")
            case .overLimit, .stuck: Log.warning("subsystem \(status.name) is \(status.state.rawValue): \(status.reason ?? "unknown reason")")
            }
        }
    }

    func run() throws {
        rs_malloc_tune()
        let configuration = self.configuration.current
        try makeDirectories(configuration.stateDirectory)
        let lock: InstanceLock
        do {
            lock = try InstanceLock(directory: configuration.stateDirectory)
        } catch {
            throw DaemonFailure(error.description)
        }
        let stateGroup = StatePermissions.groupID(socketGroup: configuration.socketGroup)
        for problem in StatePermissions.apply(stateDirectory: configuration.stateDirectory, group: stateGroup) { Log.warning(problem) }
        // The registry's directories exist from the first start, so that a plug-in or a monitor
        // file can be dropped in (the README's tour does) without knowing to create them.
        for directory in ["subsystems.d", "monitors.d"] {
            do {
                try makeDirectories(configuration.configDirectory + "/" + directory)
            } catch {
                Log.warning("\(error)")
            }
        }
        HostFacts.raiseDescriptorLimit()
        // What an exec plug-in or sink leaves running in a session of its own comes back to
        // resmond instead of init, to be killed (docs/PLUGINS.md).
        do {
            try ProcessGroup.becomeChildSubreaper()
        } catch {
            Log.warning("cannot become a child subreaper (\(error)): processes that exec plug-ins leave in a session of their own are not killed")
        }

        let group = try makeServices(configuration)
        try group.services.start()
        Log.info(
            "resmond \(ResmonVersion.current) serving \(table.count) statistics on \(configuration.socketPath)"
                + (group.http.listenDescription.map { " and http://\($0)" } ?? "") + ", step \(configuration.step) s")
        _ = rs_sd_notify("READY=1\nSTATUS=serving")

        stopRequest.wait()
        _ = rs_sd_notify("STOPPING=1")
        group.services.stop()
        // A copy kept beside another file at state.db's path holds the services' last writes.
        group.stateWatch.lastLook()
        do {
            // Everything in the database file, none left in its write-ahead log; the marker
            // records what it holds, for the next start to check.
            try group.database.closeCleanly()
        } catch {
            Log.error("cannot checkpoint the state database at stop: \(error)")
        }
        withExtendedLifetime(lock) {}
        Log.info("stopped after \(group.sampling.cyclesCompleted) sampling cycles")
    }

    /// The services in the order they start; each needs only those before it.
    private func makeServices(_ configuration: DaemonConfiguration) throws
        -> (services: ServiceGroup, http: HTTPService, sampling: SamplingService, database: StateDatabase, stateWatch: StateDirectoryWatch)
    {
        let database: StateDatabase
        do {
            database = try StateDatabase(
                path: configuration.stateDirectory + "/state.db", migrations: MonitorStore.migrations,
                continuity: MonitorStore.continuity(acceptLoss: options.acceptStateLoss))
        } catch let error as StateLossError {
            throw DaemonFailure(error.description)
        } catch {
            throw DaemonFailure("cannot open the state database in \(configuration.stateDirectory): \(error)")
        }
        for problem in database.startReport { Log.error(problem) }
        let snapshots = HistorySnapshotService(history: history, configuration: self.configuration)
        // Read once: the hostname could change under a running resmond, its identity does not.
        let identity = configuration.identity
        let sinks = SinkService(runner: SinkRunner(database: database), configuration: self.configuration, host: identity.host)
        let remoteWrite = RemoteWriteService(table: table, configuration: self.configuration)
        let events = EventStore(database: database)
        let streams = EventStreamService(maximumStreams: configuration.maxConnections, events: events)
        let wake = DispatchSemaphore(value: 0)
        let engine = MonitorEngine(
            database: database, table: table, step: Double(configuration.step), host: identity.host, labels: identity.labels,
            published: { events in
                streams.hub.publish(events)
                sinks.runner.wake()
            },
            samplingRequest: { [collector] subsystem, rate, requester in
                // Monitors faster than their subsystem's period get it sampled at their rate.
                if let rate { collector.requestPeriod(rate, for: subsystem, by: requester) } else { collector.withdrawPeriodRequest(by: requester) }
            },
            scheduleChanged: { wake.signal() },
            report: { report in
                switch report {
                case .problem(let message): Log.error(message)
                case .recovered(let message): Log.info(message)
                }
            })
        let requestWork = RequestWork(percent: { [configuration = self.configuration] in configuration.read { $0.requesterCPUPercent } })
        let selfLimits = SelfLimitsService(
            configuration: self.configuration, engine: engine, table: table, history: history, requestWork: requestWork)
        let stateSnapshots = StateSnapshotService(engine: engine)
        let reloads = ReloadRequests()
        let sampling = SamplingService(
            SamplingService.Parts(
                configuration: self.configuration, collector: collector, table: table,
                history: history, snapshots: snapshots, engine: engine, pushed: pushed,
                sinks: sinks, remoteWrite: remoteWrite, selfLimits: selfLimits, reloads: reloads, wake: wake),
            requestStop: { [stopRequest] in stopRequest.request() })
        let reloader = Reloader(
            options: options, configuration: self.configuration, requests: reloads, engine: engine, wake: { wake.signal() })
        let signalledReloads = CoalescedReloads { _ = reloader.reload() }
        let boundRouter = LateBound<APIRouter>()
        let http = HTTPService(configuration: configuration, router: boundRouter)
        let stateWatch = StateDirectoryWatch(
            database: database, http: http, directory: configuration.stateDirectory,
            group: StatePermissions.groupID(socketGroup: configuration.socketGroup))
        let status = StatusReport(
            startedAt: Clock.wall(), configuration: self.configuration, collector: collector, table: table,
            sampling: sampling, selfLimits: selfLimits, http: http, remoteWrite: remoteWrite, stateWatch: stateWatch)
        let writeToken = configuration.tokenFile.flatMap { try? DaemonConfiguration.readToken($0, source: configuration.configFile) }
        var context = APIContext(
            table: table, status: { status.response() },
            subsystems: { [collector] in collector.statuses() },
            pushed: pushed, writeToken: writeToken, history: history,
            monitors: engine, events: events, streams: streams.hub, sinks: { sinks.runner.statuses() },
            hostUUID: HostFacts.hostUUID(), reload: { reloader.reloadAndWait() }, requestWork: requestWork,
            stall: { sampling.stall })
        context.loopbackListener = configuration.listen?.isLoopback ?? false
        let router = APIRouter(context: context)
        boundRouter.bind(router)
        let signals = SignalService(
            stop: { [stopRequest] in stopRequest.request() },
            reload: { signalledReloads.request() },
            dump: { [configuration = self.configuration] in
                StateDump.write(router: router, stateDirectory: configuration.read { $0.stateDirectory })
            })
        let services = ServiceGroup([
            .init(service: snapshots, stopSeconds: 10),
            .init(service: sinks, stopSeconds: 5),
            // Before the sampler, which hands it each step's readings.
            .init(service: remoteWrite, stopSeconds: 2),
            .init(service: sampling, stopSeconds: 1.5),
            // After the sampling service has loaded the monitors; stops before its final save.
            .init(service: stateSnapshots, stopSeconds: 2),
            .init(service: selfLimits, stopSeconds: 1),
            // Before the servers answer: a signal sent once /healthz answers (SIGUSR1 for a dump,
            // SIGHUP) must find its handler, not the default action, which ends the process.
            .init(service: signals, stopSeconds: 1),
            .init(service: http, stopSeconds: 5),
            .init(service: streams, stopSeconds: 3),
            // Stops first: its look at the stop puts a removed state directory and database back,
            // so that the sampler's final save and the history snapshot land in them.
            .init(service: stateWatch, stopSeconds: 10)
        ])
        return (services, http, sampling, database, stateWatch)
    }
}
