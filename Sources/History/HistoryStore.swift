import ResmonSystem
import Statistics
import Storage

/// The recent past of every archived statistic: one round-robin database per key, fed from the
/// sample table after each sampling cycle, persisted in snapshots.
///
/// Archived by class (DESIGN.md): process and plug-in statistics keep the finest timescale only
/// (unless configured), everything else all four; counters are stored as rates (DERIVE, minimum 0, so a
/// reset is a gap rather than a negative spike).
public final class HistoryStore: Sendable {
    public struct Settings: Sendable, Equatable {
        public var step: Int
        public var processTiers: Int
        /// Plug-ins' statistics: an exporter brings hundreds, node_exporter 500, and all four
        /// timescales cost under 1 KB each while still, up to 12.4 KB once every row differs.
        public var pluginTiers: Int
        public var fullTiers: Int
        /// The most plug-in statistics archived at once (`history.maxPluginStatistics`): those
        /// first seen past it get no archive.
        public var maxPluginStatistics: Int

        public init(step: Int, processTiers: Int = 1, pluginTiers: Int = 1, fullTiers: Int = 4, maxPluginStatistics: Int = .max) {
            self.step = step
            self.processTiers = processTiers
            self.pluginTiers = pluginTiers
            self.fullTiers = fullTiers
            self.maxPluginStatistics = maxPluginStatistics
        }
    }

    private let settings: Settings
    private let databases = Lock<[String: RoundRobinDatabase]>([:])
    /// Table slot → (generation, key), so a cycle's readings find their databases without keys.
    private let slots = Lock<[(generation: UInt32, key: String)?]>([])
    private let recordBuffer = Lock<[SampleTable.Reading]>([])
    /// The keys of the plug-in statistics archived, counted against `maxPluginStatistics`
    /// (taken inside `databases`' lock).
    private let pluginKeys = Lock<Set<String>>([])
    /// The snapshot being written: the keys it has still to encode (its count is written first),
    /// whose removal waits until it is done, and those removals. Taken inside `databases`' lock.
    private let pendingSnapshot = Lock<PendingSnapshot?>(nil)
    /// One snapshot at a time.
    private let snapshotWriter = Lock<Void>(())

    private struct PendingSnapshot {
        var keys: Set<String>
        /// Removals that wait: a pruned key goes only if it is still stale then (nil: at once).
        var removals: [String: Int?] = [:]
    }
    /// Snapshot format: magic, version, payload, then a checksum over the payload.
    package static let magic = Array("RESMONH\u{0}".utf8)
    static let version = 3

    public init(settings: Settings) {
        self.settings = settings
    }

    public var step: Int { settings.step }

    /// Records the latest readings of a table: each statistic whose reading is newer than its
    /// last update. `periods` gives each subsystem's sampling period, for the heartbeat; it is
    /// asked only when a statistic is first seen, not every cycle.
    /// Statistics are found by handle; their keys are looked up only when first seen.
    public func record(_ table: SampleTable, periods: () -> [String: Double]) {
        var readings = recordBuffer.withLock { buffer in
            defer { buffer = [] }
            return buffer
        }
        table.readings(into: &readings)
        databases.withLock { databases in
            var bySlot = slots.withLock { $0 }
            var knownPeriods: [String: Double]?
            for reading in readings {
                guard reading.time.isFinite else { continue }
                let time = Int(reading.time.rounded(.down))
                let slot = Int(reading.handle.index)
                if slot >= bySlot.count { bySlot.append(contentsOf: repeatElement(nil, count: slot + 1 - bySlot.count)) }
                var key = bySlot[slot].flatMap { $0.generation == reading.handle.generation ? $0.key : nil }
                if key == nil {
                    guard let descriptor = table.descriptor(reading.handle) else { continue }
                    key = descriptor.key.text
                    bySlot[slot] = (reading.handle.generation, descriptor.key.text)
                    guard admits(descriptor) else {
                        // Not archived (a snapshot may still hold it from before): its slot
                        // keeps the key, so it is not looked up again.
                        remove(descriptor.key.text, from: &databases)
                        continue
                    }
                    if databases[descriptor.key.text] == nil {
                        if knownPeriods == nil { knownPeriods = periods() }
                        databases[descriptor.key.text] = makeDatabase(
                            descriptor, isCounter: reading.isCounter, time: time,
                            periods: knownPeriods ?? [:])
                    }
                }
                // One lookup, the database changed in place.
                guard let key else { continue }
                databases[key]?.updateIfNewer(time: time, reading: reading.value)
            }
            slots.withLock { $0 = bySlot }
        }
        recordBuffer.withLock { $0 = readings }
    }

