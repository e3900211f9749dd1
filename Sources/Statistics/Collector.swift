import ResmonSystem

/// What `resmon subsystems` shows about one subsystem.
public struct SubsystemStatus: Sendable, Equatable {
    public enum State: String, Sendable {
        case available, unavailable, disabled
        /// A plug-in whose output passed a limit (`maxBytes`, `maxSeries`, `registry.maxSeries`):
        /// refused as a whole, its statistics gone until a run fits.
        case overLimit = "over-limit"
        /// A plug-in whose run went past its timeout.
        case stuck
    }

    public var name: String
    public var summary: String
    public var state: State
    /// Why the subsystem is unavailable or disabled.
    public var reason: String?
    public var periodSeconds: Double
    /// Values recorded in the last collection.
    public var statistics: Int
    public var lastCollected: Double?
    public var lastDurationSeconds: Double?
    /// Wall time spent in all collections so far.
    public var totalDurationSeconds: Double = 0
    public var collections: Int
    public var failures: Int
    /// Plug-ins only: their kind, runs, malformed lines in the last run, and the last error
    /// (a failure, or the first malformed line with its number).
    public var plugin: String?
    public var runs: Int?
    public var malformedLines: Int?
    public var lastError: String?
}

/// How a subsystem is configured: on or off, and how often it is sampled.
public struct SubsystemSettings: Sendable, Equatable {
    public var enabled: Bool
    /// Seconds between samples; nil means the base step. Rounded up to a multiple of the step.
    public var period: Double?

    public init(enabled: Bool = true, period: Double? = nil) {
        self.enabled = enabled
        self.period = period
    }
}

/// Runs each subsystem on its own period and publishes what it read into the sample table.
///
/// `collect` is called from the sampling thread only; `statuses` may be read from any thread.
/// Sendable by hand: `entries`, `step` and `batch` belong to the sampling thread; what other
/// threads read or request (`board`, `fasterRequests`) is behind a Lock.
public final class Collector: @unchecked Sendable {
    // The subsystems and their schedule are confined to the sampling thread; only the status
    // board crosses threads, behind its mutex.
    private struct Entry {
        let subsystem: any Subsystem
        var settings: SubsystemSettings
        var nextDue: Double = 0
    }

    public let table: SampleTable
    /// CPU seconds of the last `collect` (read by the `self` subsystem on the same thread).
    public private(set) var lastCycleCPU = 0.0
    private var entries: [Entry]
    private var step: Double
    private var batch = SampleBatch()
    private let board: Lock<[SubsystemStatus]>
    /// Consumers that need a subsystem sampled faster than configured: requester → (subsystem, period).
    private let fasterRequests = Lock(PeriodRequests())

    /// Who asked for what, and per subsystem how many asked for each period, so that the
    /// fastest is found without walking every request (a million monitors make a million).
    struct PeriodRequests {
        var byRequester: [String: (subsystem: String, period: Double)] = [:]
        var counts: [String: [Double: Int]] = [:]
        /// The fastest period asked for each subsystem.
        var fastest: [String: Double] = [:]

        mutating func set(_ requester: String, _ request: (subsystem: String, period: Double)?) {
            if let old = byRequester.removeValue(forKey: requester) {
                counts[old.subsystem, default: [:]][old.period, default: 0] -= 1
                if counts[old.subsystem]?[old.period] == 0 { counts[old.subsystem]?[old.period] = nil }
                fastest[old.subsystem] = counts[old.subsystem]?.keys.min()
            }
            if let request {
                byRequester[requester] = request
                counts[request.subsystem, default: [:]][request.period, default: 0] += 1
                fastest[request.subsystem] = min(fastest[request.subsystem] ?? .infinity, request.period)
            }
        }
    }
    /// The plug-in subsystems by name, for their health in `statuses()` from any thread.
    private let plugins = Lock<[String: PluginSubsystem]>([:])
    /// Called on the sampling thread when a subsystem becomes available, unavailable or disabled.
    public var onStateChange: (@Sendable (SubsystemStatus) -> Void)?

