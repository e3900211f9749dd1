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

/// A request the engine refuses, with the HTTP status it deserves.
public struct MonitorError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case invalid, notFound, conflict, forbidden, storage, busy }
    public let kind: Kind
    public let message: String
    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { message }
}


/// The monitor engine: threshold monitors over flat arrays, evaluated by rate group after each
/// sampling cycle; definitions and state in the state database, events appended there before
/// anyone sees them.
public final class MonitorEngine: Sendable {
    public static let schema = [
        "CREATE TABLE monitors (id TEXT PRIMARY KEY, spec TEXT NOT NULL, owner INTEGER NOT NULL, created REAL NOT NULL)",
        "CREATE TABLE monitor_state (id TEXT PRIMARY KEY REFERENCES monitors(id) ON DELETE CASCADE, state TEXT NOT NULL)",
    ]

    /// Template instances are not stored as monitors (their templates make them again), but
    /// their state is, so that a raised instance stays raised across a restart.
    public static let instanceSchema = [
        "CREATE TABLE instance_state (id TEXT PRIMARY KEY, template TEXT NOT NULL REFERENCES monitors(id) ON DELETE CASCADE, state TEXT NOT NULL)",
    ]

    /// The state database's migrations, in order: events and monitors, sink cursors, instance state.
    public static let migrations = [EventStore.schema + MonitorEngine.schema, SinkRunner.schema, MonitorEngine.instanceSchema]

    /// Persisted runtime state: what a restart must not forget.
    struct SavedState: Codable {
        var phase: String
        var count: Int32
        var running: Bool
        var paused: Bool
        var notified: Bool
        var loggedRaised: Bool
        var lastLogged: Double?
        var raisedAt: Double?
        var startedAt: Double?
        var lastRaiseEvent: Int64?
        var extra: ExtraState?
    }

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
        var indexByID: [String: Int] = [:]
        var free: [Int] = []
        var groups: [Double: Group] = [:]
        var captures: [Int: [CapturedReading]] = [:]
        var values: [Double] = [], raws: [Double] = [], times: [Double] = []
        var generations: [UInt32] = []
        var lastSnapshot = 0.0
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