    /// Whether a statistic, seen for the first time, is archived: not when its plug-in's
    /// `archive` leaves it out, nor past `maxPluginStatistics` plug-in statistics in all.
    private func admits(_ descriptor: StatisticDescriptor) -> Bool {
        guard descriptor.archived else { return false }
        guard descriptor.family != nil else { return true }
        return pluginKeys.withLock { keys in
            guard keys.count < settings.maxPluginStatistics || keys.contains(descriptor.key.text) else { return false }
            keys.insert(descriptor.key.text)
            return true
        }
    }

    /// A new database for a statistic: counters as DERIVE with minimum 0, heartbeat three
    /// sampling periods, all timescales but for processes and plug-ins.
    private func makeDatabase(_ descriptor: StatisticDescriptor, isCounter: Bool, time: Int, periods: [String: Double]) -> RoundRobinDatabase {
        let key = descriptor.key
        let step = settings.step
        let period = max(Double(step), periods[key.subsystem] ?? Double(step))
        let tiers = key.subsystem == "process" ? settings.processTiers : descriptor.family != nil ? settings.pluginTiers : settings.fullTiers
        return RoundRobinDatabase(
            step: step, kind: isCounter ? .derive : .gauge, heartbeat: Int(period * 3),
            minimum: isCounter ? 0 : .nan, archives: ArchiveDefinition.standard(step: step, tiers: tiers),
            start: time - step)
    }

    /// Forgets statistics not updated for the finest archive's span (processes that exited).
    public func prune(now: Double) {
        let horizon = Int(now) - 120 * settings.step
        databases.withLock { databases in
            let stale = databases.compactMap { $0.value.lastUpdate < horizon ? $0.key : nil }
            for key in stale { remove(key, from: &databases, unlessUpdatedSince: horizon) }
            pluginKeys.withLock { $0 = $0.filter { databases[$0] != nil } }
        }
    }

    /// Forgets a statistic's history at once (its pushed statistic was deleted by its owner):
    /// kept until pruned, deleted and re-pushed keys piled up 22,166 databases and 254 MB in a
    /// minute (issue 22, third attack).
    public func forget(_ key: String) {
        databases.withLock { databases in
            remove(key, from: &databases)
            pluginKeys.withLock { _ = $0.remove(key) }
        }
    }

    /// Removes a database, called inside `databases`' lock; one a snapshot being written has yet
    /// to encode goes when it is done (a pruned one only if it is still not updated since
    /// `horizon` then: a statistic that came back keeps it).
    private func remove(_ key: String, from databases: inout [String: RoundRobinDatabase], unlessUpdatedSince horizon: Int? = nil) {
        let waits = pendingSnapshot.withLock { pending -> Bool in
            guard pending?.keys.contains(key) == true else { return false }
            pending?.removals[key] = .some(horizon)
            return true
        }
        if !waits { databases[key] = nil }
    }

    /// A copy of one statistic's database.
    public func database(_ key: String) -> RoundRobinDatabase? {
        databases.withLock { $0[key] }
    }

