import CShim
import Dispatch
import Events
import History
import Monitoring
import ResmonAPI
import ResmonSystem
import Statistics
import Synchronization

/// The sampling thread: samples on every step boundary of the wall clock (as round-robin
/// archives expect), records history, evaluates monitors, re-reads `subsystems.d` every
/// `registry.refreshSeconds`, and applies reloads between samples. Everything that changes the
/// collector's set of subsystems happens on this thread.
final class SamplingService: Service {
    let name = "sampling"
    let configuration: RunningConfiguration
    let collector: Collector
    let table: SampleTable
    let history: HistoryStore
    let snapshots: HistorySnapshotService
    let engine: MonitorEngine
    let pushed: PushedStatistics
    let sinks: SinkService
    let remoteWrite: RemoteWriteService
    let selfLimits: SelfLimitsService
    let reloads: ReloadRequests
    /// Signalled to wake the thread early: to stop, to apply a reload, or because a monitor's
    /// schedule changed.
    let wake: DispatchSemaphore
    /// Asks resmond to stop (after `--cycles N`).
    private let requestStop: @Sendable () -> Void
    /// systemd's watchdog, pinged from the loop (nil when systemd asks for none).
    private let watchdog = Watchdog.fromEnvironment()

    private let cycles = Atomic<Int>(0)
    private let lastSampleCPU = Lock<Double?>(nil)
    private let cycleTimes = Lock(CycleTimes())
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    /// Monotonic second of the last `malloc_trim`.
    private let lastTrim = Atomic<Int>(0)
    /// When the last step's cycle ended, or the thread started (monotonic).
    private let lastCycleEnded = Lock<Double>(Clock.monotonic())
    /// When `subsystems.d` was last read (monotonic).
    let lastRegistryRead = Lock<Double>(0)
    /// The series all plug-ins together may hold (`registry.maxSeries`), shared by every plug-in.
    let pluginSeries = PluginSeriesBudget()

    struct Parts {
        let configuration: RunningConfiguration
        let collector: Collector
        let table: SampleTable
        let history: HistoryStore
        let snapshots: HistorySnapshotService
        let engine: MonitorEngine
        let pushed: PushedStatistics
        let sinks: SinkService
        let remoteWrite: RemoteWriteService
        let selfLimits: SelfLimitsService
        let reloads: ReloadRequests
        let wake: DispatchSemaphore
    }

    init(_ parts: Parts, requestStop: @escaping @Sendable () -> Void) {
        configuration = parts.configuration
        collector = parts.collector
        table = parts.table
        history = parts.history
        snapshots = parts.snapshots
        engine = parts.engine
        pushed = parts.pushed
        sinks = parts.sinks
        remoteWrite = parts.remoteWrite
        selfLimits = parts.selfLimits
        reloads = parts.reloads
        wake = parts.wake
        self.requestStop = requestStop
    }

    /// Sampling cycles completed, for `/v1/status`.
    var cyclesCompleted: Int { cycles.load(ordering: .relaxed) }
    /// Seconds since the last step's cycle ended (or the thread started).
    var lastCycleAge: Double { max(0, Clock.monotonic() - lastCycleEnded.withLock { $0 }) }
    /// Why the thread counts as stalled, or nil (`SamplerStall`).
    var stall: String? { SamplerStall.reason(age: lastCycleAge, step: configuration.read { Double($0.step) }) }
    /// The sampling thread's CPU time for the last cycle.
    var lastCycleCPU: Double? { lastSampleCPU.withLock { $0 } }
    /// The cycles' wall times: their histogram and the longest of the last ten minutes.
    var cycleDurations: (histogram: DurationHistogram, longest: Double?) {
        let now = Clock.monotonic()
        return cycleTimes.withLock { ($0.histogram, $0.longestRecent(at: now)) }
    }

    /// Takes the first sample (monitors refer to statistics it creates), loads the monitors and
    /// the configuration directories, then starts the thread.
    func start() throws {
        sample()
        do {
            for reason in try engine.load() { Log.error(reason) }
        } catch {
            throw DaemonFailure("cannot open the state database in \(configuration.read { $0.stateDirectory }): \(error)")
        }
        let running = configuration.current
        if let note = MonitorFileReader.writeDefaultsOnFirstStart(
            configDirectory: running.configDirectory,
            stateDirectory: running.stateDirectory)
        {
            Log.info(note)
        }
        _ = reconcileMonitorFiles(running)
        applyRegistry()
        engine.setStormLimits(perMonitorPerMinute: running.eventsPerMonitorPerMinute, maximumPerSecond: running.eventsPerSecond)
        DispatchQueue(label: "resmond.sampler", qos: .utility).async { [self] in
            loop()
            finished.signal()
        }
    }

