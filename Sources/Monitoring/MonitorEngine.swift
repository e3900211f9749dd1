import Events
import FoundationEssentials
import ResmonAPI
import ResmonSystem
import Statistics
import Storage
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The monitor engine: threshold monitors over flat arrays, evaluated by rate group after each
/// sampling cycle; definitions and state in the state database, events appended there before
/// anyone sees them.
///
/// This file is the facade: the shared state, construction, the busy flag and what the API
/// reads. The rest is in extensions by concern: MonitorEngine+Lifecycle (create, update,
/// delete, perform), +Slots (placing monitors in the flat arrays), +Evaluation (the hot loop),
/// +Persistence (loading and committing state), and the types MonitorStore (the monitors'
/// tables), MonitorEventBuilder (events' contents) and EventStore (the event log, in Events).
public final class MonitorEngine: Sendable {
    /// The state database's migrations (see `MonitorStore.migrations`).

    struct Group {
        var members: [Int] = []
        var nextDue = 0.0
    }

    struct Core {
        /// Ids, owners, keys and rates by slot; full definitions from the state database.
        var definitions: MonitorDirectory
        var slots: [ThresholdSlot] = []
        /// Tolerance, hysteresis, bounds, loggingRate and monitoringInterval of the slots that set them.
        var settings = DenseTable<SlotSettings>()
        /// The event that raised each raised monitor (what its `canceled` event cancels).
        var lastRaiseEvent: [Int: Int64] = [:]
        var indexByID = IDIndex()
        var free: [Int] = []
        var groups: [Double: Group] = [:]
        var captures: [Int: [CapturedReading]] = [:]
        var values: [Double] = [], raws: [Double] = [], times: [Double] = []
        var generations: [UInt32] = []
        var storm = StormLimiter()
        /// Watermark and leaky-bucket state by slot index.
        var kinds = SlotPool<KindState>()
        /// noData's state of the monitors with a staleAfter.
        var staleness = DenseTable<StaleState>()
        /// Aggregate targets' members and templates' instances by slot index, re-resolved when
        /// the sample table's structure version moves past `resolvedVersion`.
        var aggregates: [Int: AggregateMembers] = [:]
        var templates: [Int: TemplateInstances] = [:]
        var resolvedVersion = UInt64.max
        /// When selections were last resolved: the time of an empty aggregate's reading.
        var resolvedAt = 0.0
        /// Monitor preconditions (index → the monitor it depends on, and the state wanted), and
        /// each dependent's depth in the dependency chain (dependents evaluate after).
        var dependencies: [Int: (monitor: String, raised: Bool)] = [:]
        var depth: [Int: Int] = [:]
        /// Key-target monitors by subsystem and rate (see `countSampling`).
        var samplingCounts: [String: [Double: Int]] = [:]
        /// Events no monitor's state can wait for (a storm summary, a plug-in's change) that the state database refused: written first at the next commit.
        var unwritten: [EventRecord] = []
        /// Monitors whose own write failed while others' succeeded, and why (logged once each).
        var failing: [String: String] = [:]
        /// Each monitor's transition that the state database refused (its events and the state
        /// they lead to), by slot index: retried first at every evaluation. While one waits the
        /// monitor is not evaluated and shows its state before it, so one per monitor at most.
        var outbox: [Int: PendingTransition] = [:]
        /// The monitors from files by id, with the hash of their spec's stored text as last
        /// reconciled: a reload compares these instead of loading every definition.
        var fileFingerprints: [String: Int] = [:]
        /// A monitors.d reconcile the state database refused: retried at each evaluation.
        var pendingFiles: PendingFiles?
        /// Selections to resolve again at the next cycle: an instance's retirement or saved
        /// state could not be written or read.
        var selectionsPending = false
        /// Templates whose instances were cut by a quota, logged once each (MonitorEngine+Quotas).
        var instanceQuotaNoted: Set<String> = []
        /// Templates that left selected statistics without an instance, logged once each
        /// until they leave none (MonitorEngine+Instances).
        var unwatchedNoted: Set<String> = []
        /// Pre-upgrade instance ids whose saved state an instance has taken over.
        var legacyAdopted: Set<String> = []
        /// Applications' logged raises, per uid, for their cancels' `cancels`
        /// (MonitorEngine+Application).
        var applicationRaises = ApplicationRaises()
        /// Monitors a create is storing, not yet placed (MonitorEngine+Create): their ids are
        /// taken for other creates, monitors.d and templates' instances.
        var claims = CreateClaims()

        init(definitions: MonitorDirectory) { self.definitions = definitions }
    }