    /// Copies of the databases whose keys pass `include`.
    public func databases(where include: (String) -> Bool) -> [(key: String, database: RoundRobinDatabase)] {
        databases.withLock { databases in
            databases.filter { include($0.key) }.map { ($0.key, $0.value) }.sorted { $0.key < $1.key }
        }
    }

    public var count: Int { databases.withLock { $0.count } }

    /// Replaces every database (tools and tests).
    public func replace(with databases: [String: RoundRobinDatabase]) {
        self.databases.withLock { $0 = databases }
        slots.withLock { $0 = [] }
        pluginKeys.withLock { $0 = [] }
    }

    /// Bytes of row storage across all databases.
    public var storageBytes: Int { databases.withLock { $0.values.reduce(0) { $0 + $1.storageBytes } } }

    /// What the store takes in memory: every database's `memoryBytes`, and its entry in the
    /// dictionary with its key (an estimate: the buckets at the dictionary's capacity).
    public var memoryBytes: Int {
        databases.withLock { databases in
            let entries = databases.capacity * (MemoryLayout<String>.stride + MemoryLayout<RoundRobinDatabase>.stride)
            return databases.reduce(entries) { bytes, entry in
                let key = entry.key.utf8.count > 15 ? HeapAccounting.allocation(32 + entry.key.utf8.count) : 0
                return bytes + key + entry.value.memoryBytes - MemoryLayout<RoundRobinDatabase>.stride
            }
        }
    }

    // MARK: - Snapshots

    /// The whole store as bytes (docs/HISTORY.md, "Snapshots"): what `write(to:)` writes.
    public func snapshot() -> [UInt8] {
        var image: [UInt8] = []
        encodeSnapshot { image += $0 }
        return image
    }

    /// Encodes the store in pieces of about `HistoryStore.pieceBytes`, each handed to `emit`
    /// (whose buffer is reused after): magic, version 3, payload, then the FNV-1a 64 checksum of
    /// the payload. Each piece is encoded under the store's lock, from the databases themselves,
    /// and handed out after it; the sampler records between two pieces. Built whole, the image
    /// took the store's size again at every minute's snapshot (RSS 5-6 MiB above idle); encoded
    /// from a copy of the store, the sampler's next recording copied the whole dictionary and
    /// then every database's rows, on the sampling thread: 130 ms cycles and the rows twice in
    /// RSS with 10,000 statistics (issue 17).
    func encodeSnapshot<Failure: Error>(_ emit: ([UInt8]) throws(Failure) -> Void) throws(Failure) {
        try snapshotWriter.withLock { _ throws(Failure) in
            let keys = databases.withLock { databases in
                let keys = Array(databases.keys)
                pendingSnapshot.withLock { $0 = PendingSnapshot(keys: Set(keys)) }
                return keys
            }
            defer { finishSnapshot() }
            var writer = ByteWriter()
            writer.bytes.reserveCapacity(HistoryStore.pieceBytes + 16 * 1024)
            writer.bytes += HistoryStore.magic
            writer.integer(HistoryStore.version)
            try emit(writer.bytes)
            writer.bytes.removeAll(keepingCapacity: true)
            var checksum = StreamingChecksum()
            writer.integer(settings.step)
            writer.integer(keys.count)
            var next = 0
            while next < keys.count {
                databases.withLock { databases in
                    let first = next
                    while next < keys.count && writer.bytes.count < HistoryStore.pieceBytes {
                        writer.string(keys[next])
                        // Only `replace(with:)` removes a database without waiting.
                        (databases[keys[next]] ?? placeholder).encode(into: &writer)
                        next += 1
                    }
                    pendingSnapshot.withLock { pending in
                        for key in keys[first..<next] { pending?.keys.remove(key) }
                    }
                }
                if writer.bytes.count >= HistoryStore.pieceBytes {
                    checksum.add(writer.bytes)
                    try emit(writer.bytes)
                    writer.bytes.removeAll(keepingCapacity: true)
                }
            }
            checksum.add(writer.bytes)
            writer.raw64(checksum.value)
            try emit(writer.bytes)
        }
    }

