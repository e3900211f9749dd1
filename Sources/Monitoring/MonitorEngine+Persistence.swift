import Events
import FoundationEssentials
import ResmonAPI
import ResmonSystem
import Statistics
import Storage

/// Loading monitors at start and committing their state with the events they log.
extension MonitorEngine {
    /// Loads every monitor and its state from the database (at start). Returns why each stored
    /// monitor that could not be made again was left out (it stays in the database), for the log:
    /// never silently.
    @discardableResult
    public func load() throws -> [String] {
        let stored = try store.all()
        return core.withLock { core in
            var leftOut: [String] = []
            for var monitor in stored {
                repairServerOwnedFields(&monitor)
                let definition: MonitorDefinition
                do {
                    definition = try MonitorDefinition(
                        spec: monitor.spec, owner: monitor.owner, createdAt: monitor.createdAt,
                        step: step, table: table, lenient: true)
                } catch {
                    leftOut.append("monitor \(monitor.id) (uid \(monitor.owner)) is not loaded: \(error)")
                    continue
                }
                let index = add(definition, to: &core)
                if let saved = monitor.state { apply(saved, to: index, core: &core) }
            }
            return leftOut
        }
    }

    /// A stored monitor that a client gave server-owned fields (before resmond refused them,
    /// issue 22): instances are never stored, so a stored `template` is always a client's, and
    /// so is a `source` on a monitor not owned by root. Such a monitor's state could not be
    /// written and no one could delete it; it loads as the plain monitor it is, rewritten so.
    private func repairServerOwnedFields(_ monitor: inout MonitorStore.Stored) {
        let template = monitor.spec.template != nil
        let source = monitor.spec.source != nil && monitor.owner != 0
        // Stored before resmond refused them (issue 22): labels that would forge an event's owner.
        let labels = monitor.spec.labels?.keys.contains(where: MonitorDefinition.serverLabels.contains) ?? false
        guard template || source || labels else { return }
        if template { monitor.spec.template = nil }
        if source { monitor.spec.source = nil }
        if labels { monitor.spec.labels = monitor.spec.labels?.filter { !MonitorDefinition.serverLabels.contains($0.key) } }
        let fields = [template ? "template" : nil, source ? "source" : nil, labels ? "labels uid or source" : nil].compactMap { $0 }
            .joined(separator: " and ")
        do {
            let spec = monitor.spec
            let id = monitor.id
            try store.database.withDatabase { database in
                stateWrites.add(1, ordering: .releasing)
                try MonitorStore.update(spec, id: id, in: database)
            }
            report(.problem("monitor \(monitor.id) (uid \(monitor.owner)) was stored with \(fields), which only resmond sets; loaded and rewritten without"))
        } catch {
            report(
                .problem(
                    "monitor \(monitor.id) (uid \(monitor.owner)) was stored with \(fields), which only resmond sets; loaded without (cannot rewrite it: \(error))"
                ))
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

    /// A slot's state as the database keeps it. Only the directory's cheap fields: this runs
    /// inside a transaction, and reading a definition back would take the database's lock.
    func savedState(of index: Int, _ core: Core) -> SavedState {
        let slot = core.slots[index]
        return SavedState(
            phase: slot.phase.name, count: slot.count, running: slot.running, paused: slot.paused,
            notified: slot.notified, loggedRaised: slot.loggedRaised,
            lastLogged: slot.lastLogged.isFinite ? slot.lastLogged : nil,
            raisedAt: slot.raisedAt.isFinite ? slot.raisedAt : nil,
            startedAt: core.settings[index].flatMap { $0.startedAt.isFinite ? $0.startedAt : nil },
            lastRaiseEvent: core.lastRaiseEvent[index] ?? 0,
            extra: slot.side >= 0 || slot.stale
                ? ExtraState(kind: slot.side >= 0 ? core.kinds[slot.side] : nil, stale: core.staleness[index])
                : nil)
    }

    /// The uid an event's retention counts it against: its monitor's owner, root's 0 for
    /// resmond's own (a storm summary, a plug-in's change) and a monitor no longer known.
    func owner(of event: EventRecord, _ core: Core) -> Int {
        event.monitorId.flatMap { core.indexByID[$0] }.map { core.definitions.owner($0) } ?? 0
    }

    /// Appends events and writes the listed monitors' state in one transaction, all or nothing,
    /// then publishes and returns them as stored; the API's changes use it and answer `storage` (507) when it throws, with
    /// memory put back by the caller. `extra` changes the monitors' tables in the same
    /// transaction (through MonitorStore).
    @discardableResult
    /// `owner`: whom the events count against when they are no monitor's of resmond's (an
    /// application's, `POST /v1/events`); by default each event's monitor's owner.
    func commit(
        events: [EventRecord], saving indexes: [Int], core: inout Core, owner explicit: Int? = nil,
        also extra: ((Database) throws -> Void)? = nil
    ) throws(MonitorError) -> [EventRecord] {
        let encoder = WireJSON.encoder()
        let stored: [EventRecord]
        do {
            stored = try store.database.withDatabase { database in
                stateWrites.add(1, ordering: .releasing)
                return try database.transaction {
                    try extra?(database)
                    let stored = try EventStore.append(events, in: database) { explicit ?? owner(of: $0, core) }
                    noteRaises(stored, core: &core)
                    for index in Set(indexes) where core.definitions.contains(index) {
                        try save(index, encoder: encoder, core: core, in: database)
                    }
                    return stored
                }
            }
        } catch {
            noteStorage(failure: "\(error)")
            throw MonitorError(kind: .storage, message: "cannot store monitor state: \(error)")
        }
        noteStorage(failure: nil)
        if !stored.isEmpty { published(stored) }
        return stored
    }

    /// The evaluation's commit: each monitor's events and state in a savepoint of its own, so
    /// that one monitor's failing write never undoes another's events. A monitor whose write
    /// fails keeps its events and the state they lead to in its outbox (`core.outbox`) and
    /// shows its state from before the cycle (`backups`) until they are written
    /// (`retryOutbox`). Events no monitor's state can wait for (a storm summary, a plug-in's
    /// change) go to `core.unwritten` and are written first next time.
    func commitCycle(
        events: [EventRecord], saving indexes: [Int], backups: [Int: SlotBackup], core: inout Core
    ) {
        var loose = core.unwritten
        var groups: [(index: Int, events: [EventRecord])] = []
        var position: [Int: Int] = [:]
        for event in events {
            guard let id = event.monitorId, let index = core.indexByID[id], backups[index] != nil else {
                loose.append(event)
                continue
            }
            if let at = position[index] {
                groups[at].events.append(event)
            } else {
                position[index] = groups.count
                groups.append((index, [event]))
            }
        }
        for index in Set(indexes) where position[index] == nil && core.definitions.contains(index) {
            position[index] = groups.count
            groups.append((index, []))
        }
        let encoder = WireJSON.encoder()
        var written: [EventRecord] = []
        var failed: [Int: String] = [:]
        var looseFailure: String?
        // A failure of the database as a whole, not of one monitor's data: the storage condition.
        var wideFailure: String?
        do {
            try store.database.withDatabase { database in
                stateWrites.add(1, ordering: .releasing)
                try database.transaction {
                    do {
                        try database.savepoint {
                            written = try EventStore.append(loose, in: database) { owner(of: $0, core) }
                        }
                    } catch {
                        guard database.inTransaction else { throw error }
                        looseFailure = "\(error)"
                        if MonitorEngine.isStorageWide(error) { wideFailure = "\(error)" }
                    }
                    for group in groups {
                        let before = core.lastRaiseEvent[group.index]
                        do {
                            let stored = try database.savepoint {
                                let stored = try EventStore.append(group.events, owner: core.definitions.owner(group.index), in: database)
                                noteRaises(stored, core: &core)
                                try save(group.index, encoder: encoder, core: core, in: database)
                                return stored
                            }
                            written += stored
                        } catch {
                            // SQLite rolled the whole transaction back: nothing stands.
                            guard database.inTransaction else { throw error }
                            core.lastRaiseEvent[group.index] = before
                            failed[group.index] = "\(error)"
                            if MonitorEngine.isStorageWide(error) { wideFailure = "\(error)" }
                        }
                    }
                }
            }
        } catch {
            // The transaction as a whole failed (a full disk fails at COMMIT): nothing was written.
            // The groups' backups put their raises' ids back with the rest of their state.
            for group in groups { failed[group.index] = "\(error)" }
            looseFailure = "\(error)"
            wideFailure = "\(error)"
            written = []
        }
        for (index, reason) in failed {
            guard let backup = backups[index] else { continue }
            // The events' ids and the raise they record come when they are written.
            var after = SlotBackup(index, &core)
            after.lastRaiseEvent = backup.lastRaiseEvent
            let waiting = position[index].map { groups[$0].events } ?? []
            core.outbox[index] = PendingTransition(events: waiting, after: after, reason: reason)
            restore(backup, to: index, core: &core)
        }
        core.unwritten = looseFailure == nil ? [] : Array(loose.suffix(MonitorEngine.unwrittenLimit))
        if wideFailure == nil { noteFailing(failed, core: &core) }
        noteStorage(failure: wideFailure)
        if !written.isEmpty { published(written.sorted { $0.id < $1.id }) }
    }

    /// Writes the transitions waiting in the monitors' outboxes, each monitor in a savepoint of
    /// its own: a written one's state advances to where its events lead and its evaluation
    /// resumes (the next reading may cancel what was just raised: both are in the log). One the
    /// database still refuses keeps waiting and keeps showing its state from before.
    func retryOutbox(core: inout Core) {
        guard !core.outbox.isEmpty else { return }
        let encoder = WireJSON.encoder()
        var written: [EventRecord] = []
        // The state each written monitor showed before: put back if the transaction fails as a whole.
        var shown: [Int: SlotBackup] = [:]
        var wideFailure: String?
        do {
            try store.database.withDatabase { database in
                stateWrites.add(1, ordering: .releasing)
                try database.transaction {
                    for index in core.outbox.keys.sorted() {
                        guard let waiting = core.outbox[index] else { continue }
                        var before = SlotBackup(index, &core)
                        before.lastRaiseEvent = core.lastRaiseEvent[index]
                        restore(waiting.after, to: index, core: &core)
                        do {
                            written += try database.savepoint {
                                let stored = try EventStore.append(waiting.events, owner: core.definitions.owner(index), in: database)
                                noteRaises(stored, core: &core)
                                try save(index, encoder: encoder, core: core, in: database)
                                return stored
                            }
                            shown[index] = before
                        } catch {
                            restore(before, to: index, core: &core)
                            guard database.inTransaction else { throw error }
                            core.outbox[index]?.reason = "\(error)"
                            if MonitorEngine.isStorageWide(error) { wideFailure = "\(error)" }
                        }
                    }
                }
            }
        } catch {
            // Nothing was written (a full disk fails at COMMIT): every transition still waits.
            for (index, before) in shown { restore(before, to: index, core: &core) }
            noteStorage(failure: "\(error)")
            return
        }
        for index in shown.keys { core.outbox[index] = nil }
        if wideFailure == nil { noteFailing([:], core: &core) }
        noteStorage(failure: wideFailure)
        if !written.isEmpty { published(written.sorted { $0.id < $1.id }) }
    }

    /// Before an API change to monitors: their waiting transitions are written first, or the
    /// change is refused (`storage`) — applied over a transition not yet in the log, it would be
    /// undone when that is written, or the transition lost.
    func settleOutbox(_ indexes: [Int], core: inout Core) throws(MonitorError) {
        guard indexes.contains(where: { core.outbox[$0] != nil }) else { return }
        retryOutbox(core: &core)
        if let index = indexes.first(where: { core.outbox[$0] != nil }) {
            throw MonitorError(
                kind: .storage,
                message:
                    "monitor \(core.definitions.id(index)) has a transition waiting to be written to the state database: \(core.outbox[index]?.reason ?? "")")
        }
    }

    /// Whether a failed write says the database refuses writes (a full disk, the marker file
    /// unwritable) rather than that one monitor's data cannot be stored.
    static func isStorageWide(_ error: any Error) -> Bool {
        if let error = error as? DatabaseError { return error.isStorageWide }
        return error is StorageError
    }

    /// How many events without a monitor to wait for are kept while the database refuses them.
    static let unwrittenLimit = 10_000

    /// Records the raises just appended: what a monitor's next `canceled` event cancels.
    private func noteRaises(_ stored: [EventRecord], core: inout Core) {
        for event in stored where event.type.isRaise {
            guard let id = event.monitorId, let index = core.indexByID[id] else { continue }
            if event.type == .noData { core.staleness[index]?.noDataEvent = event.id } else { core.lastRaiseEvent[index] = event.id }
        }
    }

    private func save(_ index: Int, encoder: JSONEncoder, core: Core, in database: Database) throws {
        let template = core.definitions.has(.instance, index) ? core.definitions[index]?.spec.template : nil
        try MonitorStore.save(savedState(of: index, core), id: core.definitions.id(index), template: template, encoder: encoder, in: database)
    }

    /// Logs a monitor whose own write fails once, when it starts failing, and once when it is
    /// written again.
    private func noteFailing(_ failed: [Int: String], core: inout Core) {
        var now: [String: String] = [:]
        for (index, waiting) in core.outbox where core.definitions.contains(index) { now[core.definitions.id(index)] = waiting.reason }
        for (index, reason) in failed where core.definitions.contains(index) { now[core.definitions.id(index)] = reason }
        for (id, reason) in now.sorted(by: { $0.key < $1.key }) where core.failing[id] == nil {
            report(.problem("cannot write monitor \(id) to the state database: \(reason); its transition stays pending and is retried"))
        }
        for id in core.failing.keys.sorted() where now[id] == nil {
            report(.recovered("monitor \(id) is written to the state database again"))
        }
        core.failing = now
    }

    /// Records whether the last write failed; logs when failures begin and when they end.
    func noteStorage(failure: String?) {
        let previous = storageFailure.withLock { current in
            defer { current = failure }
            return current
        }
        if previous == nil, let failure {
            report(.problem("cannot write to the state database: \(failure); events and changes wait in memory until it can be written"))
        } else if previous != nil && failure == nil {
            report(.recovered("the state database is written again"))
        }
    }

    /// Logs events that no monitor raised (a plug-in added or removed), durably, and hands them
    /// to streams and sinks like any other; kept and retried while the database refuses them.
    public func log(_ events: [EventRecord]) {
        let events = events.map { event in
            var event = event
            event.labels = identity.labeling(event.labels)
            return event
        }
        core.withLock { core in commitCycle(events: events, saving: [], backups: [:], core: &core) }
    }

    /// Writes every monitor's state (at a clean stop).
    public func saveAll() {
        core.withLock { core in
            try? commit(events: [], saving: core.definitions.occupied, core: &core)
        }
    }
}

/// A monitor's transition that the state database refused: its events, the state they lead
/// to, and why it was refused. The monitor shows its state from before until it is written.
struct PendingTransition {
    var events: [EventRecord]
    var after: SlotBackup
    var reason: String
}

/// A monitor's runtime state before or after a change: what it shows while the change cannot
/// be written, so that memory never runs ahead of the state database.
struct SlotBackup {
    var slot: ThresholdSlot
    var kind: KindState?
    var stale: StaleState?
    var startedAt: Double?
    var lastRaiseEvent: Int64?

    /// The slot, and its side state when it has one. The evaluation takes one only for a
    /// monitor it changes (`keepBackup`). `core` is borrowed in place (inout): taken by value,
    /// the whole engine state was copied (22 → 53 ns a monitor at 100k).
    @inline(__always)
    init(_ index: Int, _ core: inout MonitorEngine.Core) {
        slot = core.slots[index]
        kind = slot.side >= 0 ? core.kinds[slot.side] : nil
        stale = slot.stale ? core.staleness[index] : nil
        startedAt = slot.tuned ? core.settings[index]?.startedAt : nil
    }
}

extension MonitorEngine {
    /// Puts a backup back on its slot (whose side state may have been made afresh since).
    func restore(_ backup: SlotBackup, to index: Int, core: inout Core) {
        let side = core.slots[index].side
        var slot = backup.slot
        slot.side = side
        core.slots[index] = slot
        if side >= 0, let kind = backup.kind { core.kinds[side] = kind }
        if let stale = backup.stale { core.staleness[index] = stale }
        if let startedAt = backup.startedAt { core.settings[index]?.startedAt = startedAt }
        core.lastRaiseEvent[index] = backup.lastRaiseEvent
    }
}