    /// Ends the thread after the cycle in progress, then saves the monitors' state (even when
    /// the thread overran: what it holds is consistent between cycles).
    func stop(deadline: Double) {
        stopping.store(true, ordering: .releasing)
        wake.signal()
        let seconds = max(0, deadline - Clock.monotonic())
        if finished.wait(timeout: .now() + .nanoseconds(Int(seconds * 1e9))) == .timedOut {
            Log.warning("the sampler did not finish within \((seconds * 10).rounded() / 10) s; stopping anyway")
        }
        engine.saveAll()
    }

    private func loop() {
        while !stopping.load(ordering: .acquiring) {
            // From the loop itself, so that a cycle that never ends stops the pings.
            watchdog?.pingIfDue()
            let (step, limit, refresh) = configuration.read { (Double($0.step), $0.cycles, Double($0.registryRefreshSeconds)) }
            if let limit, cycles.load(ordering: .relaxed) >= limit {
                requestStop()
                return
            }
            let now = Clock.wall()
            let nextStep = ((now / step).rounded(.down) + 1) * step
            // Sub-step monitors wake the sampler between steps to re-read just their subsystems.
            let fast = engine.fastSchedule()
            var wakeAt = nextStep
            if let fast { wakeAt = min(nextStep, ((now / fast.interval).rounded(.down) + 1) * fast.interval) }
            var wait = max(0, wakeAt - now)
            if let watchdog {
                let monotonic = Clock.monotonic()
                wait = min(wait, max(0, watchdog.nextPing(now: monotonic) - monotonic))
            }
            _ = wake.wait(timeout: .now() + .nanoseconds(Int(wait * 1e9)))
            if stopping.load(ordering: .acquiring) { return }
            if let (plan, generation) = reloads.take() {
                let messages = apply(plan)
                reloads.finish(generation, messages: messages, storageFailure: engine.monitorFilesPending)
                // A new step counts from its next boundary; otherwise a reload never costs a
                // sample that is due (a storm of them once left none).
                if Double(plan.configuration.step) != step { continue }
            }
            if Clock.monotonic() - lastRegistryRead.withLock({ $0 }) >= refresh { applyRegistry() }
            let woke = Clock.wall()
            let started = Clock.monotonic()
            if woke + 0.002 >= nextStep {
                sample()
            } else if let fast, woke + 0.002 >= wakeAt {
                collector.collect(subsystems: fast.subsystems, time: woke, monotonicTime: Clock.monotonic())
                engine.evaluate(now: woke)
            } else {
                continue
            }
            let ended = Clock.monotonic()
            cycleTimes.withLock { $0.record(ended - started, at: ended) }
        }
    }

    /// Collects every subsystem that is due, then archives the readings: one sampling cycle.
    private func sample() {
        let started = Clock.threadCPU()
        collector.collect(time: Clock.wall(), monotonicTime: Clock.monotonic())
        remoteWrite.capture()
        history.record(table) { [collector] in
            Dictionary(uniqueKeysWithValues: collector.statuses().map { ($0.name, $0.periodSeconds) })
        }
        engine.evaluate(now: Clock.wall())
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
            let (days, maximum, perUser) = configuration.read {
                ($0.eventRetentionDays, $0.eventRetentionCount, $0.eventRetentionCountPerUser)
            }
            // Batch by batch, each in its own short transaction, so writers wait at most one batch.
            while ((try? engine.eventStore.enforceRetention(
                maximumAge: Double(days) * 86400, maximumCount: maximum, maximumCountPerUser: perUser, now: Clock.wall())) ?? 0)
                >= EventStore.retentionBatch
            {}
        }
        snapshots.saveIfDue()
        lastSampleCPU.withLock { $0 = Clock.threadCPU() - started }
        lastCycleEnded.withLock { $0 = Clock.monotonic() }
    }
}

/// When the sampling thread counts as stalled: no step's cycle completed for 10 steps and at
/// least a minute. A cycle waits for nothing outside resmond (a configuration file that could
/// block is refused), so this is a fault to report, never the ordinary lateness of a busy host.
enum SamplerStall {
    static func reason(age: Double, step: Double) -> String? {
        let limit = max(10 * step, 60)
        guard age > limit else { return nil }
        return "the sampling thread has completed no cycle for \(Int(age)) s (more than \(Int(limit)) s: 10 steps, at least a minute)"
    }
}
