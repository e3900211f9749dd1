import Foundation
import Testing

@testable import History

/// Snapshots written by earlier versions still load: an upgrade keeps its history. The fixture
/// `history-v2.snapshot` was written by the version 2 writer (every ring plain, parted rings
/// appended at the end), before issue 17's compact rows.
@Suite struct OldSnapshotTests {
    static let start = 1_700_000_000
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    static func versionTwo() throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: fixtures + "/history-v2.snapshot")))
    }

    /// The databases of the fixture, made again by the same updates: a still gauge and a moving
    /// one over two hours (the moving one's minute and hour timescales parted), a counter with
    /// the finest timescale only, a database with two timescales and no update.
    static func databases() -> [String: RoundRobinDatabase] {
        let full = ArchiveDefinition.standard(step: 5)
        var still = RoundRobinDatabase(step: 5, kind: .gauge, heartbeat: 15, archives: full, start: start)
        var moving = still
        var counter = RoundRobinDatabase(
            step: 5, kind: .derive, heartbeat: 15, minimum: 0, archives: ArchiveDefinition.standard(step: 5, tiers: 1), start: start)
        for offset in 1...1500 {
            try? still.update(time: start + offset * 5, reading: 42)
            try? moving.update(time: start + offset * 5 + offset % 3, reading: offset % 50 == 0 ? .nan : Double(offset % 7) * 1.5)
            try? counter.update(time: start + offset * 5, reading: Double(offset * offset))
        }
        let fresh = RoundRobinDatabase(
            step: 5, kind: .gauge, heartbeat: 15, archives: ArchiveDefinition.standard(step: 5, tiers: 2), start: start + 3)
        return ["test:still:value": still, "test:moving:value": moving, "test:counter:value": counter, "test:fresh:value": fresh]
    }

    /// Everything a database exports: every archive's rows (as bit patterns, so that NaN rows
    /// compare), its consolidations in progress, its PDP in progress, its rrdtool dump.
    static func expectSame(_ restored: RoundRobinDatabase?, _ expected: RoundRobinDatabase, _ key: String) throws {
        let restored = try #require(restored, "\(key)")
        #expect(restored.archives == expected.archives && restored.kind == expected.kind, "\(key)")
        #expect(restored.lastUpdate == expected.lastUpdate && restored.lastReading.bitPattern == expected.lastReading.bitPattern, "\(key)")
        #expect(restored.pendingPDP.value.bitPattern == expected.pendingPDP.value.bitPattern, "\(key)")
        for archive in expected.archives.indices {
            #expect(restored.rows(of: archive).values.map(\.bitPattern) == expected.rows(of: archive).values.map(\.bitPattern), "\(key) \(archive)")
            let (mine, theirs) = (restored.pendingConsolidation(archive), expected.pendingConsolidation(archive))
            #expect(
                [mine.value, mine.primary, mine.secondary].map(\.bitPattern) == [theirs.value, theirs.primary, theirs.secondary].map(\.bitPattern)
                    && mine.unknownPDPs == theirs.unknownPDPs, "\(key) \(archive)")
        }
        #expect(RRDToolXML.dump(restored) == RRDToolXML.dump(expected), "\(key)")
    }

    @Test func aVersionTwoSnapshotLoadsAsTheSameDatabases() throws {
        let old = try Self.versionTwo()
        #expect(old[8] == 2)  // the version, little-endian
        let store = HistoryStore(settings: .init(step: 5))
        #expect(try store.restore(old) == 4)
        for (key, expected) in Self.databases() { try Self.expectSame(store.database(key), expected, key) }
        // Updated after the load as the database that never left memory.
        var restored = try #require(store.database("test:moving:value"))
        var kept = try #require(Self.databases()["test:moving:value"])
        for offset in 1501...2300 {
            try restored.update(time: Self.start + offset * 5, reading: Double(offset % 11))
            try kept.update(time: Self.start + offset * 5, reading: Double(offset % 11))
        }
        try Self.expectSame(restored, kept, "moving, updated")
    }

    @Test func versionThreeRoundTripsAndIsSmaller() throws {
        let store = HistoryStore(settings: .init(step: 5))
        store.replace(with: Self.databases())
        let image = store.snapshot()
        #expect(image[8] == 3)
        let copy = HistoryStore(settings: .init(step: 5))
        #expect(try copy.restore(image) == 4)
        for (key, expected) in Self.databases() { try Self.expectSame(copy.database(key), expected, key) }
        #expect(image.count * 2 < (try Self.versionTwo()).count, "\(image.count)")
        // A layout of its own (not the standard timescales): written archive by archive.
        let archives =
            ConsolidationFunction.allCases.flatMap { function in
                [ArchiveDefinition(function, stepsPerRow: 1, rows: 40), ArchiveDefinition(function, stepsPerRow: 3, rows: 20, xff: 0.25)]
            } + ConsolidationFunction.allCases.map { ArchiveDefinition($0, stepsPerRow: 6, rows: 7) }
        var custom = RoundRobinDatabase(step: 5, kind: .counter, heartbeat: 12, archives: archives, start: Self.start)
        for offset in 1...200 { try custom.update(time: Self.start + offset * 5, reading: Double(offset * offset % 97 + offset * 10)) }
        store.replace(with: ["test:custom:value": custom])
        #expect(try copy.restore(store.snapshot()) == 1)
        try Self.expectSame(copy.database("test:custom:value"), custom, "custom")
    }

    @Test func ringsWhoseRunsDoNotMakeTheirRowsAreRefused() throws {
        let database = RoundRobinDatabase(
            step: 5, kind: .gauge, heartbeat: 15, archives: [ArchiveDefinition(.average, stepsPerRow: 1, rows: 4)], start: Self.start)
        var writer = ByteWriter()
        database.encode(into: &writer)
        var reader = ByteReader(writer.bytes)
        #expect(try RoundRobinDatabase(decoding: &reader, version: 3).rows(of: 0).values.count == 4)
        // The ring comes last: one run, its value then its length (4), as 32-bit words.
        for length: UInt8 in [5, 3, 0] {
            var bytes = writer.bytes
            bytes[bytes.count - 4] = length
            var damaged = ByteReader(bytes)
            #expect(throws: SnapshotError.self) { try RoundRobinDatabase(decoding: &damaged, version: 3) }
        }
        #expect(ArchiveRows(count: 4, .runs([0, 2, 0, 3])) == nil)
        #expect(ArchiveRows(count: 4, .plain([1, 2, 3])) == nil)
    }
}

