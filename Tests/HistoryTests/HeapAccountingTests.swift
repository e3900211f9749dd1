import CShim
import Foundation
import Statistics
import Testing

@testable import History

/// Where a statistic's bytes go, measured in this process's heap (glibc's `mallinfo2`): opt in
/// with `MALLOC_ARENA_MAX=1 RESMON_HEAP_ACCOUNTING=1 swift test --filter HeapAccounting`, alone,
/// as other tests running beside it allocate too (one arena: mallinfo2 counts the main arena). The figures are printed; docs/PERFORMANCE.md quotes them.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["RESMON_HEAP_ACCOUNTING"] != nil))
struct HeapAccountingTests {
    static let count = 4000
    static let start = 1_800_000_000

    static func heapInUse() -> Int { rs_heap_in_use() }

    /// As the bench's plug-in: step 1, all four timescales, 300 s of readings.
    static func database(moving: Bool, index: Int, seconds: Int = 300) -> RoundRobinDatabase {
        var database = RoundRobinDatabase(
            step: 1, kind: .gauge, heartbeat: 3, archives: ArchiveDefinition.standard(step: 1, tiers: 4), start: start - 1)
        for second in 0..<seconds {
            try? database.update(time: start + second, reading: moving ? Double((second * 7 + index) % 1000) : Double(index))
        }
        return database
    }

    @Test(arguments: [false, true])
    func bytesOfOneDatabase(moving: Bool) {
        let before = Self.heapInUse()
        var databases: [RoundRobinDatabase] = []
        databases.reserveCapacity(Self.count)
        let reserved = Self.heapInUse()
        for index in 0..<Self.count { databases.append(Self.database(moving: moving, index: index)) }
        let after = Self.heapInUse()
        let stride = MemoryLayout<RoundRobinDatabase>.stride
        print(
            "heap accounting: \(moving ? "moving" : "still") database, 300 s at step 1, 4 tiers:",
            "\((after - reserved) / Self.count) B on the heap + \(stride) B inline; rows \(databases[0].storageBytes) B",
            "(array \(reserved - before))")
    }

    /// One database's own accounting (`memoryBytes`) as it ages, moving every second.
    @Test func bytesAsADatabaseAges() {
        for (label, seconds) in [("5 minutes", 300), ("2 hours", 7200), ("a week", 7 * 86400)] {
            let database = Self.database(moving: true, index: 1, seconds: seconds)
            print("heap accounting: moving for \(label): rows \(database.storageBytes) B, in memory \(database.memoryBytes) B")
        }
        var finest = RoundRobinDatabase(
            step: 1, kind: .gauge, heartbeat: 3, archives: ArchiveDefinition.standard(step: 1, tiers: 1), start: Self.start - 1)
        for second in 0..<300 { try? finest.update(time: Self.start + second, reading: Double(second % 7)) }
        print("heap accounting: the finest timescale, moving: rows \(finest.storageBytes) B, in memory \(finest.memoryBytes) B")
    }

    /// What a snapshot allocates while it is written: the highest heap in use seen between
    /// pieces, above the heap before it.
    @Test func bytesASnapshotTakesWhileItIsWritten() {
        let store = HistoryStore(settings: .init(step: 1, pluginTiers: 4))
        var databases: [String: RoundRobinDatabase] = [:]
        for index in 0..<Self.count { databases["bulk:i=\(index):bulk_value"] = Self.database(moving: index % 2 == 1, index: index) }
        store.replace(with: databases)
        databases = [:]
        let before = Self.heapInUse()
        var peak = before
        var bytes = 0
        store.encodeSnapshot { (piece: [UInt8]) in
            peak = max(peak, Self.heapInUse())
            bytes += piece.count
        }
        print("heap accounting: a snapshot of \(Self.count) statistics, \(bytes) bytes, took \((peak - before) / 1024) KiB of heap at most")
    }

    /// The store as resmond keeps it: a sample table of plug-in statistics, recorded each second.
    @Test func bytesThroughTheStore() {
        let before = Self.heapInUse()
        let table = SampleTable()
        let family = SourceFamily(name: "bulk_still", type: .gauge, help: "bulk_still")
        let handles = (0..<Self.count).map { index in
            table.register(
                StatisticDescriptor(
                    key: StatisticKey(subsystem: "bulk", resource: "i=\(index)", statistic: index % 2 == 0 ? "bulk_still" : "bulk_moving"),
                    kind: .gauge, unit: "", labels: ["i": "\(index)", "metric": "bulk_still"], help: family.help, family: family))
        }
        let registered = Self.heapInUse()
        let store = HistoryStore(settings: .init(step: 1, pluginTiers: 4))
        for second in 0..<300 {
            var batch = SampleBatch()
            for (index, handle) in handles.enumerated() { batch.record(handle, index % 2 == 0 ? Double(index) : Double((second * 7 + index) % 1000)) }
            let time = Double(Self.start + second)
            table.apply(batch, time: time, monotonicTime: time)
            store.record(table) { [:] }
        }
        let recorded = Self.heapInUse()
        print(
            "heap accounting: sample table \((registered - before) / Self.count) B a statistic;",
            "history store \((recorded - registered) / Self.count) B a statistic (rows \(store.storageBytes / Self.count) B)")
        withExtendedLifetime((table, store)) {}
    }
}
