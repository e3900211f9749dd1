import Foundation
import ResmonSystem
import ResmonTestSupport
import Statistics
import Testing

@testable import History

@Suite struct ConsolidationTests {
    let start = 1_700_000_000

    @Test func gaugeUpdatesOnStepsArePDPsAsTheyAre() throws {
        var database = RoundRobinDatabase(
            step: 5, kind: .gauge, heartbeat: 10,
            archives: [ArchiveDefinition(.average, stepsPerRow: 1, rows: 4)], start: start)
        for (offset, value) in [(5, 1.0), (10, 2.0), (15, 3.0), (20, 4.0)] {
            try database.update(time: start + offset, reading: value)
        }
        #expect(database.rows(of: 0).values == [1, 2, 3, 4])
        #expect(database.rows(of: 0).firstRowEnd == start + 5)
    }

    @Test func aPDPMoreThanHalfUnknownIsUnknownAndLessIsWeighted() throws {
        var database = RoundRobinDatabase(
            step: 5, kind: .gauge, heartbeat: 10, minimum: 0,
            archives: [ArchiveDefinition(.average, stepsPerRow: 1, rows: 3)], start: start)
        try database.update(time: start + 5, reading: 1)
        try database.update(time: start + 10, reading: 2)
        try database.update(time: start + 17, reading: .nan)  // (10, 17] unknown
        try database.update(time: start + 20, reading: 4)  // (17, 20] known: 3 of 5 s
        #expect(database.rows(of: 0).values.map { $0.isNaN ? -1 : $0 } == [2, -1, 4])
    }

    @Test func aGapLongerThanTheHeartbeatIsUnknown() throws {
        var database = RoundRobinDatabase(
            step: 5, kind: .gauge, heartbeat: 10,
            archives: [ArchiveDefinition(.average, stepsPerRow: 1, rows: 5)], start: start)
        try database.update(time: start + 5, reading: 1)
        try database.update(time: start + 25, reading: 9)  // 20 s > heartbeat
        let tail = database.rows(of: 0).values.suffix(4)
        #expect(tail.allSatisfy { $0.isNaN })
        #expect(throws: RoundRobinDatabase.UpdateError.self) { try database.update(time: start + 25, reading: 1) }
    }

    @Test func averageMinMaxLastWithXff() throws {
        let archives = ConsolidationFunction.allCases.map { ArchiveDefinition($0, stepsPerRow: 4, rows: 2, xff: 0.5) }
        var database = RoundRobinDatabase(step: 5, kind: .gauge, heartbeat: 10, archives: archives, start: start)
        // Row one: 1, 2, 3, 6. Row two: 2 unknown of 4 PDPs (= xff, still known): 10, NaN, NaN, 20.
        for (offset, value) in [(5, 1.0), (10, 2), (15, 3), (20, 6), (25, 10), (30, .nan), (35, .nan), (40, 20)] {
            try database.update(time: start + offset, reading: value)
        }
        func rows(_ function: ConsolidationFunction) -> [Float] {
            database.rows(of: ConsolidationFunction.allCases.firstIndex(of: function)!).values
        }
        #expect(rows(.average) == [3, 15])
        #expect(rows(.minimum) == [1, 10])
        #expect(rows(.maximum) == [6, 20])
        #expect(rows(.last) == [6, 20])
        // Three unknown PDPs of four is over xff: unknown.
        for (offset, value) in [(45, Double.nan), (50, .nan), (55, .nan), (60, 1)] {
            try database.update(time: start + offset, reading: value)
        }
        #expect(rows(.average).last?.isNaN == true)
    }

    @Test func countersRateAndDeriveWithMinimumZeroDropsResets() throws {
        var counter = RoundRobinDatabase(
            step: 5, kind: .derive, heartbeat: 10, minimum: 0,
            archives: [ArchiveDefinition(.average, stepsPerRow: 1, rows: 3)], start: start)
        for (offset, value) in [(5, 100.0), (10, 150), (15, 20), (20, 70)] {
            try counter.update(time: start + offset, reading: value)
        }
        let values = counter.rows(of: 0).values
        #expect(values[0] == 10)  // 50 in 5 s
        #expect(values[1].isNaN)  // reset: negative rate under the minimum
        #expect(values[2] == 10)
        var wrapping = RoundRobinDatabase(
            step: 5, kind: .counter, heartbeat: 10,
            archives: [ArchiveDefinition(.average, stepsPerRow: 1, rows: 1)], start: start)
        try wrapping.update(time: start + 5, reading: 4_294_967_290)
        try wrapping.update(time: start + 10, reading: 4)
        #expect(wrapping.rows(of: 0).values == [2])  // 10 across the 32-bit wrap in 5 s
    }

