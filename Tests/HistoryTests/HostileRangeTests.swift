import Testing

@testable import History

/// Times from outside at the edges of `Int` (issue 22, D1): a fetch or an xport answers the
/// archive's own rows, or none, and never overflows.
@Suite struct HostileRangeTests {
    let start = 1_700_000_000

    func database() throws -> RoundRobinDatabase {
        var database = RoundRobinDatabase(
            step: 5, kind: .gauge, heartbeat: 10,
            archives: [ArchiveDefinition(.average, stepsPerRow: 1, rows: 10), ArchiveDefinition(.average, stepsPerRow: 6, rows: 10)],
            start: start)
        for offset in stride(from: 5, through: 300, by: 5) { try database.update(time: start + offset, reading: Double(offset)) }
        return database
    }

    @Test(arguments: [
        (Int.max - 1, Int.max), (Int.min, Int.max), (Int.min, Int.min), (Int.max, Int.min), (-1, Int.max), (Int.min, 0)
    ])
    func fetchAtTheEdgesOfIntAnswersTheArchivesRowsOrNone(range: (start: Int, end: Int)) throws {
        let database = try database()
        let series = database.fetch(.average, start: range.start, end: range.end)
        #expect(series.times.count == series.values.count)
        #expect(series.times.allSatisfy { $0 > range.start && $0 <= range.end })
        #expect(series.times.count <= 10)
    }

    @Test func aStartBeforeTheArchiveStillAnswersEveryRow() throws {
        let database = try database()
        let everything = database.fetch(.average, start: Int.min, end: Int.max)
        #expect(everything.times == database.fetch(.average, start: 0, end: start + 1_000).times)
        #expect(everything.step == 30 && everything.times.last == start + 280)  // the coarsest archive: none reaches back that far
        #expect(database.value(0, endingAt: Int.min).isNaN)
        #expect(database.value(0, endingAt: Int.max).isNaN)
    }

    @Test(arguments: [Int.max, Int.min, Int.max - 1, Int.min + 1])
    func anXportFromAFarStartIsNotAnOverflow(start requested: Int) throws {
        let database = try database()
        let table = try #require(
            RRDUpdates.table([.init(objectType: "host", uuid: "u", name: "x", database: database)], start: requested, interval: 5, function: .average))
        #expect(table.rows.count <= 10)
        #expect(table.rows.allSatisfy { $0.values.count == 1 })
    }
}