    let core: Lock<Core>
    /// Why resmond is over its self-limits (nil: it is not): new monitors and starts are refused.
    private let busyReason = Lock<String?>(nil)
    /// Transactions that wrote or may have written the monitors' tables (`monitors`,
    /// `monitor_state`, `instance_state`), but for the state snapshot's own: each adds one before
    /// it writes, under the engine's lock. The snapshot writer writes a chunk without the
    /// engine's lock only when none came since its copy (MonitorEngine+Snapshot).
    let stateWrites = Atomic<Int>(0)
    /// Why the last write to the state database failed (nil: it succeeded): `/v1/status` shows it.
    let storageFailure = Lock<String?>(nil)
    /// Where the engine tells of a storage failure and of its end (resmond's log).
    let report: @Sendable (Report) -> Void
    /// The monitors' tables; the event log shares their database file (one transaction holds
    /// a raise and the state that produced it).
    let store: MonitorStore
    /// The event log the engine appends to: streams, routes and sinks read it directly.
    public let eventStore: EventStore
    let builder: MonitorEventBuilder
    let table: SampleTable
    /// What each selection monitor's selector chooses, remembered per statistic.
    let selections = SelectionCache()
    let step: Double
    /// The host's name and fleet labels every event carries (resmond.json's `host`, `labels`).
    public let identity: HostIdentity
    /// Called with events after they are committed (streams and sinks, later).
    let published: @Sendable ([EventRecord]) -> Void
    /// Asks the collector to sample a subsystem at least at a rate (subsystem, seconds, requester:
    /// one per subsystem and rate that monitors use), or withdraws the request (seconds nil).
    let samplingRequest: @Sendable (String, Double?, String) -> Void
    /// Called when the set of rates changes, so a sampler asleep until the next step can wake
    /// for a new sub-step monitor.
    let scheduleChanged: @Sendable () -> Void
    public static let captureLimit = 1024

    public init(
        database: StateDatabase, table: SampleTable, step: Double, host: String? = nil, labels: [String: String] = [:],
        published: @escaping @Sendable ([EventRecord]) -> Void = { _ in },
        samplingRequest: @escaping @Sendable (String, Double?, String) -> Void = { _, _, _ in },
        scheduleChanged: @escaping @Sendable () -> Void = {},
        report: @escaping @Sendable (Report) -> Void = { _ in }
    ) {
        self.report = report
        let store = MonitorStore(database: database)
        self.store = store
        self.eventStore = EventStore(database: database)
        self.core = Lock(Core(definitions: MonitorDirectory(load: MonitorEngine.loader(store: store, table: table, step: step))))
        self.scheduleChanged = scheduleChanged
        self.samplingRequest = samplingRequest
        self.table = table
        self.step = step
        self.published = published
        self.identity = HostIdentity(host: host ?? ResmonSystem.hostName(), labels: labels)
        self.builder = MonitorEventBuilder(identity: identity, table: table)
    }

    /// Reads a stored monitor's definition back from the database.
    static func loader(store: MonitorStore, table: SampleTable, step: Double) -> (String) -> MonitorDefinition? {
        { id in
            guard let stored = store.stored(id) else { return nil }
            return try? MonitorDefinition(
                spec: stored.spec, owner: stored.owner, createdAt: stored.createdAt, step: step,
                table: table, stored: true)
        }
    }

    /// The base sampling step the engine's rates are multiples of.
    public var stepSeconds: Double { step }

    public var hostName: String { identity.host }

    /// Storm limits (events.perMonitorPerMinute, events.maxPerSecond); applies from the next cycle.
    public func setStormLimits(perMonitorPerMinute: Int, maximumPerSecond: Int) {
        core.withLock { core in
            core.storm.perMonitorPerMinute = perMonitorPerMinute
            core.storm.maximumPerSecond = maximumPerSecond
        }
    }

    // MARK: - The busy flag

    /// Sets (or clears, with nil) the reason resmond is over its self-limits.
    public func setBusy(_ reason: String?) {
        busyReason.withLock { $0 = reason }
    }

    public var busy: String? { busyReason.withLock { $0 } }

    /// About how many bytes the monitors take in memory (the flat arrays, the directory's
    /// entries, the index by id), for the memory limit's answer.
    public var approximateBytes: Int {
        core.withLock { core in
            let slots = core.slots.capacity * MemoryLayout<ThresholdSlot>.stride
            let directory = core.definitions.count * MonitorEngine.directoryBytes
            let index = core.indexByID.approximateBytes
            return slots + directory + index
        }
    }

    /// A directory entry: the id (a UUID in 16 bytes inline), owner, key, rate and flags.
    static let directoryBytes = MemoryLayout<CompactID>.stride + 4 + 4 + 4 + 1

    // MARK: - Storage failures

    /// What the engine has to tell resmond's log.
    public enum Report: Sendable, Equatable {
        /// A write failed; what it held is kept and written when the database allows.
        case problem(String)
        /// Writes succeed again.
        case recovered(String)
    }

    /// Why the state database refuses writes, when its last write failed (nil: it succeeded).
    public var storageProblem: String? { storageFailure.withLock { $0 } }

    func refuseWhenBusy() throws(MonitorError) {
        if let reason = busy {
            throw MonitorError(
                kind: .busy,
                message: "resmond is over its self-limits (\(reason)); existing monitors keep running, new ones are refused until it is back under them")
        }
    }

    // MARK: - Reading