    @Test func standardTimescales() {
        let five = ArchiveDefinition.standard(step: 5)
        #expect(five.count == 16)
        #expect(Set(five.map(\.stepsPerRow)) == [1, 12, 720, 17280])
        #expect(five.filter { $0.stepsPerRow == 720 }.allSatisfy { $0.rows == 168 })
        let database = RoundRobinDatabase(step: 5, kind: .gauge, heartbeat: 10, archives: five, start: start)
        // Each timescale's four functions start on one ring, of one run of unknown rows: no
        // rows stored (3,096 bytes of plain float32 rings before issue 17).
        #expect(database.storageBytes == 0)
        #expect(database.rows(of: 12).values.count == 366 && database.rows(of: 12).values.allSatisfy(\.isNaN))
        #expect(
            RoundRobinDatabase(step: 1, kind: .gauge, heartbeat: 3, archives: ArchiveDefinition.standard(step: 1, tiers: 1), start: start).storageBytes == 0)
    }

    @Test func aTimescalesFunctionsShareARingUntilTheirRowsDiffer() throws {
        // Four rings for every timescale made 11 KB a statistic, however still it was (issue 17).
        let five = ArchiveDefinition.standard(step: 5)
        var still = RoundRobinDatabase(step: 5, kind: .gauge, heartbeat: 10, archives: five, start: start)
        var moving = still
        var reference = still
        for offset in 1...1440 {  // two hours: rows of the minute and the hour timescales complete
            try still.update(time: start + offset * 5, reading: 42)
            try moving.update(time: start + offset * 5, reading: Double(offset % 7))
        }
        // Still: a run of 42 in the finest ring, unknown rows then 42 in the minute and hour
        // rings (a run each beyond the first, 8 bytes), the day's all unknown.
        #expect(still.storageBytes == 8)
        // The moving one parts its minute and hour timescales, and keeps plain rings where its
        // rows differ one from the next (its finest, the minute's average and last): the
        // minute's minimum and maximum are a run each, the hour's rows are few.
        #expect(moving.storageBytes == 3 * 120 * 4 + 48)
        for archive in five.indices where five[archive].stepsPerRow == 12 {
            let values = moving.rows(of: archive).values.suffix(3)
            switch five[archive].function {
            case .average: #expect(values.allSatisfy { $0 > 2 && $0 < 4 }, "\(values)")
            case .minimum: #expect(values.allSatisfy { $0 == 0 }, "\(values)")
            case .maximum: #expect(values.allSatisfy { $0 == 6 }, "\(values)")
            case .last: #expect(values.count == 3)
            }
            #expect(still.rows(of: archive).values.suffix(3) == [42, 42, 42])
        }
        // Parting keeps what the shared ring held: rows written before a difference stay.
        for offset in 1...240 { try reference.update(time: start + offset * 5, reading: 42) }
        for offset in 241...252 { try reference.update(time: start + offset * 5, reading: Double(offset)) }
        let minute = try #require(five.indices.first { five[$0].stepsPerRow == 12 && five[$0].function == .maximum })
        let rows = Array(reference.rows(of: minute).values.suffix(4))
        #expect(rows.prefix(2) == [42, 42])
        #expect(rows.suffix(1).allSatisfy { $0 > 241 }, "\(rows)")
    }

    @Test func bytesOfAStatisticInAllFourTimescales() throws {
        // As the bench's plug-in statistics: step 1, 300 s, half still, half moving. Plain
        // rings of every function took 4,286 and 5,931 bytes of heap (mallinfo2, 4,000 of each).
        let full = ArchiveDefinition.standard(step: 1)
        var still = RoundRobinDatabase(step: 1, kind: .gauge, heartbeat: 3, archives: full, start: start - 1)
        var moving = still
        for second in 0..<300 {
            try still.update(time: start + second, reading: 42)
            try moving.update(time: start + second, reading: Double(second * 7 % 1000))
        }
        #expect(still.storageBytes == 8)  // the minute's unknown rows, then 42: one run
        #expect(still.memoryBytes <= 800, "\(still.memoryBytes)")
        #expect(moving.storageBytes == 480 + 4 * 5 * 8)  // the finest ring plain, five minute rows
        #expect(moving.memoryBytes <= 1_800, "\(moving.memoryBytes)")
    }

    @Test func fetchPicksTheFinestArchiveThatCoversTheStart() throws {
        var database = RoundRobinDatabase(
            step: 5, kind: .gauge, heartbeat: 10,
            archives: [
                ArchiveDefinition(.average, stepsPerRow: 1, rows: 10),
                ArchiveDefinition(.average, stepsPerRow: 6, rows: 10)
            ], start: start)
        for offset in stride(from: 5, through: 300, by: 5) { try database.update(time: start + offset, reading: Double(offset)) }
        let recent = database.fetch(.average, start: start + 260, end: start + 300)
        #expect(recent.step == 5 && recent.values == [265, 270, 275, 280, 285, 290, 295, 300])
        let older = database.fetch(.average, start: start + 100, end: start + 300)
        #expect(older.step == 30)
        // Rows end on multiples of 30 s in absolute time: the last whole one is (250, 280].
        let expected: Double = (255 + 260 + 265 + 270 + 275 + 280) / 6
        #expect(older.values.last == expected)
        #expect(database.fetch(.average, start: start + 260, end: start + 300, resolution: 30).step == 30)
        // A range far beyond the archive gives its rows, not billions of empty ones.
        let huge = database.fetch(.average, start: -1_000_000_000_000, end: 1_000_000_000_000_000)
        #expect(huge.step == 30 && huge.values.count == 10 && huge.times.last == start + 280)  // the coarse archive, its rows only
    }
}

