import History
import Testing

@testable import Server

/// Issue 15: a backtest reads every archive where it is the finest that has rows, so a 6 h
/// replay of hourly rows does not leave out the hour not yet consolidated, and no instant is
/// lost where two archives meet.
@Suite struct BacktestStitchTests {
    /// A 5 s gauge at 10 for `seconds`, with 90 during `spike` (seconds after the start).
    func database(seconds: Int, spike: Range<Int>) throws -> (RoundRobinDatabase, start: Int) {
        let start = 1_800_000_000 - 1_800_000_000 % 86400
        var database = RoundRobinDatabase(step: 5, kind: .gauge, heartbeat: 20, archives: ArchiveDefinition.standard(step: 5), start: start)
        for offset in stride(from: 5, through: seconds, by: 5) {
            try database.update(time: start + offset, reading: spike.contains(offset) ? 90 : 10)
        }
        return (database, start)
    }

    @Test func aSpikeInTheHourNotYetConsolidatedIsReplayed() throws {
        // 2 h 40 min of readings, a 60 s spike 10 min ago: the hourly archive has two rows,
        // neither holding it; the minute archive does.
        let (database, start) = try database(seconds: 9600, spike: 9000..<9060)
        let end = start + 9600
        let row = HistoryRoutes.finestRow(database, .maximum, start: end - 6 * 3600, end: end, atLeast: 1)
        #expect(row == 5)
        let stitched = HistoryRoutes.stitch(database, .maximum, start: end - 6 * 3600, end: end, row: row)
        #expect(stitched.archives == [3600, 60, 5])
        #expect(stitched.values.contains(90), "the spike is in the replay")
        // Even, increasing, and no reading twice.
        #expect(zip(stitched.times, stitched.times.dropFirst()).allSatisfy { $1 - $0 == 5 })
        let first = try #require(stitched.times.first)
        #expect(first == start + 5, "the hourly rows reach back to the first reading")
        #expect(stitched.times.last == end)
    }

    @Test func aSpikeAtTheSeamOfTwoArchivesIsKeptWhole() throws {
        // The finest archive holds the last 10 minutes; put the spike across its oldest row.
        let (database, start) = try database(seconds: 3000, spike: 2395..<2415)
        let end = start + 3000
        let stitched = HistoryRoutes.stitch(database, .maximum, start: end - 3600, end: end, row: 5)
        let spiked = zip(stitched.times, stitched.values).filter { $0.1 == 90 }.map(\.0)
        let firstSpiked = try #require(spiked.first)
        let lastSpiked = try #require(spiked.last)
        #expect(firstSpiked <= start + 2395 && lastSpiked >= start + 2410, "every reading of the spike is covered: \(spiked)")
        #expect(zip(stitched.times, stitched.times.dropFirst()).allSatisfy { $1 - $0 == 5 })
    }

    @Test func theReadingsStayWithinTheBudget() throws {
        let (database, start) = try database(seconds: 9600, spike: 0..<0)
        let end = start + 9600
        // A budget of 60 s a reading leaves the 5 s archive out.
        let row = HistoryRoutes.finestRow(database, .average, start: start, end: end, atLeast: 60)
        #expect(row == 60)
        let stitched = HistoryRoutes.stitch(database, .average, start: start, end: end, row: row)
        #expect(stitched.archives == [3600, 60])
        #expect(stitched.times.count <= (end - start) / 60)
    }
}
