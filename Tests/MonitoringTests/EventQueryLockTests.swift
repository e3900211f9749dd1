import Events
import Foundation
import Monitoring
import ResmonAPI
import ResmonTestSupport
import Storage
import Synchronization
import Testing

/// Issue 22, D2: an event filter held the state database for 52.7 s, and the sampler, which
/// commits its cycle there, ran 3 cycles in 62 s. RE2 makes each match linear, but a filter that
/// matches nothing still reads the whole log (up to `events.retentionCount`, 1,000,000): 200,000
/// events took 6 s in a debug build, all of it under the database's lock.
@Suite struct EventQueryLockTests {
    @Test func aFilterOverAWholeLogLetsWritersInBetweenPages() throws {
        let directory = TemporaryDirectory("resmon-event-scan")
        let database = try StateDatabase(path: directory.file("state.db"), migrations: MonitorStore.migrations)
        let event = EventRecord(
            id: 0, time: 1_800_000_000, code: 1, type: "above", severity: "warning", monitorId: "m", monitorName: "m",
            key: "cpu:total:usage_ratio", value: 1, threshold: 0.5, host: "h", message: "cpu:total:usage_ratio above 0.5 on h",
            cancels: nil, labels: ["a": "b"], annotations: ["c": "d"])
        try database.withDatabase { database in
            try database.execute("CREATE TABLE writes (n INTEGER)")
            try database.transaction { _ = try EventStore.append(Array(repeating: event, count: 50_000), owner: 0, in: database) }
        }
        let store = EventStore(database: database)
        let filter = try EventFilter(#"message ~ "(?i)nothing (.*) like this""#)

        // A writer (the sampler's commit, say) writes while the query pages through 50 pages of
        // the log; it waits for the query's page at most, never for the whole scan.
        let scanning = Atomic(true)
        let writesDuringScan = Atomic(0)
        let writer = Thread {
            while scanning.load(ordering: .acquiring) {
                _ = try? database.withDatabase { try $0.execute("INSERT INTO writes VALUES (1)") }
                if scanning.load(ordering: .acquiring) { writesDuringScan.add(1, ordering: .relaxed) }
            }
        }
        writer.start()
        let found = try store.query(limit: 10, filter: filter)
        scanning.store(false, ordering: .releasing)
        #expect(found.isEmpty)
        #expect(writesDuringScan.load(ordering: .relaxed) >= 20, "the scan held the database: \(writesDuringScan.load(ordering: .relaxed)) writes got in")
        // The writer ends with the scan.
        #expect(eventually(timeout: 30) { writer.isFinished })
    }
}