/// The same updates fed to the real rrdtool and to resmon's engine give the same rows.
@Suite struct RRDToolAgreementTests {
    static let rrdtool = "/usr/bin/rrdtool"

    /// Every RRA's rows of an rrdtool dump, in order.
    static func dumpedRows(_ xml: String) -> [[Double]] {
        xml.components(separatedBy: "<rra>").dropFirst().map { section in
            section.components(separatedBy: "<row><v>").dropFirst().map { cell in
                let text = cell.components(separatedBy: "</v>")[0].trimmingCharacters(in: .whitespaces)
                return text == "NaN" || text.hasSuffix("nan") ? .nan : Double(text) ?? .nan
            }
        }
    }

    /// `grouped`: each timescale's functions next to each other, as the standard layout has them,
    /// so that they share a ring and part (a gauge holds still for its first 60 readings).
    @Test(arguments: [DataSourceKind.gauge, .derive, .counter, .absolute], [false, true])
    func agreesWithRRDTool(_ kind: DataSourceKind, grouped: Bool) throws {
        let directory = TemporaryDirectory("resmon-rrd")
        let file = directory.file("x.rrd")
        let start = 1_700_000_000
        let archives =
            grouped
            ? [(1, 40), (3, 20), (12, 8)].flatMap { stepsPerRow, rows in
                ConsolidationFunction.allCases.map { ArchiveDefinition($0, stepsPerRow: stepsPerRow, rows: rows) }
            }
            : ConsolidationFunction.allCases.flatMap { function in
                [ArchiveDefinition(function, stepsPerRow: 1, rows: 40), ArchiveDefinition(function, stepsPerRow: 3, rows: 20)]
            }
        let minimum = kind == .derive ? 0.0 : Double.nan
        var database = RoundRobinDatabase(step: 5, kind: kind, heartbeat: 12, minimum: minimum, archives: archives, start: start)
        let create = try Products.run(
            RRDToolAgreementTests.rrdtool,
            [
                "create", file, "--start", "\(start)", "--step", "5",
                "DS:v:\(kind.rawValue):12:\(minimum.isNaN ? "U" : "0"):U"
            ] + archives.map { "RRA:\($0.function.rawValue):0.5:\($0.stepsPerRow):\($0.rows)" })
        #expect(create.status == 0, "\(create.error)")

        var generator = SplitMix(seed: UInt64(kind.rawValue.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) }))
        var time = start
        var total = 1000.0
        var updates: [String] = []
        for count in 0..<150 {
            time += Int(generator.next() % 9) + 1  // irregular, sometimes past the heartbeat
            if generator.next() % 20 == 0 { time += 13 }
            let unknown = generator.next() % 10 == 0
            total += Double(generator.next() % 500)
            if kind == .derive && generator.next() % 25 == 0 { total = Double(generator.next() % 100) }  // a reset
            // rrdtool takes whole numbers for counters and derives.
            let reading =
                unknown
                ? Double.nan
                : (kind == .gauge
                    ? (grouped && count < 60 ? 25.5 : Double(generator.next() % 1000) / 10)
                    : kind == .absolute ? Double(generator.next() % 1000) : total)
            try database.update(time: time, reading: reading)
            updates.append("\(time):" + (reading.isNaN ? "U" : kind == .gauge ? "\(reading)" : "\(Int(reading))"))
        }
        for chunk in stride(from: 0, to: updates.count, by: 50) {
            let update = try Products.run(RRDToolAgreementTests.rrdtool, ["update", file] + updates[chunk..<min(chunk + 50, updates.count)])
            #expect(update.status == 0, "\(update.error)")
        }
        let dump = try Products.run(RRDToolAgreementTests.rrdtool, ["dump", file])
        let theirs = RRDToolAgreementTests.dumpedRows(dump.output)
        #expect(theirs.count == archives.count)
        for (index, rows) in theirs.enumerated() {
            let ours = database.rows(of: index).values.map(Double.init)
            #expect(ours.count == rows.count)
            for (mine, their) in zip(ours, rows) {
                let agree = (mine.isNaN && their.isNaN) || abs(mine - their) <= max(1e-5, abs(their) * 1e-6)
                #expect(agree, "\(archives[index]) row: resmon \(mine), rrdtool \(their)")
            }
        }
    }
}

