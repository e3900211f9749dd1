import Events
import Foundation
import Monitoring
import ResmonAPI
import ResmonTestSupport
import Storage
import Testing

/// Issue 22 re-attack, item 3: a filter of costly patterns over a large log ran as long as the
/// log was long; and, in the second round, one page of costly matches took 14 s. A scan stops
/// at the event where its CPU budget is spent and says where.
@Suite struct EventScanBudgetTests {
    @Test func aScanPastItsBudgetStopsAtTheEventAndNamesWhereToReadOn() throws {
        let directory = TemporaryDirectory("resmon-event-budget")
        let database = try StateDatabase(path: directory.file("state.db"), migrations: MonitorStore.migrations)
        let event = EventRecord(
            id: 0, time: 1_800_000_000, code: 1, type: "above", severity: "warning", monitorId: "m", monitorName: "m",
            key: "cpu:total:usage_ratio", value: 1, threshold: 0.5, host: "h", message: "cpu:total:usage_ratio above 0.5 on h",
            cancels: nil, labels: [:], annotations: [:])
        try database.withDatabase { database in
            try database.transaction { _ = try EventStore.append(Array(repeating: event, count: 3500), owner: 0, in: database) }
        }
        let store = EventStore(database: database)
        let filter = try EventFilter(#"message ~ "nothing like this""#)

        let cut = try store.scan(limit: 10, filter: filter, budget: 0)
        #expect(cut.events.isEmpty)
        #expect(cut.cutAfter == 1 && cut.scanned == 1, "cut after \(String(describing: cut.cutAfter)), \(cut.scanned) read")
        let onward = try store.scan(after: try #require(cut.cutAfter), limit: 10, filter: filter, budget: 0)
        #expect(onward.cutAfter == 2)

        // Within its budget a scan reads to the end; a page that fills is never cut.
        let whole = try store.scan(limit: 10, filter: filter)
        #expect(whole.cutAfter == nil && whole.scanned == 3500)
        let filled = try store.scan(limit: 5, filter: nil, budget: 0)
        #expect(filled.cutAfter == nil && filled.events.count == 5)
    }
}