/// Rows held as runs or plain behave as a plain ring of float32 would.
@Suite struct ArchiveRowsTests {
    @Test(arguments: [1, 2, 3, 8, 120])
    func agreeWithAPlainRing(_ count: Int) {
        var generator = SplitMix(seed: UInt64(count))
        var rows = ArchiveRows(count: count, filledWith: .nan)
        var reference = [Float](repeating: .nan, count: count)
        for step in 0..<3000 {
            // Phases: still, moving, still again, with gaps of several rows at once.
            let phase = (step / 400) % 3
            let value: Float = phase == 1 ? Float(generator.next() % 5) : phase == 0 ? 7 : (generator.next() % 50 == 0 ? .nan : 3)
            let times = generator.next() % 10 == 0 ? Int(generator.next() % UInt64(2 * count + 2)) : 1
            rows.append(value, times: times)
            for _ in 0..<min(times, count) {
                reference.removeFirst()
                reference.append(value)
            }
            #expect(rows.values.map(\.bitPattern) == reference.map(\.bitPattern), "step \(step)")
            let back = Int(generator.next() % UInt64(count))
            #expect(rows.value(back: back).bitPattern == reference[count - 1 - back].bitPattern)
            guard rows.values.map(\.bitPattern) == reference.map(\.bitPattern) else { return }
            #expect(ArchiveRows(count: count, rows.encoded).map { $0.values.map(\.bitPattern) } == reference.map(\.bitPattern))
        }
    }

    @Test func aStillRingStoresNothingAndAMovingOneItsRows() {
        var rows = ArchiveRows(count: 120, filledWith: .nan)
        #expect(rows.storageBytes == 0 && rows.heapBytes == 0)
        rows.append(42, times: 1)
        #expect(rows.storageBytes == 8)  // a run of 42 after the unknown rows
        rows.append(42, times: 200)
        #expect(rows.storageBytes == 0 && rows.heapBytes == 0)
        for value in 0..<120 { rows.append(Float(value), times: 1) }
        #expect(rows.storageBytes == 480)  // plain: 120 float32
        rows.append(1, times: 119)
        #expect(rows.storageBytes == 480)
        rows.append(1, times: 1)  // every row the same again: one run
        #expect(rows.storageBytes == 0 && rows.values == [Float](repeating: 1, count: 120))
    }
}