/// A small deterministic generator, so a failing case can be replayed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct SnapshotTests {
    @Test func aSnapshotRoundTripsWhateverItsChecksum() throws {
        // Checksums take every 64-bit value; several stores make some large enough to have
        // the top bit set, which an integer field with a range check once refused.
        for seed in 0..<8 {
            let store = HistoryStore(settings: .init(step: 5))
            var database = RoundRobinDatabase(step: 5, kind: .gauge, heartbeat: 15, archives: ArchiveDefinition.standard(step: 5), start: 1_700_000_000)
            for offset in 1...30 { try database.update(time: 1_700_000_000 + offset * 5, reading: Double(offset * (seed + 1))) }
            store.replace(with: ["test:x:y": database])
            let copy = HistoryStore(settings: .init(step: 5))
            #expect(try copy.restore(store.snapshot()) == 1)
            for archive in [0, 4, 8] {  // bit patterns, so that NaN rows compare equal
                #expect(copy.database("test:x:y")?.rows(of: archive).values.map(\.bitPattern) == database.rows(of: archive).values.map(\.bitPattern))
            }
        }
    }

    static func store(statistics: Int) -> (HistoryStore, [String: RoundRobinDatabase]) {
        let store = HistoryStore(settings: .init(step: 5))
        var databases: [String: RoundRobinDatabase] = [:]
        for index in 0..<statistics {
            databases["test:x\(index):y"] = RoundRobinDatabase(
                step: 5, kind: .derive, heartbeat: 15, minimum: 0,
                archives: ArchiveDefinition.standard(step: 5, tiers: [1, 2, 4][index % 3]), start: 1_700_000_000)
        }
        store.replace(with: databases)
        return (store, databases)
    }

    @Test func aSnapshotIsWrittenInPiecesNotBuiltWhole() throws {
        // Built whole, the image took the store's size again at every minute's snapshot.
        let (store, databases) = Self.store(statistics: 1500)
        var pieces: [Int] = []
        var image: [UInt8] = []
        store.encodeSnapshot { (piece: [UInt8]) in
            pieces.append(piece.count)
            image += piece
        }
        let largest = try #require(databases.values.map(\.encodedSize).max())
        #expect(pieces.count > 3)
        #expect(pieces.allSatisfy { $0 < HistoryStore.pieceBytes + largest + 64 }, "\(pieces)")
        #expect(image == store.snapshot())
        let copy = HistoryStore(settings: .init(step: 5))
        #expect(try copy.restore(image) == 1500)
        for database in databases.values {
            var writer = ByteWriter()
            database.encode(into: &writer)
            #expect(writer.bytes.count == database.encodedSize)
        }
    }

    @Test func theChecksumOfPiecesIsTheChecksumOfTheWhole() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let whole = HistoryStore.checksum(bytes.span)
        for cuts in [[0], [1], [7, 8, 9], [3, 500, 501, 999], Array(stride(from: 0, to: 1000, by: 13))] {
            var checksum = StreamingChecksum()
            var start = 0
            for cut in cuts + [1000] {
                checksum.add(Array(bytes[start..<cut]))
                start = cut
            }
            #expect(checksum.value == whole, "cuts \(cuts)")
        }
    }

    @Test func aVersionOneSnapshotIsStillRead() throws {
        // Written before issue 17: magic, version 1, checksum, payload (as version 2's). An
        // upgrade keeps history.
        let current = try OldSnapshotTests.versionTwo()
        let payload = Array(current[16..<(current.count - 8)])
        var old = HistoryStore.magic
        old.appendLittleEndian(UInt64(1))
        old.appendLittleEndian(HistoryStore.checksum(payload.span))
        old += payload
        #expect(try HistoryStore(settings: .init(step: 5)).restore(old) == 4)
        old[old.count - 1] ^= 1
        #expect(throws: SnapshotError.self) { try HistoryStore(settings: .init(step: 5)).restore(old) }
    }

    @Test func damageIsDetected() throws {
        let store = HistoryStore(settings: .init(step: 5))
        var database = RoundRobinDatabase(step: 5, kind: .gauge, heartbeat: 15, archives: ArchiveDefinition.standard(step: 5, tiers: 1), start: 1_700_000_000)
        try database.update(time: 1_700_000_005, reading: 1)
        store.replace(with: ["test:x:y": database])
        var bytes = store.snapshot()
        bytes[bytes.count - 3] ^= 0x40
        #expect(throws: SnapshotError.self) { try HistoryStore(settings: .init(step: 5)).restore(bytes) }
        #expect(throws: SnapshotError.self) { try HistoryStore(settings: .init(step: 5)).restore(Array(bytes.prefix(20))) }
        #expect(throws: SnapshotError.self) { try HistoryStore(settings: .init(step: 5)).restore(Array("garbage".utf8)) }
    }
}