    public init(
        subsystems: [any Subsystem], table: SampleTable, step: Double,
        settings: [String: SubsystemSettings] = [:]
    ) {
        self.table = table
        self.step = step
        self.entries = subsystems.map { Entry(subsystem: $0, settings: settings[$0.name] ?? SubsystemSettings()) }
        self.board = Lock(
            subsystems.map { subsystem in
                let configured = settings[subsystem.name] ?? SubsystemSettings()
                return SubsystemStatus(
                    name: subsystem.name, summary: subsystem.summary, state: configured.enabled ? .available : .disabled,
                    reason: configured.enabled ? nil : "disabled in the configuration",
                    periodSeconds: Collector.period(configured.period, step: step), statistics: 0,
                    lastCollected: nil, lastDurationSeconds: nil, collections: 0, failures: 0)
            })
    }

    /// The built-in subsystems, in collection order: the host, then processes and cgroups.
    public static func builtInSubsystems(paths: HostPaths, table: SampleTable) -> [any Subsystem] {
        hostSubsystems(paths: paths, table: table) + [
            ProcessSubsystem(paths: paths, table: table),
            CgroupSubsystem(paths: paths, table: table)
        ]
    }

    /// The host-wide subsystems, in collection order.
    public static func hostSubsystems(paths: HostPaths, table: SampleTable) -> [any Subsystem] {
        [
            CPUSubsystem(paths: paths, table: table),
            MemorySubsystem(paths: paths, table: table),
            LoadSubsystem(paths: paths, table: table),
            PressureSubsystem(paths: paths, table: table),
            DiskSubsystem(paths: paths, table: table),
            NetSubsystem(paths: paths, table: table),
            FileSystemSubsystem(paths: paths, table: table)
        ]
    }

    static func period(_ configured: Double?, step: Double) -> Double {
        guard let configured, configured > step else { return step }
        return (configured / step).rounded(.up) * step
    }

    /// Changes the base step and the subsystems' settings (a reload). Call on the sampling thread.
    public func reconfigure(step: Double, settings: [String: SubsystemSettings]) {
        self.step = step
        for index in entries.indices {
            let name = entries[index].subsystem.name
            let updated = settings[name] ?? SubsystemSettings()
            if entries[index].settings.enabled && !updated.enabled { entries[index].subsystem.retireAll() }
            entries[index].settings = updated
            entries[index].nextDue = 0
            let period = effectivePeriod(entries[index], fasterRequests.withLock { $0.fastest })
            updateStatus(name) { status in
                status.periodSeconds = period
                if !updated.enabled {
                    status.state = .disabled
                    status.reason = "disabled in the configuration"
                } else if status.state == .disabled {
                    status.state = .available
                    status.reason = nil
                }
            }
        }
    }

    /// Collects every subsystem that is due at `monotonicTime`. Returns the CPU seconds it took.
    ///
    /// The sampler runs on step boundaries but starts between two, so a subsystem counts as due
    /// half a step early: the first boundary after start-up is not skipped.
    @discardableResult
    public func collect(time: Double, monotonicTime: Double) -> Double {
        let started = Clock.threadCPU()
        let slack = step / 2
        let requests = fasterRequests.withLock { $0.fastest }
        for index in entries.indices where entries[index].settings.enabled && monotonicTime + slack >= entries[index].nextDue {
            let period = effectivePeriod(entries[index], requests)
            entries[index].nextDue = monotonicTime + period
            collect(entries[index].subsystem, time: time, monotonicTime: monotonicTime)
        }
        publishPeriods(requests)
        lastCycleCPU = Clock.threadCPU() - started
        return lastCycleCPU
    }

    /// Collects the named subsystems now, whatever their schedule (sub-second monitoring between
    /// two steps). Call on the sampling thread.
    public func collect(subsystems names: Set<String>, time: Double, monotonicTime: Double) {
        for entry in entries where entry.settings.enabled && names.contains(entry.subsystem.name) {
            collect(entry.subsystem, time: time, monotonicTime: monotonicTime)
        }
    }

    private func effectivePeriod(_ entry: Entry, _ fastest: [String: Double]) -> Double {
        let configured = Collector.period(entry.settings.period, step: step)
        let asked = fastest[entry.subsystem.name]
        guard let asked, asked < configured else { return configured }
        return Collector.period(asked, step: step)
    }

    /// Asks for `subsystem` to be sampled at least every `period` seconds (never faster than the
    /// step) until the requester withdraws: a monitor that needs a statistic faster than its
    /// subsystem's configured period. Safe from any thread; takes effect at the next cycle.
    public func requestPeriod(_ period: Double, for subsystem: String, by requester: String) {
        fasterRequests.withLock { $0.set(requester, (subsystem, period)) }
    }