    public func list() -> [MonitorInfo] {
        // One query for every stored monitor, rather than one read-back each.
        let stored = (try? store.specs()) ?? [:]
        return core.withLock { core in
            core.definitions.occupied.compactMap { index in
                let id = core.definitions.id(index)
                guard let found = stored[id] else { return core.definitions[index].map { info(index, core, definition: $0) } }
                return info(index, core, spec: found.spec, owner: found.owner, createdAt: found.createdAt)
            }
        }
    }

    public func monitor(_ id: String) -> MonitorInfo? {
        core.withLock { core in core.indexByID[id].map { info($0, core) } }
    }

    public func captured(_ id: String) -> [CapturedReading]? {
        core.withLock { core in core.indexByID[id].map { core.captures[$0] ?? [] } }
    }

    public var count: Int { core.withLock { $0.indexByID.count } }

    /// The sub-step monitors' needs: the shortest rate among them and the subsystems they read;
    /// nil when no monitor is faster than the step.
    public func fastSchedule() -> (interval: Double, subsystems: Set<String>)? {
        core.withLock { core in
            let fast = core.groups.keys.filter { $0 < step }
            guard let interval = fast.min() else { return nil }
            var subsystems = Set<String>()
            for rate in fast {
                for index in core.groups[rate]?.members ?? [] {
                    if let subsystem = core.definitions.subsystem(index) { subsystems.insert(subsystem) }
                }
            }
            return (interval, subsystems)
        }
    }

    /// A monitor's spec and state; `definition` spares reading it back when the caller has it.
    func info(_ index: Int, _ core: Core, definition known: MonitorDefinition? = nil) -> MonitorInfo {
        let definition = known ?? eventDefinition(index, core)
        return info(index, core, spec: definition.spec, owner: definition.owner, createdAt: definition.createdAt)
    }

    func info(_ index: Int, _ core: Core, spec: MonitorSpec, owner: Int, createdAt: Double) -> MonitorInfo {
        let slot = core.slots[index]
        var mark: Watermark?
        var bucket: LeakyBucket?
        if slot.side >= 0 {
            switch core.kinds[slot.side] {
            case .watermark(let state): mark = state
            case .bucket(let state): bucket = state
            }
        }
        func known(_ value: Double) -> Double? { value.isFinite ? value : nil }
        let selection = selectionReport(index, core)
        // A precondition on a monitor its owner deleted (another owner's dependent never stops
        // that): the monitor does not raise until one with that id exists again.
        let waiting = core.dependencies[index].flatMap { dependency -> String? in
            guard let upstream = core.indexByID[dependency.monitor] else {
                return "precondition.monitor: no monitor \(dependency.monitor) now: it does not raise until one exists"
            }
            let owner = core.definitions.owner(upstream)
            guard !MonitorEngine.follows(upstreamOwner: owner, dependentOwner: core.definitions.owner(index)) else { return nil }
            return
                "precondition.monitor: monitor \(dependency.monitor) now is uid \(owner)'s, which a precondition never follows: it does not raise until its owner's or root's has that id"
        }
        let warnings = [selection.warning, waiting].compactMap { $0 }
        return MonitorInfo(
            id: core.definitions.id(index), spec: spec, owner: owner, createdAt: createdAt,
            state: MonitorStateInfo(
                phase: slot.phase.name, count: Int(slot.count), running: slot.running,
                paused: slot.paused, notified: slot.notified, lastValue: known(slot.lastValue),
                lastEvaluated: known(slot.lastEvaluated), raisedAt: slot.phase.isRaised ? known(slot.raisedAt) : nil,
                lastEventTime: known(slot.lastLogged),
                watermark: mark.flatMap { known($0.extreme) },
                watermarkTime: mark.flatMap { known($0.extremeTime) },
                level: bucket.map { $0.level.isNaN ? $0.size : $0.level },
                members: selection.members, warning: warnings.isEmpty ? nil : warnings.joined(separator: "; ")))
    }

    /// The definition an event describes. Reading it back can only fail when the database
    /// does (a disk error); the event is still logged, with what the directory knows.
    func eventDefinition(_ index: Int, _ core: Core) -> MonitorDefinition {
        if let definition = core.definitions[index] { return definition }
        var spec = MonitorSpec(target: .key(core.definitions.keyText(index) ?? "resmon:monitor:unknown"), condition: .above, value: 0)
        spec.id = core.definitions.id(index)
        spec.cancelSeverity = core.definitions.has(.cancels, index) ? .notice : MonitorDefinition.noCancel
        return
            (try? MonitorDefinition(
                spec: spec, owner: core.definitions.owner(index), createdAt: 0, step: step, table: table,
                stored: true))!
    }

    /// The `canceled` event ending a monitor's logged raise (lifecycle, files and templates
    /// cancel as well as the evaluation).
    func cancelEvent(_ index: Int, _ core: Core, reason: String, value: Double = .nan, time: Double = Clock.wall()) -> EventRecord {
        builder.cancel(eventDefinition(index, core), cancels: core.lastRaiseEvent[index] ?? 0, reason: reason, value: value, time: time)
    }
}
