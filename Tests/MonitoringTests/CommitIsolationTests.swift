import Events
import Foundation
import ResmonAPI
import ResmonTestSupport
import Statistics
import Storage
import Testing

@testable import Monitoring

/// Issue 22, D3: one monitor whose state cannot be written must not roll back the others'
/// events; its own transition stays pending and is written once the write succeeds.
@Suite struct CommitIsolationTests {
    /// Makes every write of monitor `id`'s state fail, as a constraint would.
    static func poison(_ id: String, in rig: Rig) throws {
        try rig.database.withDatabase { database in
            try database.execute(
                "CREATE TRIGGER poison BEFORE INSERT ON monitor_state WHEN NEW.id = '\(id)' BEGIN SELECT RAISE(ABORT, 'poisoned'); END")
        }
    }

    @Test func aMonitorWhoseStateCannotBeWrittenDoesNotSilenceTheOthers() throws {
        let rig = try Rig()
        let reports = ResmonTestSupport.Mutex<[MonitorEngine.Report]>([])
        rig.engine = MonitorEngine(
            database: rig.database, table: rig.table, step: 1, host: "test",
            report: { report in reports.set(reports.get() + [report]) })
        try rig.create()
        try rig.create { $0.id = "bad" }
        try CommitIsolationTests.poison("bad", in: rig)
        rig.feed(90)
        #expect(rig.events.map(\.monitorId) == ["m"], "the healthy monitor's raise is logged")
        #expect(rig.phase == "raised")
        // The poisoned monitor's transition is kept pending: memory never runs ahead of the log.
        #expect(rig.engine.monitor("bad")?.state.phase != "raised")
        rig.feed(91)
        #expect(rig.events.map(\.monitorId) == ["m"])

        try rig.database.withDatabase { try $0.execute("DROP TRIGGER poison") }
        rig.feed(92)
        #expect(rig.events.map(\.monitorId) == ["m", "bad"], "retried and written once the write succeeds")
        #expect(rig.engine.monitor("bad")?.state.phase == "raised")
        rig.feed(1)
        let cancels = rig.events.filter { $0.type == "canceled" }
        #expect(cancels.count == 2)
        #expect(cancels.allSatisfy { cancel in rig.events.contains { $0.id == cancel.cancels && $0.monitorId == cancel.monitorId } })
        // Logged once when the monitor's write starts failing (with its id), once when it ends.
        let logged = reports.get().map { report -> String in
            switch report {
            case .problem(let message): "problem: " + message
            case .recovered(let message): "recovered: " + message
            }
        }
        #expect(logged.count == 2, "\(logged)")
        #expect(logged.first?.hasPrefix("problem: cannot write monitor bad") == true, "\(logged)")
        #expect(logged.last == "recovered: monitor bad is written to the state database again", "\(logged)")
    }

    @Test func aStoredMonitorWithServerOwnedFieldsLoadsWithoutBreakingTheOthers() throws {
        let rig = try Rig()
        try rig.create()
        // As a resmond before the fix stored it from a client's create.
        let poisoned = #"{"id":"poison","target":"app:test:level","condition":"above","value":5,"template":"nope"}"#
        try rig.database.withDatabase { database in
            try database.execute("INSERT INTO monitors (id, spec, owner, created) VALUES ('poison', ?, 1000, 1)", [.text(poisoned)])
        }
        try rig.restart()
        rig.feed(90)
        #expect(Set(rig.events.compactMap(\.monitorId)) == ["m", "poison"])
        #expect(rig.engine.monitor("poison")?.spec.template == nil)
        try rig.engine.delete("poison", caller: 0)
    }
}