    public func withdrawPeriodRequest(by requester: String) {
        fasterRequests.withLock { $0.set(requester, nil) }
    }

    /// Shows the periods in force (on the sampling thread, which owns `entries`).
    private func publishPeriods(_ requests: [String: Double]) {
        let periods = entries.map { ($0.subsystem.name, effectivePeriod($0, requests)) }
        board.withLock { board in
            for (name, period) in periods {
                if let index = board.firstIndex(where: { $0.name == name }) { board[index].periodSeconds = period }
            }
        }
    }

    private func collect(_ subsystem: any Subsystem, time: Double, monotonicTime: Double) {
        batch.removeAll()
        let started = Clock.monotonic()
        do {
            try subsystem.collect(into: &batch)
            table.apply(batch, time: time, monotonicTime: monotonicTime)
            let duration = Clock.monotonic() - started
            let recorded = batch.count
            updateStatus(subsystem.name) { status in
                status.state = .available
                status.reason = nil
                status.statistics = recorded
                status.lastCollected = time
                status.lastDurationSeconds = duration
                status.totalDurationSeconds += duration
                status.collections += 1
            }
        } catch {
            subsystem.retireAll()
            let reason = "\(error)"
            let state = (error as? SubsystemUnavailable)?.state ?? .unavailable
            updateStatus(subsystem.name) { status in
                status.state = state
                status.reason = reason
                status.statistics = 0
                status.failures += 1
            }
        }
    }

    private func updateStatus(_ name: String, _ change: (inout SubsystemStatus) -> Void) {
        let changed: SubsystemStatus? = board.withLock { board in
            guard let index = board.firstIndex(where: { $0.name == name }) else { return nil }
            let before = board[index]
            change(&board[index])
            let after = board[index]
            return before.state != after.state || before.reason != after.reason ? after : nil
        }
        if let changed { onStateChange?(changed) }
    }

    /// A copy of every subsystem's status.
    public func statuses() -> [SubsystemStatus] {
        let plugins = self.plugins.withLock { $0 }
        return board.withLock { $0 }.map { status in
            guard let plugin = plugins[status.name] else { return status }
            var status = status
            let health = plugin.health
            status.plugin = plugin.configuration.kind.name
            status.runs = health.runs
            status.malformedLines = health.malformedLines
            status.lastError = health.lastError
            return status
        }
    }

    /// Replaces the plug-in subsystems (a registry reload): new ones start, changed ones start
    /// afresh, removed ones retire their statistics. Call on the sampling thread. Returns the
    /// names added, changed and removed.
    @discardableResult
    public func setPlugins(_ wanted: [PluginSubsystem]) -> (added: [String], changed: [String], removed: [String]) {
        var added: [String] = [], changed: [String] = [], removed: [String] = []
        let byName = Dictionary(wanted.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var kept: [Entry] = []
        for entry in entries {
            guard let current = entry.subsystem as? PluginSubsystem else {
                kept.append(entry)
                continue
            }
            if let replacement = byName[current.name], replacement.configuration == current.configuration {
                kept.append(entry)
                continue
            }
            current.retireAll()
            if byName[current.name] != nil { changed.append(current.name) } else { removed.append(current.name) }
        }
        let running = Set(kept.map(\.subsystem.name))
        for plugin in wanted where !running.contains(plugin.name) {
            kept.append(Entry(subsystem: plugin, settings: SubsystemSettings(period: plugin.configuration.interval)))
            if !changed.contains(plugin.name) { added.append(plugin.name) }
        }
        entries = kept
        let live = Dictionary(kept.compactMap { $0.subsystem as? PluginSubsystem }.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        plugins.withLock { $0 = live }
        board.withLock { board in
            board.removeAll { status in removed.contains(status.name) || changed.contains(status.name) }
            for plugin in live.values.sorted(by: { $0.name < $1.name }) where !board.contains(where: { $0.name == plugin.name }) {
                board.append(
                    SubsystemStatus(
                        name: plugin.name, summary: plugin.summary, state: .available, reason: nil,
                        periodSeconds: Collector.period(plugin.configuration.interval, step: step), statistics: 0,
                        lastCollected: nil, lastDurationSeconds: nil, collections: 0, failures: 0,
                        plugin: plugin.configuration.kind.name))
            }
        }
        return (added, changed, removed)
    }
}
