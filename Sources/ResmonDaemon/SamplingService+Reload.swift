import Events
import Monitoring
import ResmonAPI
import ResmonSystem
import Statistics

/// What the sampling thread reads from the configuration directory: reload plans, `subsystems.d`
/// and `monitors.d`.
extension SamplingService {
    /// Applies a reload between two samples; returns what it reported (for `POST /v1/reload`).
    func apply(_ plan: ReloadPlan) -> [String] {
        let reloaded = plan.configuration
        collector.reconfigure(step: Double(reloaded.step), settings: reloaded.subsystems)
        pushed.setExpiry(seconds: reloaded.pushExpireSeconds)
        configuration.replace(with: reloaded)
        var messages: [String]
        if let prepared = plan.monitorFiles {
            messages = plan.monitorFileProblems + engine.reconcile(prepared)
            for problem in messages { Log.warning(problem) }
        } else {
            messages = reconcileMonitorFiles(reloaded)
        }
        messages += applyRegistry()
        engine.setStormLimits(perMonitorPerMinute: reloaded.eventsPerMonitorPerMinute, maximumPerSecond: reloaded.eventsPerSecond)
        sinks.apply(reloaded)
        remoteWrite.apply(reloaded)
        selfLimits.periodChanged()
        return messages
    }

    /// Reads `subsystems.d` and starts, restarts or stops plug-ins to match (at start, on
    /// reload and every `registry.refreshSeconds`). Each change is logged as a
    /// `subsystemConfigurationChange` event. Returns what it logged.
    @discardableResult
    func applyRegistry() -> [String] {
        lastRegistryRead.withLock { $0 = Clock.monotonic() }
        let running = configuration.current
        let (declared, problems) = PluginRegistry.read(configDirectory: running.configDirectory, step: running.step)
        for problem in problems { Log.warning(problem) }
        pluginSeries.limit = running.registryMaxSeries
        let plugins = declared.map { PluginSubsystem(configuration: $0, table: table, fetch: PluginRegistry.fetch, budget: pluginSeries) }
        let (added, changed, removed) = collector.setPlugins(plugins)
        guard !(added.isEmpty && changed.isEmpty && removed.isEmpty) else { return problems }
        let summaries = Dictionary(plugins.map { ($0.name, $0.summary) }, uniquingKeysWith: { first, _ in first })
        let now = Clock.wall()
        let events = [(added, "added"), (changed, "changed"), (removed, "removed")].flatMap { names, what in
            names.map { name in
                EventRecord(
                    id: 0, time: now, code: EventType.Kind.subsystemConfigurationChange.code,
                    type: .subsystemConfigurationChange, severity: .notice, monitorId: nil,
                    monitorName: nil, key: name, value: nil, threshold: nil, host: engine.hostName,
                    message: "plug-in subsystem \(name) \(what)" + (summaries[name].map { " (\($0))" } ?? ""),
                    cancels: nil, labels: [:], annotations: [:])
            }
        }
        for event in events { Log.info(event.message) }
        engine.log(events)
        return problems + events.map(\.message)
    }

    /// Makes the monitors from `monitors.d` what the files say (at start and on reload);
    /// returns the problems it logged.
    func reconcileMonitorFiles(_ configuration: DaemonConfiguration) -> [String] {
        let (declared, problems) = MonitorFileReader.read(configDirectory: configuration.configDirectory)
        let all = problems + engine.reconcile(files: declared)
        for problem in all { Log.warning(problem) }
        return all
    }
}
