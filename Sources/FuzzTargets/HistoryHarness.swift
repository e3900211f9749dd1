import History
import ResmonSystem
import Statistics

/// A history snapshot (docs/HISTORY.md, "Snapshots"), as resmond reads one back at start. The
/// first byte chooses: the input as the whole file (header, version and checksum checks), or
/// as the payload of a version 2 snapshot with a correct checksum (so that the decoder itself
/// is reached). What is restored is then used as a running resmond uses it: recorded into,
/// read back through every archive, snapshot again.
public func fuzzHistorySnapshot(_ data: [UInt8]) {
    var cursor = InputCursor(data)
    let whole = cursor.choice(4) == 0
    let payload = cursor.rest
    let bytes = whole ? payload : HistorySnapshots.wrap(payload)
    let store = HistoryStore(settings: .init(step: 5))
    guard let restored = try? store.restore(bytes), restored > 0 else { return }
    // Two readings after the snapshot's, as the sampler records them: a gauge and a counter.
    let table = SampleTable()
    let gauge = table.register(StatisticDescriptor(key: HistorySnapshots.gauge, kind: .gauge, unit: "bytes", help: "fuzz"))
    let counter = table.register(StatisticDescriptor(key: HistorySnapshots.counter, kind: .counter, unit: "bytes", help: "fuzz"))
    for (step, time) in [1_800_000_005.0, 1_800_000_010].enumerated() {
        var batch = SampleBatch()
        batch.record(gauge, Double(step) * 1e9)
        batch.record(counter, Double(step) * 1e12)
        table.apply(batch, time: time, monotonicTime: time)
        store.record(table) { [:] }
    }
    for (_, database) in store.databases(where: { _ in true }).prefix(16) {
        for function in ConsolidationFunction.allCases {
            _ = database.fetch(function, start: 1_799_990_000, end: 1_800_000_100)
        }
        for archive in 0..<database.archives.count {
            _ = database.rows(of: archive)
            _ = database.value(archive, endingAt: database.newestRowTime(archive))
        }
    }
    // What resmond writes at a stop it must read back at the next start.
    let image = store.snapshot()
    let count = store.databases(where: { _ in true }).count
    do {
        let again = try HistoryStore(settings: .init(step: 5)).restore(image)
        if again != count { fatalError("a snapshot of \(count) databases restored \(again)") }
    } catch {
        fatalError("a snapshot of a restored store does not read back: \(error)")
    }
}

package enum HistorySnapshots {
    static let gauge = StatisticKey(subsystem: "memory", resource: "host", statistic: "used_bytes")
    static let counter = StatisticKey(subsystem: "net", resource: "eth0", statistic: "receive_bytes_total")

    /// A version 2 snapshot around `payload`: magic, version, payload, checksum.
    package static func wrap(_ payload: [UInt8]) -> [UInt8] {
        var bytes = HistoryStore.magic
        bytes.appendLittleEndian(UInt64(2))
        bytes += payload
        bytes.appendLittleEndian(HistoryStore.checksum(payload.span))
        return bytes
    }
}
