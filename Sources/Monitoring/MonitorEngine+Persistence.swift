import Events
import FoundationEssentials
import ResmonAPI
import ResmonSystem
import Statistics
import Storage

/// Loading monitors at start and committing their state with the events they log.
extension MonitorEngine {
    /// Loads every monitor and its state from the database (at start).
    public func load() throws {
        let stored = try store.all()
        core.withLock { core in
            for monitor in stored {
                let definition: MonitorDefinition
                do {
                    definition = try MonitorDefinition(
                        spec: monitor.spec, owner: monitor.owner, createdAt: monitor.createdAt,
                        step: step, table: table, lenient: true)
                } catch {
                    continue
                }
                let index = add(definition, to: &core)
                if let saved = monitor.state { apply(saved, to: index, core: &core) }
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

    /// Appends events and writes the listed monitors' state in one transaction, then publishes.
    /// `extra` changes the monitors' tables in the same transaction (through MonitorStore).
    func commit(
        events: [EventRecord], saving indexes: [Int], core: inout Core,
        also extra: ((Database) throws -> Void)? = nil
    ) throws(MonitorError) {
        let encoder = WireJSON.encoder()
        let stored: [EventRecord]
        do {
            stored = try store.database.withDatabase { database in
                try database.transaction {
                    try extra?(database)
                    let stored = try EventStore.append(events, in: database)
                    for event in stored where event.type != EventType.canceled.name && event.type != EventType.resourceConfigurationChange.name {
                        guard let id = event.monitorId, let index = core.indexByID[id] else { continue }
                        if event.type == EventType.noData.name { core.staleness[index]?.noDataEvent = event.id } else { core.lastRaiseEvent[index] = event.id }
                    }
                    for index in Set(indexes) where core.definitions.contains(index) {
                        let template = core.definitions.has(.instance, index) ? core.definitions[index]?.spec.template : nil
                        try MonitorStore.save(
                            savedState(of: index, core), id: core.definitions.id(index), template: template,
                            encoder: encoder, in: database)
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

    /// Writes every monitor's state (at a clean stop).
    public func saveAll() {
        core.withLock { core in
            try? commit(events: [], saving: core.definitions.occupied, core: &core)
        }
    }
}