    /// The removals that waited for the snapshot.
    private func finishSnapshot() {
        databases.withLock { databases in
            let removals = pendingSnapshot.withLock { pending in
                defer { pending = nil }
                return pending?.removals ?? [:]
            }
            for (key, horizon) in removals {
                if let horizon, let database = databases[key], database.lastUpdate >= horizon { continue }
                databases[key] = nil
            }
        }
    }

    /// What a snapshot holds for a database replaced while it was written: no rows.
    private var placeholder: RoundRobinDatabase {
        RoundRobinDatabase(
            step: settings.step, kind: .gauge, heartbeat: settings.step * 3, archives: ArchiveDefinition.standard(step: settings.step, tiers: 1),
            start: 0)
    }

    /// How much of a snapshot is encoded before it is written out.
    static let pieceBytes = 64 * 1024

    /// Replaces the store's contents with a snapshot. Databases of another step are dropped
    /// (the step changed): returns how many were restored. Reads version 3 (rings as runs or
    /// plain rows), version 2 (checksum last, every ring plain) and version 1 (checksum after
    /// the version, written before issue 17).
    @discardableResult
    public func restore(_ bytes: [UInt8]) throws(SnapshotError) -> Int {
        guard bytes.count >= HistoryStore.magic.count + 16, Array(bytes.prefix(HistoryStore.magic.count)) == HistoryStore.magic else {
            throw SnapshotError("not a resmon history snapshot")
        }
        var reader = ByteReader(bytes, from: HistoryStore.magic.count)
        let version = try reader.integer()
        let payload: Range<Int>
        let checksum: UInt64
        switch version {
        case 1:
            checksum = try reader.raw64()
            payload = reader.position..<bytes.count
        case 2, HistoryStore.version:
            payload = reader.position..<(bytes.count - 8)
            var trailer = ByteReader(bytes, from: bytes.count - 8)
            checksum = try trailer.raw64()
        default:
            throw SnapshotError("snapshot version \(version), expected \(HistoryStore.version)")
        }
        let computed = HistoryStore.checksum(bytes.span.extracting(payload))
        guard computed == checksum else { throw SnapshotError("checksum mismatch: the snapshot is damaged") }
        var body = ByteReader(Array(bytes[payload]))
        let step = try body.integer(in: 1...86400)
        let count = try body.integer(in: 0...10_000_000)
        var restored: [String: RoundRobinDatabase] = [:]
        for _ in 0..<count {
            let key = try body.string()
            let database = try RoundRobinDatabase(decoding: &body, version: version)
            if step == settings.step { restored[key] = database }
        }
        guard body.position == payload.count else { throw SnapshotError("\(payload.count - body.position) bytes past the last database") }
        replace(with: restored)
        return restored.count
    }

    /// Writes a snapshot atomically (temporary file, fsync, rename), piece by piece.
    public func write(to path: String) throws(StorageError) {
        try writeAtomically(to: path) { (file: FileDescriptor) throws(Errno) in
            try encodeSnapshot { (piece: [UInt8]) throws(Errno) in try file.writeAll(piece) }
        }
    }

    /// FNV-1a over 64-bit little-endian words (then the tail bytes): eight times fewer steps
    /// than bytewise, which matters for a snapshot of megabytes written at every stop.
    package static func checksum(_ raw: Span<UInt8>) -> UInt64 {
        do {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            let words = raw.count / 8
            for index in 0..<words {
                hash ^= raw.littleEndianUInt64(at: index * 8)
                hash &*= 0x0000_0100_0000_01b3
            }
            for index in (words * 8)..<raw.count {
                hash ^= UInt64(raw[index])
                hash &*= 0x0000_0100_0000_01b3
            }
            return hash
        }
    }
}