@Suite struct HistoryStoreTests {
    @Test func archivesByClassAndCountersAsRates() throws {
        let table = SampleTable()
        let gauge = table.register(StatisticDescriptor(key: StatisticKey(parsing: "memory:host:used_bytes")!, kind: .gauge, unit: "bytes", help: ""))
        let counter = table.register(StatisticDescriptor(key: StatisticKey(parsing: "net:eth0:receive_bytes_total")!, kind: .counter, unit: "bytes", help: ""))
        let process = table.register(StatisticDescriptor(key: StatisticKey(parsing: "process:42:rss_bytes")!, kind: .gauge, unit: "bytes", help: ""))
        let family = SourceFamily(name: "node_load1", type: .gauge, help: "1m load average.")
        let plugin = table.register(
            StatisticDescriptor(
                key: StatisticKey(parsing: "node:_:node_load1")!, kind: .gauge, unit: "",
                help: family.help, family: family))
        let store = HistoryStore(settings: .init(step: 5))
        var asked = 0
        for (index, time) in stride(from: 1_800_000_005.0, through: 1_800_000_030, by: 5).enumerated() {
            var batch = SampleBatch()
            batch.record(gauge, 100)
            batch.record(counter, Double(index) * 50)  // 10 bytes/s
            batch.record(process, 7)
            batch.record(plugin, 0.5)
            table.apply(batch, time: time, monotonicTime: time)
            store.record(table) {
                asked += 1; return [:]
            }
        }
        #expect(asked == 1)  // periods are asked once, when statistics first appear
        #expect(store.database("memory:host:used_bytes")?.archives.count == 16)
        #expect(store.database("process:42:rss_bytes")?.archives.count == 4)  // the finest timescale only
        #expect(store.database("node:_:node_load1")?.archives.count == 4)  // a plug-in's too, unless configured
        #expect(store.database("node:_:node_load1")?.storageBytes == 8)  // unknown rows, then a run of 0.5
        let configured = HistoryStore(settings: .init(step: 5, pluginTiers: 4))
        configured.record(table) { [:] }
        #expect(configured.database("node:_:node_load1")?.archives.count == 16)
        let rates = try #require(store.database("net:eth0:receive_bytes_total")).rows(of: 0).values.suffix(4)
        #expect(rates.allSatisfy { $0 == 10 })
        #expect(store.database("net:eth0:receive_bytes_total")?.kind == .derive)
    }
}
