import Events
import ResmonTestSupport
import Statistics
import Storage
import Testing

@testable import Monitoring

/// Issue 22: Alertmanager's firing alerts are kept per owner and monitor id. A database of the
/// version before (firing alerts by monitor id alone) gives each stored alert its owner: its
/// raise's while the log has it, else an application's `uid` label, its monitor's owner, its
/// template's owner, root.
@Suite struct SinkAlertOwnerMigrationTests {
    func alert(monitor: String, event: Int, labels: String = "") -> String {
        #"{"labels": {"monitor": "\#(monitor)"\#(labels)}, "annotations": {"event": "\#(event)"}, "startsAt": "2026-11-30T00:00:00.000000Z"}"#
    }

    @Test func storedFiringAlertsGetTheirOwners() throws {
        let directory = TemporaryDirectory("resmon-migration")
        let path = directory.file("state.db")
        do {
            let old = try Database(path: path)
            try old.migrate(Array(MonitorStore.migrations.prefix(5)))
            for (owner, monitor) in [(65534, "appx"), (1003, "forged")] {
                try old.execute(
                    """
                    INSERT INTO events (time, code, type, severity, monitor_id, monitor_name, key, value, threshold, host, message,
                                        cancels, labels, annotations, owner) VALUES (1, 501, 'above', 4, ?, NULL, NULL, NULL, NULL, 'h', 'm',
                                        NULL, '{}', '{}', ?)
                    """, [.text(monitor), .integer(Int64(owner))])
            }
            for (id, owner) in [("m", 1001), ("t", 1002)] {
                try old.execute(
                    "INSERT INTO monitors (id, spec, owner, created) VALUES (?, '{}', ?, 1)", [.text(id), .integer(Int64(owner))])
            }
            try old.execute("INSERT INTO instance_state (id, template, state) VALUES ('t.x', 't', '{}')")
            let application = #", "source": "application", "uid": "1000""#
            let rows = [
                ("appx", alert(monitor: "appx", event: 1, labels: #", "source": "application", "uid": "65534""#)),
                ("forged", alert(monitor: "forged", event: 2, labels: #", "source": "application", "uid": "0""#)),
                ("appy", alert(monitor: "appy", event: 99, labels: application)), ("m", alert(monitor: "m", event: 98)),
                ("t.x", alert(monitor: "t.x", event: 97)), ("zz", "not json")
            ]
            for (monitor, alert) in rows {
                try old.execute("INSERT INTO sink_alerts (sink, monitor_id, alert) VALUES ('am', ?, ?)", [.text(monitor), .text(alert)])
            }
        }
        let database = try StateDatabase(path: path, migrations: MonitorStore.migrations)
        let rows = try database.withDatabase { try $0.execute("SELECT owner, monitor_id FROM sink_alerts WHERE sink = 'am' ORDER BY monitor_id") }
        let owners = Dictionary(uniqueKeysWithValues: rows.compactMap { row in row[1].text.map { ($0, Int(row[0].integer ?? -1)) } })
        #expect(owners == ["appx": 65534, "forged": 1003, "appy": 1000, "m": 1001, "t.x": 1002, "zz": 0])
    }
}

/// A monitor stored before resmond refused the labels `uid` and `source` is loaded without them
/// (and rewritten), so its events name its real owner.
@Suite struct StoredServerLabelTests {
    @Test func aStoredMonitorsForgedLabelsAreDroppedAtLoad() throws {
        let directory = TemporaryDirectory("resmon-stored-labels")
        let database = try StateDatabase(path: directory.file("state.db"), migrations: MonitorStore.migrations)
        let spec = #"{"id":"dbcheck","target":"app:test:level","condition":"above","value":50,"labels":{"uid":"0","source":"application","team":"db"}}"#
        try database.withDatabase { database in
            try database.execute("INSERT INTO monitors (id, spec, owner, created) VALUES ('dbcheck', ?, 65534, 1)", [.text(spec)])
        }
        let table = SampleTable()
        _ = table.register(
            StatisticDescriptor(key: StatisticKey(parsing: "app:test:level")!, kind: .gauge, unit: "", upperBound: nil, help: "test"))
        let engine = MonitorEngine(database: database, table: table, step: 1, host: "test")
        let problems = try engine.load()
        #expect(problems.isEmpty, "\(problems)")
        #expect(engine.monitor("dbcheck")?.spec.labels == ["team": "db"])
        let stored = try database.withDatabase { try $0.execute("SELECT spec FROM monitors WHERE id = 'dbcheck'") }
        #expect(stored.first?[0].text?.contains("\"uid\"") == false, "rewritten without")
    }
}
