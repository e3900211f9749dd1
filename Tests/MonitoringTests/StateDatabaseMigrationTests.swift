import Events
import ResmonAPI
import ResmonTestSupport
import Statistics
import Storage
import Testing

@testable import Monitoring

/// The state database's schema now lives with its owners (EventStore, MonitorStore, SinkRunner),
/// but a database written by an earlier resmond must open and keep its monitors: migrations
/// run by position, so the statements of every released version must stay as they were.
@Suite struct StateDatabaseMigrationTests {
    /// The migrations as resmond released them, copied here on purpose: the list the code
    /// composes must start with exactly these.
    static let released: [[String]] = [
        [
            """
            CREATE TABLE events (
                id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, code INTEGER NOT NULL, type TEXT NOT NULL,
                severity INTEGER NOT NULL, monitor_id TEXT, monitor_name TEXT, key TEXT, value REAL, threshold REAL,
                host TEXT NOT NULL, message TEXT NOT NULL, cancels INTEGER, labels TEXT NOT NULL, annotations TEXT NOT NULL)
            """,
            "CREATE INDEX events_monitor ON events(monitor_id, id)",
            "CREATE TABLE monitors (id TEXT PRIMARY KEY, spec TEXT NOT NULL, owner INTEGER NOT NULL, created REAL NOT NULL)",
            "CREATE TABLE monitor_state (id TEXT PRIMARY KEY REFERENCES monitors(id) ON DELETE CASCADE, state TEXT NOT NULL)"
        ],
        [
            "CREATE TABLE sink_cursors (name TEXT PRIMARY KEY, after INTEGER NOT NULL)",
            "CREATE TABLE sink_alerts (sink TEXT NOT NULL, monitor_id TEXT NOT NULL, alert TEXT NOT NULL, PRIMARY KEY (sink, monitor_id))"
        ],
        [
            "CREATE TABLE instance_state (id TEXT PRIMARY KEY, template TEXT NOT NULL REFERENCES monitors(id) ON DELETE CASCADE, state TEXT NOT NULL)"
        ]
    ]

    /// An event as a resmond of the released schema wrote it (today's append writes an owner too).
    static func insertReleasedEvent(monitor: String, time: Double, in database: Database) throws {
        try database.execute(
            """
            INSERT INTO events (time, code, type, severity, monitor_id, monitor_name, key, value, threshold, host, message,
                                cancels, labels, annotations) VALUES (?, ?, 'above', 4, ?, NULL, 'app:test:level', 60, 50, 'old',
                                'app:test:level is 60, above 50', NULL, '{}', '{}')
            """, [.real(time), .integer(Int64(EventType.Kind.above.code)), .text(monitor)])
    }

    @Test func theReleasedMigrationsComeFirstUnchanged() {
        #expect(Array(MonitorStore.migrations.prefix(StateDatabaseMigrationTests.released.count)) == StateDatabaseMigrationTests.released)
    }

    /// A database from before instance state (schema version 2), holding a raised monitor and
    /// its raise event, opens with the current migrations: the monitor comes back raised, the
    /// log reads, and the new table is there.
    @Test func aVersionTwoDatabaseOpensWithItsMonitorsAndEvents() throws {
        let directory = TemporaryDirectory("resmon-migration")
        let path = directory.file("state.db")
        do {
            let old = try Database(path: path)
            try old.migrate(Array(StateDatabaseMigrationTests.released.prefix(2)))
            try old.execute(
                "INSERT INTO monitors (id, spec, owner, created) VALUES (?,?,?,?)",
                [
                    .text("m"), .text(#"{"id":"m","target":"app:test:level","condition":"above","value":50}"#),
                    .integer(0), .real(1_800_000_000)
                ])
            try old.execute(
                "INSERT INTO monitor_state (id, state) VALUES (?, ?)",
                [
                    .text("m"),
                    .text(
                        #"{"phase":"raised","count":1,"running":true,"paused":false,"notified":true,"loggedRaised":true,"raisedAt":1800000001,"lastRaiseEvent":1}"#
                    )
                ])
            try StateDatabaseMigrationTests.insertReleasedEvent(monitor: "m", time: 1_800_000_001, in: old)
        }
        let table = SampleTable()
        _ = table.register(
            StatisticDescriptor(
                key: StatisticKey(parsing: "app:test:level")!, kind: .gauge, unit: "",
                upperBound: nil, help: "test"))
        let database = try StateDatabase(path: path, migrations: MonitorStore.migrations)
        let engine = MonitorEngine(database: database, table: table, step: 1, host: "test")
        try engine.load()
        let monitor = try #require(engine.monitor("m"))
        #expect(monitor.state.phase == "raised")
        #expect(monitor.spec.value == 50)
        let events = try engine.eventStore.events(after: 0, limit: 10)
        #expect(events.map(\.id) == [1])
        #expect(events.first?.message == "app:test:level is 60, above 50")
        let tables = try database.withDatabase { try $0.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'instance_state'") }
        #expect(tables.count == 1)
        // Deleting the raised monitor cancels the old raise: the state carried its event id.
        try engine.delete("m", caller: 0)
        let cancel = try #require(try engine.eventStore.events(after: 1, limit: 10).first)
        #expect(cancel.type == "canceled")
        #expect(cancel.cancels == 1)
    }
}
