import FoundationEssentials
import ResmonAPI
import Storage

/// The state snapshot: what moves between transitions (counts toward raising or cancelling,
/// buckets' levels, watermarks, staleAfter's clock, monitoringInterval's start), written every
/// minute by resmond's state writer, never by the evaluation.
///
/// Every transition is written with its events when it happens (MonitorEngine+Persistence);
/// the snapshot only narrows what a crash forgets to the last minute's movement. At 1,000,000
/// monitors (the bench's mix: 190,000 watermarks and buckets move every cycle) writing them
/// inside the evaluation made that cycle take 4–5 s of CPU. The writer goes through the slots
/// in chunks instead: it copies a chunk's states under the engine's lock (a struct copy each),
/// encodes them with no lock held, then writes them in one transaction: with no engine lock
/// when nothing wrote the monitors' tables since the copy, otherwise under it, each checked
/// against the slot as it is then. The evaluation waits at most for one chunk's copy, or for
/// one chunk's write when it has a transition to commit.
extension MonitorEngine {
    /// Monitors a chunk writes at most: its write holds the database's lock (and, the checked
    /// way, the engine's) for their rows, ~20 µs a row in a debug build.
    static let snapshotChunk = 1024
    /// Slots a chunk's copy looks through at most, under the engine's lock.
    static let snapshotScan = 65536

    /// One chunk of the snapshot: the moving monitors among `slots`, their states as copied.
    struct SnapshotChunk: Sendable {
        struct Entry: Sendable {
            let index: Int
            let id: String
            let template: String?
            let state: SavedState
        }
        var slots: Range<Int>
        /// The engine's `stateWrites` when the states were copied.
        var writes: Int
        var entries: [Entry] = []
        /// Each entry's state as the database stores it, encoded with no lock held.
        var texts: [String?] = []
    }

    /// Writes the snapshot of every monitor whose state moves between transitions, chunk by
    /// chunk; returns how many monitors it wrote. `shouldStop` is asked between chunks (resmond
    /// is stopping: its stop writes every monitor anyway). Called on resmond's state writer.
    @discardableResult
    public func writeStateSnapshot(shouldStop: () -> Bool = { false }) -> Int {
        var start = 0
        var written = 0
        while !shouldStop(), var chunk = copySnapshotChunk(from: start) {
            start = chunk.slots.upperBound
            encode(&chunk)
            guard let count = writeSnapshotChunk(chunk) else { break }
            written += count
        }
        return written
    }

    /// Copies the states of the next `limit` moving monitors from slot `start` on, under the
    /// engine's lock (nil: no slot there). A monitor whose transition waits in its outbox is
    /// left out: its state waits with that transition.
    func copySnapshotChunk(from start: Int, limit: Int = MonitorEngine.snapshotChunk) -> SnapshotChunk? {
        core.withLock { core in
            guard start < core.slots.count else { return nil }
            // Every write to the monitors' tables holds the engine's lock too: none is under way.
            var chunk = SnapshotChunk(
                slots: start..<min(start + MonitorEngine.snapshotScan, core.slots.count), writes: stateWrites.load(ordering: .acquiring))
            for index in chunk.slots where isMoving(index, core) {
                chunk.entries.append(
                    SnapshotChunk.Entry(index: index, id: core.definitions.id(index), template: template(of: index, core), state: savedState(of: index, core)))
                if chunk.entries.count == limit {
                    chunk.slots = start..<(index + 1)
                    break
                }
            }
            return chunk
        }
    }

    /// Whether a slot holds a monitor whose state moves between transitions. One that has sat
    /// clear since its last write is not written again (at 10,000 monitors rewriting them all
    /// cost 5 ms of CPU a second).
    private func isMoving(_ index: Int, _ core: Core) -> Bool {
        guard core.definitions.contains(index), core.outbox[index] == nil else { return false }
        let slot = core.slots[index]
        return slot.count > 0 || slot.side >= 0 || slot.stale || (core.settings[index]?.interval ?? 0) > 0
    }

    /// An instance's template (its state is stored with it), from memory: instances are not in
    /// the database.
    func template(of index: Int, _ core: Core) -> String? {
        core.definitions.has(.instance, index) ? core.definitions[index]?.spec.template : nil
    }

    /// Encodes a chunk's states, with no lock held: the work the evaluation no longer does.
    func encode(_ chunk: inout SnapshotChunk) {
        let encoder = WireJSON.encoder()
        chunk.texts = chunk.entries.map { entry in MonitorStore.text(entry.state, encoder: encoder) }
    }

    /// Writes a chunk, with no engine lock held when nothing has written the monitors' tables
    /// since the copy (`stateWrites`, checked under the database's lock, which every such write
    /// holds): then every copied state is still the newest of its monitor but for what
    /// moved, and the evaluation goes on meanwhile. Otherwise the chunk is written under the
    /// engine's lock, each entry checked against its slot. Returns how many it wrote, nil when the
    /// database refused the chunk.
    func writeSnapshotChunk(_ chunk: SnapshotChunk) -> Int? {
        guard !chunk.entries.isEmpty else { return 0 }
        var written: Int?
        do {
            try store.database.withDatabase { database in
                guard stateWrites.load(ordering: .acquiring) == chunk.writes else { return }
                var count = 0
                try database.withSynchronousNormal {
                    try database.transaction {
                        for (position, entry) in chunk.entries.enumerated() {
                            guard let text = chunk.texts[position] else { continue }
                            try MonitorStore.save(text: text, id: entry.id, template: entry.template, in: database)
                            count += 1
                        }
                    }
                }
                written = count
            }
        } catch {
            noteStorage(failure: "\(error)")
            return nil
        }
        guard let written else { return writeCheckedSnapshotChunk(chunk) }
        noteStorage(failure: nil)
        return written
    }

    /// Writes a chunk in one transaction, under the engine's lock. A slot that holds another
    /// monitor now, or none, is skipped (deleted or retired meanwhile: nothing is written back);
    /// one whose state moved since the copy is written as it is now (a transition was written
    /// with its events; writing the copy would put the state from before it back).
    func writeCheckedSnapshotChunk(_ chunk: SnapshotChunk) -> Int? {
        let encoder = WireJSON.encoder()
        return core.withLock { core -> Int? in
            var written = 0
            do {
                try store.database.withDatabase { database in
                    // Not synced at commit: a snapshot lost with the machine's power only loses
                    // the minute's movement, and the next transition's commit syncs the log with
                    // it. A crash of resmond alone loses nothing committed; neither corrupts.
                    try database.withSynchronousNormal {
                        try database.transaction {
                            for (position, entry) in chunk.entries.enumerated() {
                                let index = entry.index
                                guard core.definitions.contains(index), core.definitions.id(index) == entry.id,
                                    core.outbox[index] == nil
                                else { continue }
                                let current = savedState(of: index, core)
                                let text = current.matches(entry.state) ? chunk.texts[position] : MonitorStore.text(current, encoder: encoder)
                                guard let text else { continue }
                                try MonitorStore.save(text: text, id: entry.id, template: entry.template, in: database)
                                written += 1
                            }
                        }
                    }
                }
            } catch {
                noteStorage(failure: "\(error)")
                return nil
            }
            noteStorage(failure: nil)
            return written
        }
    }
}
