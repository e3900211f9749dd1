import Statistics
import Testing

@testable import History

/// A snapshot is encoded from the store's own databases, a piece at a time under its lock, not
/// from a copy: with a copy, the sampler's next recording copied the whole store and every
/// database's rows on the sampling thread (130 ms cycles at 10,000 statistics, issue 17).
@Suite struct LiveSnapshotTests {
    /// A table of `count` memory gauges, recorded once at `start`.
    static func recorded(_ count: Int, start: Double) -> (SampleTable, [StatisticHandle], HistoryStore) {
        let table = SampleTable()
        let handles = (0..<count).map { index in
            table.register(StatisticDescriptor(key: StatisticKey(parsing: "memory:m\(index):used_bytes")!, kind: .gauge, unit: "bytes", help: ""))
        }
        let store = HistoryStore(settings: .init(step: 5))
        record(handles, in: table, store, time: start, value: 1)
        return (table, handles, store)
    }

    static func record(_ handles: [StatisticHandle], in table: SampleTable, _ store: HistoryStore, time: Double, value: Double) {
        var batch = SampleBatch()
        for handle in handles { batch.record(handle, value) }
        table.apply(batch, time: time, monotonicTime: time)
        store.record(table) { [:] }
    }

    @Test func recordingGoesOnBetweenPiecesAndLandsInTheRest() throws {
        let start = 1_800_000_005.0
        let (table, handles, store) = Self.recorded(1000, start: start)  // about 120 databases a piece
        var pieces = 0
        var image: [UInt8] = []
        store.encodeSnapshot { (piece: [UInt8]) in
            image += piece
            pieces += 1
            // The sampler records while the first piece of databases is out.
            if pieces == 2 { Self.record(handles, in: table, store, time: start + 5, value: 2) }
        }
        #expect(pieces > 4)
        let copy = HistoryStore(settings: .init(step: 5))
        #expect(try copy.restore(image) == 1000)
        let updates = (0..<1000).compactMap { copy.database("memory:m\($0):used_bytes")?.lastUpdate }
        #expect(updates.count == 1000)
        // Encoded before the recording: its first time; after it: the second. From a copy, all
        // would have the first.
        #expect(updates.contains(Int(start)) && updates.contains(Int(start) + 5), "\(Set(updates))")
    }

    @Test func aDatabaseRemovedMeanwhileGoesWhenTheSnapshotIsDone() throws {
        let start = 1_800_000_005.0
        let (_, _, store) = Self.recorded(40, start: start)
        var image: [UInt8] = []
        var presentWhileWriting: [Bool] = []
        store.encodeSnapshot { (piece: [UInt8]) in
            image += piece
            if presentWhileWriting.isEmpty {
                // Before any database is encoded: all 40 are counted in the snapshot already.
                for index in 0..<40 { store.forget("memory:m\(index):used_bytes") }
            }
            presentWhileWriting.append(store.count > 0)
        }
        // The snapshot holds what it counted, and the removals took effect after it.
        #expect(try HistoryStore(settings: .init(step: 5)).restore(image) == 40)
        #expect(presentWhileWriting.first == true)
        #expect(store.count == 0)
        // Pruning waits the same way, and spares one updated since.
        let (table, handles, pruned) = Self.recorded(3, start: start)
        var pruning = true
        pruned.encodeSnapshot { (_: [UInt8]) in
            if pruning {
                pruning = false
                pruned.prune(now: start + 5 * 121)
                Self.record([handles[0]], in: table, pruned, time: start + 5 * 121, value: 3)
            }
        }
        #expect(pruned.count == 1 && pruned.database("memory:m0:used_bytes") != nil)
    }
}