        init(definitions: MonitorDirectory) { self.definitions = definitions }
    }

    let core: Mutex<Core>
    /// Why resmond is over its self-limits (nil: it is not): new monitors and starts are refused.
    private let busyReason = Mutex<String?>(nil)
    let database: StateDatabase
    /// The event log the engine appends to: streams, routes and sinks read it directly.
    public let eventStore: EventStore
    let table: SampleTable
    let step: Double
    let host: String
    /// Called with events after they are committed (streams and sinks, later).
    private let published: @Sendable ([EventRecord]) -> Void
    /// Asks the collector to sample a subsystem at least at a rate (subsystem, seconds, requester:
    /// one per subsystem and rate that monitors use), or withdraws the request (seconds nil).
    private let samplingRequest: @Sendable (String, Double?, String) -> Void
    /// Called when the set of rates changes, so a sampler asleep until the next step can wake
    /// for a new sub-step monitor.
    private let scheduleChanged: @Sendable () -> Void
    public static let captureLimit = 1024

    public init(database: StateDatabase, table: SampleTable, step: Double, host: String? = nil,
                published: @escaping @Sendable ([EventRecord]) -> Void = { _ in },
                samplingRequest: @escaping @Sendable (String, Double?, String) -> Void = { _, _, _ in },
                scheduleChanged: @escaping @Sendable () -> Void = {}) {
        self.database = database
        self.eventStore = EventStore(database: database)
        self.core = Mutex(Core(definitions: MonitorDirectory(load: MonitorEngine.loader(database: database, table: table, step: step))))
        self.scheduleChanged = scheduleChanged
        self.samplingRequest = samplingRequest
        self.table = table
        self.step = step
        self.published = published
        if let host {
            self.host = host
        } else {
            var name = [CChar](repeating: 0, count: 256)
            gethostname(&name, name.count - 1)
            self.host = name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        }
    }

    /// Reads a stored monitor's definition back from the database.
    static func loader(database: StateDatabase, table: SampleTable, step: Double) -> (String) -> MonitorDefinition? {
        { id in
            let row = try? database.withDatabase { database in
                try database.execute("SELECT spec, owner, created FROM monitors WHERE id = ?", [.text(id)]).first
            }
            guard let row = row ?? nil, let text = row[0].text,
                  let spec = try? JSONDecoder().decode(MonitorSpec.self, from: Data(text.utf8)) else { return nil }
            return try? MonitorDefinition(spec: spec, owner: Int(row[1].integer ?? 0), createdAt: row[2].real ?? 0, step: step,
                                          table: table, stored: true)
        }
    }

    /// The base sampling step the engine's rates are multiples of.
    public var stepSeconds: Double { step }

    /// Storm limits (events.perMonitorPerMinute, events.maxPerSecond); applies from the next cycle.
    public func setStormLimits(perMonitorPerMinute: Int, maximumPerSecond: Int) {
        core.withLock { core in
            core.storm.perMonitorPerMinute = perMonitorPerMinute
            core.storm.maximumPerSecond = maximumPerSecond
        }
    }

    // MARK: - Loading

    /// Loads every monitor and its state from the database (at start).
    public func load() throws {
        let rows = try database.withDatabase { database in
            try database.execute("SELECT m.id, m.spec, m.owner, m.created, s.state FROM monitors m LEFT JOIN monitor_state s ON s.id = m.id ORDER BY m.created")
        }
        let decoder = JSONDecoder()
        core.withLock { core in
            for row in rows {
                guard let specText = row[1].text, let spec = try? decoder.decode(MonitorSpec.self, from: Data(specText.utf8)) else { continue }
                let definition: MonitorDefinition
                do {
                    definition = try MonitorDefinition(spec: spec, owner: Int(row[2].integer ?? 0), createdAt: row[3].real ?? 0,
                                                       step: step, table: table, lenient: true)
                } catch {
                    continue
                }
                let index = add(definition, to: &core)
                if let text = row[4].text, let saved = try? decoder.decode(SavedState.self, from: Data(text.utf8)) {
                    apply(saved, to: index, core: &core)
                }
            }
        }
    }

    /// Puts saved runtime state back on a monitor's slot.
    func apply(_ saved: SavedState, to index: Int, core: inout Core) {
        var slot = core.slots[index]
        slot.phase = Phase(name: saved.phase) ?? .clear
        slot.count = saved.count
        slot.running = saved.running
        slot.paused = saved.paused
        slot.notified = saved.notified
        slot.loggedRaised = saved.loggedRaised
        slot.lastLogged = saved.lastLogged ?? .nan
        slot.raisedAt = saved.raisedAt ?? .nan
        core.slots[index] = slot
        if slot.tuned { core.settings[index]?.startedAt = saved.startedAt ?? .nan }
        core.lastRaiseEvent[index] = saved.lastRaiseEvent.flatMap { $0 > 0 ? $0 : nil }
        if let stored = saved.extra, slot.side >= 0 {
            switch core.kinds[slot.side] {
            case .watermark(var mark):
                mark.extreme = stored.extreme
                mark.extremeTime = stored.extremeTime
                mark.reported = stored.reported
                core.kinds[slot.side] = .watermark(mark)
            case .bucket(var bucket):
                bucket.level = stored.level
                core.kinds[slot.side] = .bucket(bucket)
            }
        }
    }

    /// Places a definition in a slot and its rate group.
    func add(_ definition: MonitorDefinition, to core: inout Core) -> Int {
        let spec = definition.spec
        let handle = definition.key.flatMap { table.handle(for: $0.text) }
        let bound = definition.key.flatMap { table.sample(forKey: $0.text)?.descriptor.upperBound } ?? .nan
        var slot = ThresholdSlot(
            kind: definition.kind,
            handle: handle.map { $0.index } ?? -1, generation: handle?.generation ?? 0, transform: definition.transform,
            condition: definition.condition, threshold: spec.value ?? 0, samples: Int32(spec.samples ?? 1),
            cancelSamples: Int32(spec.cancelSamples ?? spec.samples ?? 1), capture: spec.dataCapture ?? false,
            running: spec.start ?? true)
        // startedAt is set by the first evaluation, on the evaluation clock.
        let settings = SlotSettings(tolerance: spec.tolerance ?? 0, cancelThreshold: spec.cancelValue ?? .nan,
                                    upperBound: definition.transform == .percent ? bound : .nan, loggingRate: spec.loggingRate ?? 0,
                                    interval: spec.monitoringInterval ?? 0)
        // A percentage's bound is looked up again when its statistic comes back: it needs the entry.
        slot.tuned = !settings.isDefault || definition.transform == .percent
        let index: Int
        if let reused = core.free.popLast() {
            index = reused
            core.definitions.place(definition, at: index)
            core.slots[index] = slot
        } else {
            index = core.slots.count
            core.definitions.place(definition, at: index)
            core.slots.append(slot)
        }
        core.settings[index] = slot.tuned ? settings : nil
        core.lastRaiseEvent[index] = nil
        core.indexByID[definition.id] = index
        setSideState(index, for: definition, &core)
        if definition.spec.precondition?.armed == true {
            core.slots[index].needsArming = true
            core.slots[index].armed = false
        }
        core.slots[index].stale = definition.spec.staleAfter != nil
        core.slots[index].dependent = definition.spec.precondition?.monitor != nil
        if case .aggregate = definition.target { core.slots[index].isAggregate = true }
        if let monitor = definition.spec.precondition?.monitor {
            core.dependencies[index] = (monitor, definition.spec.precondition?.raised ?? true)
            var depth = 1
            var next = core.indexByID[monitor]
            while let current = next, let upstream = core.dependencies[current], depth < 64 {
                depth += 1
                next = core.indexByID[upstream.monitor]
            }
            core.depth[index] = depth
        }
        switch definition.target {
        case .key: break
        case .aggregate(let selector, let function):
            core.aggregates[index] = AggregateMembers(selector: selector, function: function)
            core.resolvedVersion = .max
        case .template(let selector):
            // A template is not evaluated itself: its instances are.
            core.templates[index] = TemplateInstances(selector: selector)
            core.resolvedVersion = .max
            return index
        }
        // Dependents go after what they depend on (members are kept in depth order).
        // (In place: copying the members out and back made creating n monitors cost n².)
        let depth = core.depth[index] ?? 0
        var position = core.groups[definition.rate]?.members.count ?? 0
        while position > 0, depth < core.depth[core.groups[definition.rate]!.members[position - 1]] ?? 0 { position -= 1 }
        core.groups[definition.rate, default: Group()].members.insert(index, at: position)
        if let key = definition.key { countSampling(key.subsystem, definition.rate, by: 1, &core) }
        if definition.rate < step { scheduleChanged() }
        return index
    }

    /// Monitors reading a subsystem at a rate: the collector hears of a (subsystem, rate) pair
    /// when its first monitor comes and when its last goes, not of every monitor (10,000
    /// requests by monitor id cost the collector ~1 MB).
    private func countSampling(_ subsystem: String, _ rate: Double, by change: Int, _ core: inout Core) {
        let before = core.samplingCounts[subsystem, default: [:]][rate, default: 0]
        let after = before + change
        core.samplingCounts[subsystem, default: [:]][rate] = after > 0 ? after : nil
        if core.samplingCounts[subsystem]?.isEmpty == true { core.samplingCounts[subsystem] = nil }
        let requester = "monitors:\(subsystem)@\(rate)"
        if before == 0 && after > 0 { samplingRequest(subsystem, rate, requester) }
        if before > 0 && after <= 0 { samplingRequest(subsystem, nil, requester) }
    }

    /// Gives a slot fresh side state: a watermark's or leaky bucket's (in `kinds`, at the
    /// slot's `side`), and noData's for a staleAfter.
    func setSideState(_ index: Int, for definition: MonitorDefinition, _ core: inout Core) {
        clearSideState(index, &core)
        let kind: KindState? = switch definition.kind {
        case .threshold: nil
        case .watermarkHigh, .watermarkLow: .watermark(Watermark(events: definition.spec.events ?? false))
        case .leakyBucket: .bucket(LeakyBucket(size: definition.spec.bucketSize ?? 1, fill: definition.spec.fillValue ?? 1,
                                               period: definition.rate))
        }
        if let kind { core.slots[index].side = core.kinds.add(kind) }
        core.staleness[index] = definition.spec.staleAfter.map { StaleState(staleAfter: $0) }
    }

    private func clearSideState(_ index: Int, _ core: inout Core) {
        if core.slots[index].side >= 0 {
            core.kinds.remove(core.slots[index].side)
            core.slots[index].side = -1
        }
        core.staleness[index] = nil
    }

    func remove(_ index: Int, from core: inout Core) {
        guard core.definitions.contains(index) else { return }
        let id = core.definitions.id(index)
        let rate = core.definitions.rate(index)
        if let subsystem = core.definitions.subsystem(index) { countSampling(subsystem, rate, by: -1, &core) }
        core.indexByID[id] = nil
        core.groups[rate]?.members.removeAll { $0 == index }
        if core.groups[rate]?.members.isEmpty == true { core.groups[rate] = nil }
        core.definitions.clear(index)
        core.slots[index].running = false
        core.captures[index] = nil
        clearSideState(index, &core)
        core.settings[index] = nil
        core.lastRaiseEvent[index] = nil
        core.aggregates[index] = nil
        core.templates[index] = nil
        core.dependencies[index] = nil
        core.depth[index] = nil
        core.storm.forget(index)
        core.free.append(index)
    }

    // MARK: - Creating and changing

    /// Validates and stores monitors, all or none; answers only after they are committed.
    /// Sets (or clears, with nil) the reason resmond is over its self-limits.
    public func setBusy(_ reason: String?) {
        busyReason.withLock { $0 = reason }
    }

    public var busy: String? { busyReason.withLock { $0 } }

    private func refuseWhenBusy() throws(MonitorError) {
        if let reason = busy {
            throw MonitorError(kind: .busy, message: "resmond is over its self-limits (\(reason)); existing monitors keep running, new ones are refused until it is back under them")
        }
    }

    public func create(_ specs: [MonitorSpec], owner: Int) throws(MonitorError) -> [MonitorInfo] {
        try refuseWhenBusy()
        let now = Clock.wall()
        var definitions: [MonitorDefinition] = []
        for (position, spec) in specs.enumerated() {
            do {
                definitions.append(try MonitorDefinition(spec: spec, owner: owner, createdAt: now, step: step, table: table))
            } catch {
                throw MonitorError(kind: .invalid, message: specs.count > 1 ? "monitors[\(position)]: \(error.message)" : error.message)
            }
        }
        let ids = definitions.map(\.id)
        if Set(ids).count != ids.count { throw MonitorError(kind: .conflict, message: "the same id appears twice in one request") }
        let encoder = WireJSON.encoder()
        return try core.withLock { core throws(MonitorError) -> [MonitorInfo] in
            if let taken = ids.first(where: { core.indexByID[$0] != nil }) {
                throw MonitorError(kind: .conflict, message: "a monitor with id \(taken) exists")
            }
            try checkDependencies(definitions, core)
            do {
                try database.withDatabase { database in
                    try database.transaction {
                        for definition in definitions {
                            try database.execute("INSERT INTO monitors (id, spec, owner, created) VALUES (?,?,?,?)", [
                                .text(definition.id), .text(String(decoding: try encoder.encode(definition.spec), as: UTF8.self)),
                                .integer(Int64(owner)), .real(now),
                            ])
                        }
                    }
                }
            } catch {
                throw MonitorError(kind: .storage, message: "cannot store the monitors: \(error)")
            }
            // Added in dependency order, so that each dependent's depth counts what it depends on.
            var pending = definitions
            var ordered: [MonitorDefinition] = []
            while !pending.isEmpty {
                let waiting = Set(pending.map(\.id))
                let ready = pending.filter { definition in definition.spec.precondition?.monitor.map { !waiting.contains($0) } ?? true }
                ordered += ready.isEmpty ? pending : ready
                let readyIDs = Set(ready.map(\.id))
                pending = ready.isEmpty ? [] : pending.filter { !readyIDs.contains($0.id) }
            }
            let indexes = Dictionary(uniqueKeysWithValues: ordered.map { ($0.id, add($0, to: &core)) })
            return definitions.map { info(indexes[$0.id]!, core, definition: $0) }
        }
    }

    /// Preconditions on other monitors: the monitor must exist (now or in the same request), and
    /// following them must never come back to where it started.
    private func checkDependencies(_ definitions: [MonitorDefinition], _ core: Core) throws(MonitorError) {
        var dependsOn: [String: String] = [:]
        for (index, dependency) in core.dependencies { dependsOn[core.definitions.id(index)] = dependency.monitor }
        let incoming = Set(definitions.map(\.id))
        for definition in definitions { dependsOn[definition.id] = definition.spec.precondition?.monitor }
        for definition in definitions {
            guard let first = definition.spec.precondition?.monitor else { continue }
            guard core.indexByID[first] != nil || incoming.contains(first) else {
                throw MonitorError(kind: .invalid, message: "precondition.monitor: no monitor \(first)")
            }
            var seen: Set<String> = [definition.id]
            var next: String? = first
            while let current = next {
                guard seen.insert(current).inserted else {
                    throw MonitorError(kind: .invalid, message: "precondition.monitor: \(definition.id) → \(first) … comes back to \(current): dependency cycles are refused")
                }
                next = dependsOn[current]
            }
        }
    }

    /// Applies a partial spec (PATCH): the fields given replace the stored ones; the monitor is
    /// validated again and starts afresh (a raised one is cancelled first).
    public func update(_ id: String, patch: [String: JSONValue], caller: Int) throws(MonitorError) -> MonitorInfo {
        if patch["id"] != nil { throw MonitorError(kind: .invalid, message: "id cannot be changed") }
        let encoder = WireJSON.encoder()
        return try core.withLock { core throws(MonitorError) -> MonitorInfo in
            let index = try lookup(id, core, caller: caller)
            guard let old = core.definitions[index] else { throw MonitorError(kind: .notFound, message: "no monitor \(id)") }
            if let template = old.spec.template {
                throw MonitorError(kind: .conflict, message: "monitor \(id) is an instance of template \(template): change the template")
            }
            if let source = old.spec.source {
                throw MonitorError(kind: .conflict, message: "monitor \(id) comes from \(source): change the file, then reload resmond")
            }
            let merged: MonitorSpec
            do {
                guard case .object(var fields) = try JSONDecoder().decode(JSONValue.self, from: try encoder.encode(old.spec)) else {
                    throw MonitorError(kind: .invalid, message: "cannot merge")
                }
                for (name, value) in patch { fields[name] = value }
                merged = try JSONDecoder().decode(MonitorSpec.self, from: try encoder.encode(JSONValue.object(fields)))
            } catch let error as MonitorSpec.UnknownField {
                throw MonitorError(kind: .invalid, message: error.description)
            } catch {
                throw MonitorError(kind: .invalid, message: "the patch does not make a valid monitor: \(error)")
            }
            let definition: MonitorDefinition
            do {
                definition = try MonitorDefinition(spec: merged, owner: old.owner, createdAt: old.createdAt, step: step, table: table)
            } catch let error as MonitorSpecError {
                throw MonitorError(kind: .invalid, message: error.message)
            } catch {
                throw MonitorError(kind: .invalid, message: "\(error)")
            }
            try checkDependencies([definition], core)
            var events: [EventRecord] = []
            if core.slots[index].loggedRaised { events.append(cancelEvent(index, core, reason: "the monitor was changed")) }
            let retired = removeInstances(of: index, reason: "its template was changed", core: &core, events: &events)
            remove(index, from: &core)
            let newIndex = add(definition, to: &core)
            try commit(events: events, saving: [newIndex], core: &core) { database in
                for id in retired { try database.execute("DELETE FROM instance_state WHERE id = ?", [.text(id)]) }
                try database.execute("UPDATE monitors SET spec = ? WHERE id = ?",
                                     [.text(String(decoding: try encoder.encode(definition.spec), as: UTF8.self)), .text(id)])
            }
            return info(newIndex, core, definition: definition)
        }
    }

    /// Deletes a monitor; a raised one logs `canceled` first.
    public func delete(_ id: String, caller: Int) throws(MonitorError) {
        try core.withLock { core throws(MonitorError) in
            let index = try lookup(id, core, caller: caller)
            if core.definitions.has(.instance, index), let template = core.definitions[index]?.spec.template {
                throw MonitorError(kind: .conflict, message: "monitor \(id) is an instance of template \(template): delete or change the template")
            }
            if core.definitions.has(.fromFile, index), let source = core.definitions[index]?.spec.source {
                throw MonitorError(kind: .conflict, message: "monitor \(id) comes from \(source): remove it from the file, then reload resmond")
            }
            let dependents = core.dependencies.filter { $0.value.monitor == id }.map { core.definitions.id($0.key) }.sorted()
            if !dependents.isEmpty {
                throw MonitorError(kind: .conflict, message: "monitors \(dependents.joined(separator: ", ")) depend on \(id) (precondition); change or delete them first")
            }
            var events: [EventRecord] = []
            if core.slots[index].loggedRaised { events.append(cancelEvent(index, core, reason: "the monitor was deleted")) }
            let retired = removeInstances(of: index, reason: "its template was deleted", core: &core, events: &events)
            try commit(events: events, saving: [], core: &core) { database in
                for id in retired { try database.execute("DELETE FROM instance_state WHERE id = ?", [.text(id)]) }
                try database.execute("DELETE FROM monitor_state WHERE id = ?", [.text(id)])
                try database.execute("DELETE FROM monitors WHERE id = ?", [.text(id)])
            }
            remove(index, from: &core)
        }
    }

    public enum Action: String, Sendable, CaseIterable {
        case start, stop, pause, resume, reset, resetNotification = "reset-notification"
    }

    /// start / stop (keeps state) / pause (evaluates, logs nothing) / resume (logs a state that
    /// differs from the last logged) / reset (back to just created; cancels if raised) /
    /// reset-notification (the next reading that meets the condition logs again).
    /// `now` is the time events and loggingRate's hold see (tests pass the time of their readings).
    public func perform(_ action: Action, on id: String, caller: Int, now: Double = Clock.wall()) throws(MonitorError) -> MonitorInfo {
        if action == .start { try refuseWhenBusy() }
        return try core.withLock { core throws(MonitorError) -> MonitorInfo in
            let index = try lookup(id, core, caller: caller)
            var events: [EventRecord] = []
            // On a template, the action applies to the template and to every instance.
            let targets = [index] + (core.templates[index]?.instances.keys.compactMap { core.indexByID[$0] } ?? [])
            for index in targets {
            switch action {
            case .start:
                if !core.slots[index].running { core.settings[index]?.startedAt = .nan }
                core.slots[index].running = true
            case .stop:
                core.slots[index].running = false
            case .pause:
                core.slots[index].paused = true
            case .resume:
                core.slots[index].paused = false
                let slot = core.slots[index]
                let settings = slot.tuned ? core.settings[index] ?? .defaults : .defaults
                // A raise within loggingRate of the last logged one stays held: the evaluation
                // logs it once loggingRate has passed, if it is still raised then.
                if slot.phase.isRaised && !slot.loggedRaised && !slot.heldByLoggingRate(settings, now: now) {
                    events.append(raiseEvent(index, core, value: slot.lastValue, time: now, repeated: false))
                    core.slots[index].loggedRaised = true
                    core.slots[index].notified = true
                    core.slots[index].lastLogged = now
                } else if !slot.phase.isRaised && slot.loggedRaised {
                    if core.definitions.has(.cancels, index) {
                        events.append(cancelEvent(index, core, reason: "cleared while notifications were paused"))
                    }
                    core.slots[index].loggedRaised = false
                }
            case .reset:
                if core.slots[index].loggedRaised { events.append(cancelEvent(index, core, reason: "the monitor was reset")) }
                let running = core.slots[index].running
                let paused = core.slots[index].paused
                var fresh = core.slots[index]
                fresh.phase = .clear
                fresh.count = 0
                fresh.notified = false
                fresh.loggedRaised = false
                fresh.previousRaw = .nan
                fresh.previousTime = .nan
                fresh.lastSeen = .nan
                fresh.lastValue = .nan
                fresh.lastLogged = .nan
                fresh.raisedAt = .nan
                fresh.running = running
                fresh.paused = paused
                fresh.armed = !fresh.needsArming
                core.slots[index] = fresh
                core.settings[index]?.startedAt = .nan
                if let definition = core.definitions[index] { setSideState(index, for: definition, &core) }
            case .resetNotification:
                core.slots[index].notified = false
            }
            }
            try commit(events: events, saving: targets, core: &core)
            return info(index, core)
        }
    }

    private func lookup(_ id: String, _ core: Core, caller: Int) throws(MonitorError) -> Int {
        guard let index = core.indexByID[id] else {
            throw MonitorError(kind: .notFound, message: "no monitor \(id)")
        }
        let owner = core.definitions.owner(index)
        if caller != 0 && caller != owner {
            throw MonitorError(kind: .forbidden, message: "monitor \(id) belongs to uid \(owner); only its owner or root may change it")
        }
        return index
    }

    // MARK: - Reading

    public func list() -> [MonitorInfo] {
        let stored: [String: (spec: MonitorSpec, owner: Int, created: Double)]
        do {
            // One query for every stored monitor, rather than one read-back each.
            let decoder = JSONDecoder()
            let rows = try database.withDatabase { try $0.execute("SELECT id, spec, owner, created FROM monitors") }
            stored = Dictionary(rows.compactMap { row in
                guard let id = row[0].text, let text = row[1].text,
                      let spec = try? decoder.decode(MonitorSpec.self, from: Data(text.utf8)) else { return nil }
                return (id, (spec, Int(row[2].integer ?? 0), row[3].real ?? 0))
            }, uniquingKeysWith: { first, _ in first })
        } catch {
            stored = [:]
        }
        return core.withLock { core in
            core.definitions.occupied.compactMap { index in
                let id = core.definitions.id(index)
                guard let (spec, owner, created) = stored[id] else { return core.definitions[index].map { info(index, core, definition: $0) } }
                return info(index, core, spec: spec, owner: owner, createdAt: created)
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

    // Forwards to `eventStore` that Daemon.swift still calls; remove them once it wires the
    // event store into streams and retention itself.

    public func events(after: Int64, limit: Int, monitor: String? = nil) throws -> [EventRecord] {
        try eventStore.events(after: after, limit: limit, monitor: monitor)
    }

    /// The newest event id in the log (0 when empty).
    public func lastEventID() throws -> Int64 {
        try eventStore.lastID()
    }

    /// Applies the event log's retention (a batch at a time; call periodically).
    @discardableResult
    public func enforceRetention(maximumAge: Double, maximumCount: Int, now: Double) -> Int {
        (try? eventStore.enforceRetention(maximumAge: maximumAge, maximumCount: maximumCount, now: now)) ?? 0
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
        return MonitorInfo(id: core.definitions.id(index), spec: spec, owner: owner, createdAt: createdAt,
                           state: MonitorStateInfo(phase: slot.phase.name, count: Int(slot.count), running: slot.running,
                                                   paused: slot.paused, notified: slot.notified, lastValue: known(slot.lastValue),
                                                   lastEvaluated: known(slot.lastEvaluated), raisedAt: slot.phase.isRaised ? known(slot.raisedAt) : nil,
                                                   lastEventTime: known(slot.lastLogged),
                                                   watermark: mark.flatMap { known($0.extreme) },
                                                   watermarkTime: mark.flatMap { known($0.extremeTime) },
                                                   level: bucket.map { $0.level.isNaN ? $0.size : $0.level },
                                                   members: selection.members, warning: selection.warning))
    }

    // MARK: - Evaluation

    /// Evaluates every monitor whose rate group is due at `now` (wall clock), logs what they
    /// find, and writes changed state. Called on the sampling thread after each cycle.
    public func evaluate(now: Double) {
        var pending: [(index: Int, outcome: Outcome, value: Double, time: Double)] = []
        var changed: [Int] = []
        core.withLock { core in
            table.copyColumns(values: &core.values, raws: &core.raws, times: &core.times, generations: &core.generations)
            var events: [EventRecord] = []
            var retired: [String] = []
            let version = table.structureVersion
            if version != core.resolvedVersion {
                core.resolvedVersion = version
                resolveSelections(now: now, core: &core, events: &events, retired: &retired, changed: &changed)
            }
            // Groups whose deepest dependent is shallower go first.
            let rates = core.groups.keys.sorted { left, right in
                (core.groups[left]!.members.last.flatMap { core.depth[$0] } ?? 0) < (core.groups[right]!.members.last.flatMap { core.depth[$0] } ?? 0)
            }
            for rate in rates {
                let slack = min(step, rate) / 2
                guard now + slack >= core.groups[rate]!.nextDue else { continue }
                core.groups[rate]!.nextDue = now + rate
                for index in core.groups[rate]!.members {
                    evaluate(index, now: now, core: &core, pending: &pending, changed: &changed)
                }
            }
            for transition in pending {
                let index = transition.index
                guard core.definitions.contains(index) else { continue }
                let paused = core.slots[index].paused
                switch transition.outcome {
                case .raise, .repeatRaise:
                    guard !paused else { continue }
                    // A repeat of a logged raise says "(still)"; a raise that loggingRate held
                    // back (or the storm limits did) is the first the world hears of it.
                    let repeated = transition.outcome == .repeatRaise && core.slots[index].loggedRaised
                    core.slots[index].notified = true
                    core.slots[index].lastLogged = transition.time
                    // Held back by the storm limits: counted into the summary. A raise held
                    // back leaves nothing for its cancel to end, so that cancel is held too.
                    guard core.storm.admit(index, now: now) else {
                        if !repeated { core.slots[index].loggedRaised = false }
                        continue
                    }
                    events.append(raiseEvent(index, core, value: transition.value, time: transition.time, repeated: repeated))
                    core.slots[index].loggedRaised = true
                case .watermark:
                    let side = core.slots[index].side
                    guard !paused, side >= 0, case .watermark(var mark) = core.kinds[side] else { continue }
                    let previous = mark.reported
                    mark.reported = mark.extreme
                    core.kinds[side] = .watermark(mark)
                    core.slots[index].lastLogged = transition.time
                    guard core.storm.admit(index, now: now) else { continue }
                    events.append(watermarkEvent(index, core, value: mark.extreme, previous: previous, time: transition.time))
                case .noData:
                    guard !paused, core.storm.admit(index, now: now) else { continue }
                    events.append(noDataEvent(index, core, time: transition.time))
                case .dataBack:
                    guard !paused, let raised = core.staleness[index]?.noDataEvent, raised > 0 else { continue }
                    if core.definitions.has(.cancels, index), let severity = core.definitions[index]?.cancelSeverity {
                        var event = cancelEvent(index, core, reason: "values again after no data", value: transition.value, time: transition.time)
                        event.cancels = raised
                        event.severity = severity.name
                        events.append(event)
                    }
                    core.staleness[index]?.noDataEvent = 0
                case .vanished, .returned:
                    guard !paused else { continue }
                    events.append(resourceEvent(index, core, vanished: transition.outcome == .vanished, time: transition.time))
                case .cancel:
                    guard !paused, core.slots[index].loggedRaised else { continue }
                    if core.definitions.has(.cancels, index) {
                        events.append(cancelEvent(index, core, reason: "the condition ended", value: transition.value, time: transition.time))
                    }
                    core.slots[index].loggedRaised = false
                    core.slots[index].notified = false
                case .nothing:
                    break
                }
            }
            if let storm = core.storm.summary(now: now) {
                let seconds = Int((now - storm.since).rounded(.up))
                events.append(EventRecord(
                    id: 0, time: now, code: EventType.eventStorm.rawValue, type: EventType.eventStorm.name,
                    severity: Severity.warning.name, monitorId: nil, monitorName: nil, key: nil, value: Double(storm.count),
                    threshold: nil, host: host,
                    message: "event storm: \(storm.count) raise events from \(storm.monitors) monitors held back in the last \(max(1, seconds)) s "
                        + "(limits: \(core.storm.perMonitorPerMinute) per monitor per minute, \(core.storm.maximumPerSecond) per second)",
                    cancels: nil, labels: [:], annotations: [:]))
            }
            let snapshotDue = now - core.lastSnapshot >= 60
            if snapshotDue {
                // Every transition is written when it happens; the minute's snapshot adds what
                // moves between transitions: counts toward raising or cancelling, and the side
                // state of watermarks, buckets and staleAfter. A monitor that has sat clear
                // since its last write is not written again (at 10,000 monitors rewriting them
                // all cost 5 ms of CPU a second).
                core.lastSnapshot = now
                changed += core.definitions.occupied.filter { index in
                    core.slots[index].count > 0 || core.slots[index].side >= 0 || core.slots[index].stale
                        || (core.settings[index]?.interval ?? 0) > 0
                }
            }
            if !events.isEmpty || !changed.isEmpty || !retired.isEmpty {
                do {
                    try commit(events: events, saving: changed, core: &core) { database in
                        for id in retired { try database.execute("DELETE FROM instance_state WHERE id = ?", [.text(id)]) }
                    }
                } catch {
                    // The state stays in memory and is written with the next change or snapshot.
                }
            }
        }
    }

    private func evaluate(_ index: Int, now: Double, core: inout Core,
                          pending: inout [(index: Int, outcome: Outcome, value: Double, time: Double)], changed: inout [Int]) {
        guard core.slots[index].running else { return }
        evaluateReading(index, now: now, core: &core, pending: &pending, changed: &changed)
        guard core.slots[index].stale, var extra = core.staleness[index], extra.staleAfter > 0, core.slots[index].running else { return }
        // noData: its own raise and cancel, apart from the threshold's state.
        if extra.lastKnown.isNaN { extra.lastKnown = now } // the grace period starts with the monitor
        if !extra.noDataRaised && now - extra.lastKnown >= extra.staleAfter {
            extra.noDataRaised = true
            pending.append((index, .noData, .nan, now))
            changed.append(index)
        } else if extra.noDataRaised && now - extra.lastKnown < extra.staleAfter {
            extra.noDataRaised = false
            pending.append((index, .dataBack, core.slots[index].lastValue, now))
            changed.append(index)
        }
        core.staleness[index] = extra
    }

    /// Whether a monitor's preconditions on other monitors allow it to raise now.
    private func mayRaise(_ index: Int, _ core: inout Core) -> Bool {
        guard core.slots[index].dependent, let dependency = core.dependencies[index] else { return true }
        guard let upstream = core.indexByID[dependency.monitor] else { return false }
        return core.slots[upstream].phase.isRaised == dependency.raised
    }

    private func evaluateReading(_ index: Int, now: Double, core: inout Core,
                                 pending: inout [(index: Int, outcome: Outcome, value: Double, time: Double)], changed: inout [Int]) {
        var slot = core.slots[index]
        let settings = slot.tuned ? core.settings[index] ?? .defaults : .defaults
        if settings.interval > 0 {
            // monitoringInterval: the monitor stops itself once it has run that long.
            if settings.startedAt.isNaN { core.settings[index]?.startedAt = now }
            if now - (settings.startedAt.isNaN ? now : settings.startedAt) >= settings.interval {
                core.slots[index].running = false
                changed.append(index)
                return
            }
        }
        let reading: (value: Double, raw: Double, time: Double)
        if slot.isAggregate, let aggregate = core.aggregates[index] {
            reading = aggregate.reading(values: core.values, raws: core.raws, times: core.times, generations: core.generations,
                                        resolvedAt: core.resolvedAt)
        } else {
        var handle = Int(slot.handle)
        if handle < 0 || handle >= core.generations.count || core.generations[handle] != slot.generation {
            // The statistic went away or has not appeared yet: look its key up again.
            let key = core.definitions.keyText(index)
            guard let key, let found = table.handle(for: key) else {
                slot.lastEvaluated = now
                if slot.handle >= 0 && !slot.vanished && key != nil {
                    // The statistic went away (a process exited, a disk was removed): unknown.
                    slot.vanished = true
                    slot.lastValue = .nan
                    pending.append((index, .vanished, .nan, now))
                    changed.append(index)
                }
                core.slots[index] = slot
                return
            }
            if slot.vanished {
                slot.vanished = false
                pending.append((index, .returned, .nan, now))
            }
            slot.handle = found.index
            slot.generation = found.generation
            slot.previousRaw = .nan
            if slot.transform == .percent { core.settings[index]?.upperBound = table.sample(forKey: key)?.descriptor.upperBound ?? .nan }
            handle = Int(found.index)
            guard handle < core.generations.count, core.generations[handle] == found.generation else {
                core.slots[index] = slot
                return
            }
        }
        reading = (core.values[handle], core.raws[handle], core.times[handle])
        }
        let time = reading.time
        guard time != slot.lastSeen else { return } // no new reading since the last evaluation
        slot.lastSeen = time
        let raw = reading.raw
        let increase = raw - slot.previousRaw
        let elapsed = time - slot.previousTime
        let upperBound = slot.transform == .percent ? core.settings[index]?.upperBound ?? .nan : .nan
        let value = slot.transformed(value: reading.value, raw: raw, time: time, upperBound: upperBound)
        let before = slot.phase
        let outcome: Outcome
        switch slot.kind {
        case .threshold:
            outcome = slot.evaluate(value, settings, now: time, mayRaise: !slot.dependent || mayRaise(index, &core))
        case .leakyBucket:
            slot.lastEvaluated = now
            let allowed = !slot.dependent || mayRaise(index, &core)
            if slot.side >= 0, case .bucket(var bucket) = core.kinds[slot.side] {
                outcome = bucket.leak(&slot, settings, increase: increase, elapsed: elapsed, now: time, mayRaise: allowed)
                core.kinds[slot.side] = .bucket(bucket)
            } else {
                outcome = .nothing
            }
        case .watermarkHigh, .watermarkLow:
            slot.lastValue = value
            slot.lastEvaluated = now
            if slot.side >= 0, case .watermark(var mark) = core.kinds[slot.side] {
                outcome = mark.mark(&slot, settings, value: value, high: slot.kind == .watermarkHigh, now: time)
                core.kinds[slot.side] = .watermark(mark)
            } else {
                outcome = .nothing
            }
        }
        core.slots[index] = slot
        if slot.stale, value.isFinite { core.staleness[index]?.lastKnown = now }
        if slot.capture {
            var ring = core.captures[index] ?? []
            if ring.count >= MonitorEngine.captureLimit { ring.removeFirst(ring.count - MonitorEngine.captureLimit + 1) }
            ring.append(CapturedReading(time: time, raw: raw.isFinite ? raw : nil, value: value.isFinite ? value : nil))
            core.captures[index] = ring
        }
        if outcome != .nothing { pending.append((index, outcome, value, time)) }
        if before != slot.phase || outcome != .nothing { changed.append(index) }
    }

    // MARK: - Events and persistence

    /// The definition an event describes. Reading it back can only fail when the database
    /// does (a disk error); the event is still logged, with what the directory knows.
    private func eventDefinition(_ index: Int, _ core: Core) -> MonitorDefinition {
        if let definition = core.definitions[index] { return definition }
        var spec = MonitorSpec(target: .key(core.definitions.keyText(index) ?? "resmon:monitor:unknown"), condition: "above", value: 0)
        spec.id = core.definitions.id(index)
        spec.cancelSeverity = core.definitions.has(.cancels, index) ? "notice" : "none"
        return (try? MonitorDefinition(spec: spec, owner: core.definitions.owner(index), createdAt: 0, step: step, table: table,
                                       stored: true))!
    }

    private func noDataEvent(_ index: Int, _ core: Core, time: Double) -> EventRecord {
        let definition = eventDefinition(index, core)
        let spec = definition.spec
        return EventRecord(id: 0, time: time, code: EventType.noData.rawValue, type: EventType.noData.name,
                           severity: definition.severity.name, monitorId: definition.id, monitorName: spec.name,
                           key: definition.targetText, value: nil, threshold: spec.staleAfter, host: host,
                           message: "\(definition.subject(in: table)) has had no value for \(MonitorDefinition.number(spec.staleAfter ?? 0)) s",
                           cancels: nil, labels: spec.labels ?? [:], annotations: spec.annotations ?? [:])
    }

    private func resourceEvent(_ index: Int, _ core: Core, vanished: Bool, time: Double) -> EventRecord {
        let definition = eventDefinition(index, core)
        let spec = definition.spec
        return EventRecord(id: 0, time: time, code: EventType.resourceConfigurationChange.rawValue,
                           type: EventType.resourceConfigurationChange.name, severity: Severity.notice.name,
                           monitorId: definition.id, monitorName: spec.name, key: definition.targetText, value: nil, threshold: nil,
                           host: host, message: "\(definition.subject(in: table)) " + (vanished ? "went away; the monitor reads unknown until it returns" : "is back"),
                           cancels: nil, labels: spec.labels ?? [:], annotations: spec.annotations ?? [:])
    }

    private func watermarkEvent(_ index: Int, _ core: Core, value: Double, previous: Double, time: Double) -> EventRecord {
        let definition = eventDefinition(index, core)
        let spec = definition.spec
        let message = "\(definition.subject(in: table)) \(spec.transform == "none" ? "" : "(\(spec.transform ?? "")) ")\(spec.mark ?? "high") watermark moved to \(definition.shown(value, in: table)) (from \(definition.shown(previous, in: table)))"
        return EventRecord(id: 0, time: time, code: EventType.watermark.rawValue, type: EventType.watermark.name,
                           severity: definition.severity.name, monitorId: definition.id, monitorName: spec.name,
                           key: definition.targetText, value: value, threshold: previous.isFinite ? previous : nil, host: host,
                           message: message, cancels: nil, labels: spec.labels ?? [:], annotations: spec.annotations ?? [:])
    }

    private func raiseEvent(_ index: Int, _ core: Core, value: Double, time: Double, repeated: Bool) -> EventRecord {
        let definition = eventDefinition(index, core)
        if definition.kind == .leakyBucket {
            let spec = definition.spec
            let message = "\(definition.subject(in: table)) grew faster than \(MonitorDefinition.number(spec.fillValue ?? 0)) per \(MonitorDefinition.number(definition.rate)) s: its leaky bucket of \(MonitorDefinition.number(spec.bucketSize ?? 0)) is empty"
                + (repeated ? " (still)" : "")
            return EventRecord(id: 0, time: time, code: EventType.counterRateExceeded.rawValue, type: EventType.counterRateExceeded.name,
                               severity: definition.severity.name, monitorId: definition.id, monitorName: spec.name,
                               key: definition.targetText, value: value.isFinite ? value : nil, threshold: spec.fillValue, host: host,
                               message: message, cancels: nil, labels: spec.labels ?? [:], annotations: spec.annotations ?? [:])
        }
        let type = definition.raiseType(value: value)
        let spec = definition.spec
        let message = "\(definition.subject(in: table)) \(spec.transform == "none" ? "" : "(\(spec.transform ?? "")) ")is \(definition.shown(value, in: table)), \(type.name) \(definition.shown(spec.value ?? 0, in: table))"
            + (repeated ? " (still)" : "")
        return EventRecord(id: 0, time: time, code: type.rawValue, type: type.name, severity: definition.severity.name,
                           monitorId: definition.id, monitorName: spec.name, key: definition.targetText,
                           value: value.isFinite ? value : nil, threshold: spec.value, host: host, message: message,
                           cancels: nil, labels: spec.labels ?? [:], annotations: spec.annotations ?? [:])
    }

    func cancelEvent(_ index: Int, _ core: Core, reason: String, value: Double = .nan, time: Double = Clock.wall()) -> EventRecord {
        let definition = eventDefinition(index, core)
        let spec = definition.spec
        let cancels = core.lastRaiseEvent[index] ?? 0
        return EventRecord(id: 0, time: time, code: EventType.canceled.rawValue, type: EventType.canceled.name,
                           severity: (definition.cancelSeverity ?? .notice).name, monitorId: definition.id,
                           monitorName: spec.name, key: definition.targetText, value: value.isFinite ? value : nil,
                           threshold: definition.kind == .leakyBucket ? spec.fillValue : spec.value, host: host,
                           message: "\(spec.name ?? definition.id): \(reason)",
                           cancels: cancels > 0 ? cancels : nil, labels: spec.labels ?? [:], annotations: spec.annotations ?? [:])
    }

    /// Appends events and writes the listed monitors' state in one transaction, then publishes.
    func commit(events: [EventRecord], saving indexes: [Int], core: inout Core,
                        also extra: ((Database) throws -> Void)? = nil) throws(MonitorError) {
        let encoder = WireJSON.encoder()
        let stored: [EventRecord]
        do {
            stored = try database.withDatabase { database in
                try database.transaction {
                    try extra?(database)
                    let stored = try EventStore.append(events, in: database)
                    for event in stored where event.type != EventType.canceled.name && event.type != EventType.resourceConfigurationChange.name {
                        guard let id = event.monitorId, let index = core.indexByID[id] else { continue }
                        if event.type == EventType.noData.name { core.staleness[index]?.noDataEvent = event.id } else { core.lastRaiseEvent[index] = event.id }
                    }
                    // Only the directory's cheap fields here: reading a definition back takes the
                    // database's lock, which this transaction holds.
                    for index in Set(indexes) where core.definitions.contains(index) {
                        let id = core.definitions.id(index)
                        let slot = core.slots[index]
                        let saved = SavedState(phase: slot.phase.name, count: slot.count, running: slot.running, paused: slot.paused,
                                               notified: slot.notified, loggedRaised: slot.loggedRaised,
                                               lastLogged: slot.lastLogged.isFinite ? slot.lastLogged : nil,
                                               raisedAt: slot.raisedAt.isFinite ? slot.raisedAt : nil,
                                               startedAt: core.settings[index].flatMap { $0.startedAt.isFinite ? $0.startedAt : nil },
                                               lastRaiseEvent: core.lastRaiseEvent[index] ?? 0,
                                               extra: slot.side >= 0 || slot.stale
                                                   ? ExtraState(kind: slot.side >= 0 ? core.kinds[slot.side] : nil, stale: core.staleness[index])
                                                   : nil)
                        let text = String(decoding: try encoder.encode(saved), as: UTF8.self)
                        if core.definitions.has(.instance, index), let template = core.definitions[index]?.spec.template {
                            try database.execute("INSERT OR REPLACE INTO instance_state (id, template, state) VALUES (?, ?, ?)",
                                                 [.text(id), .text(template), .text(text)])
                        } else {
                            try database.execute("INSERT OR REPLACE INTO monitor_state (id, state) VALUES (?, ?)",
                                                 [.text(id), .text(text)])
                        }
                    }
                    return stored
                }
            }
        } catch {
            throw MonitorError(kind: .storage, message: "cannot store monitor state: \(error)")
        }
        if !stored.isEmpty { published(stored) }
    }

    /// Logs events that no monitor raised (a plug-in added or removed), durably, and hands them
    /// to streams and sinks like any other.
    public func log(_ events: [EventRecord]) {
        core.withLock { core in try? commit(events: events, saving: [], core: &core) }
    }

    public var hostName: String { host }

    /// Writes every monitor's state (at a clean stop).
    public func saveAll() {
        core.withLock { core in
            try? commit(events: [], saving: core.definitions.occupied, core: &core)
        }
    }
}
