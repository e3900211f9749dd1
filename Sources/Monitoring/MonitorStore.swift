import Events
import FoundationEssentials
import ResmonAPI
import Statistics
import Storage

/// The monitors' table family in the state database: definitions (`monitors`), their saved
/// runtime state (`monitor_state`), template instances' state (`instance_state`), and the state
/// database's migrations. Only the engine calls it, under its own lock (the lock order: engine,
/// then database); writes that must commit with events take the caller's open transaction.
public struct MonitorStore: Sendable {
    static let schema = [
        "CREATE TABLE monitors (id TEXT PRIMARY KEY, spec TEXT NOT NULL, owner INTEGER NOT NULL, created REAL NOT NULL)",
        "CREATE TABLE monitor_state (id TEXT PRIMARY KEY REFERENCES monitors(id) ON DELETE CASCADE, state TEXT NOT NULL)"
    ]

    /// Template instances are not stored as monitors (their templates make them again), but
    /// their state is, so that a raised instance stays raised across a restart.
    static let instanceSchema = [
        "CREATE TABLE instance_state (id TEXT PRIMARY KEY, template TEXT NOT NULL REFERENCES monitors(id) ON DELETE CASCADE, state TEXT NOT NULL)"
    ]

    /// The state database's migrations, in order: events and monitors, sink cursors, instance
    /// state, the database's identity (`meta`, StateMarker), events' owners, firing alerts' owners. An existing database
    /// has run a prefix of them, counted by position in its `user_version`: append new ones,
    /// never change or reorder these.
    public static let migrations = [
        EventStore.schema + MonitorStore.schema, SinkRunner.schema, MonitorStore.instanceSchema, StateContinuity.schema,
        EventStore.ownerSchema, SinkRunner.ownerSchema
    ]

    /// What the state database's marker watches: event ids never go backwards, monitors never
    /// vanish unnoticed.
    public static func continuity(acceptLoss: Bool) -> StateContinuity {
        StateContinuity(sequence: "events", counted: "monitors", acceptLoss: acceptLoss)
    }

    /// A stored monitor as read back: its spec as given, who made it and when, its saved state.
    struct Stored {
        let id: String
        var spec: MonitorSpec
        let owner: Int
        let createdAt: Double
        var state: SavedState?
    }

    let database: StateDatabase

    init(database: StateDatabase) {
        self.database = database
    }

    // MARK: - Reading

    /// One stored monitor (nil: not there, unreadable, or the database failed).
    func stored(_ id: String) -> Stored? {
        let row = try? database.withDatabase { database in
            try database.execute("SELECT spec, owner, created FROM monitors WHERE id = ?", [.text(id)]).first
        }
        guard let row = row ?? nil, let text = row[0].text,
            let spec = try? JSONDecoder().decode(MonitorSpec.self, from: Data(text.utf8))
        else { return nil }
        return Stored(id: id, spec: spec, owner: Int(row[1].integer ?? 0), createdAt: row[2].real ?? 0)
    }

    /// Every stored monitor with its saved state, oldest first (the order they were created
    /// in, so that what a monitor depends on is placed before it); unreadable rows are skipped.
    func all() throws -> [Stored] {
        let rows = try database.withDatabase { database in
            try database.execute("SELECT m.id, m.spec, m.owner, m.created, s.state FROM monitors m LEFT JOIN monitor_state s ON s.id = m.id ORDER BY m.created")
        }
        let decoder = JSONDecoder()
        return rows.compactMap { row in
            guard let id = row[0].text, let specText = row[1].text,
                let spec = try? decoder.decode(MonitorSpec.self, from: Data(specText.utf8))
            else { return nil }
            let state = row[4].text.flatMap { try? decoder.decode(SavedState.self, from: Data($0.utf8)) }
            return Stored(id: id, spec: spec, owner: Int(row[2].integer ?? 0), createdAt: row[3].real ?? 0, state: state)
        }
    }

    /// Every stored monitor's spec by id, in one query rather than one read-back each.
    func specs() throws -> [String: Stored] {
        let decoder = JSONDecoder()
        let rows = try database.withDatabase { try $0.execute("SELECT id, spec, owner, created FROM monitors") }
        return Dictionary(
            rows.compactMap { row in
                guard let id = row[0].text, let text = row[1].text,
                    let spec = try? decoder.decode(MonitorSpec.self, from: Data(text.utf8))
                else { return nil }
                return (id, Stored(id: id, spec: spec, owner: Int(row[2].integer ?? 0), createdAt: row[3].real ?? 0))
            }, uniquingKeysWith: { first, _ in first })
    }

    /// A template instance's saved state (nil: none, or unreadable).
    /// Throws when the database cannot be read; nil when it holds none (or none readable).
    func savedInstanceState(_ id: String) throws -> SavedState? {
        let stored = try database.withDatabase { database in
            try database.execute("SELECT state FROM instance_state WHERE id = ?", [.text(id)]).first?.first?.text
        }
        guard let text = stored else { return nil }
        return try? JSONDecoder().decode(SavedState.self, from: Data(text.utf8))
    }

    // MARK: - Writing

    /// Stores new monitors, all or none, in one transaction; fails if one of the ids is taken.
    /// `specTexts`: each definition's spec as `text(_:)` gives it (encoded before, with no lock
    /// held).
    func insert(_ definitions: [MonitorDefinition], specTexts: [String], owner: Int, createdAt: Double) throws {
        // A 5,000-monitor request's rows and index pages (its ids are random) fit a 16 MiB cache;
        // in the usual 256 KiB one, SQLite spilled them to the log again and again.
        try database.withDatabase { database in
            try database.withCache(kibibytes: definitions.count > 100 ? 16_384 : Database.cacheKibibytes) {
                try database.transaction {
                    try database.execute(
                        "INSERT INTO monitors (id, spec, owner, created) VALUES (?,?,?,?)",
                        eachOf: zip(definitions, specTexts).map { definition, text in
                            [.text(definition.id), .text(text), .integer(Int64(owner)), .real(createdAt)]
                        })
                }
            }
        }
    }

    /// A runtime state as `monitor_state` and `instance_state` hold it (nil: it cannot be
    /// encoded, which a `SavedState` of numbers and flags never is).
    static func text(_ state: SavedState, encoder: JSONEncoder) -> String? {
        (try? encoder.encode(state)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A spec as the `monitors` table holds it.
    static func text(_ spec: MonitorSpec) throws -> String {
        String(decoding: try spec.wireJSON(), as: UTF8.self)
    }

    // MARK: - Writing in the caller's transaction

    /// Stores a monitor, replacing one with the same id (monitors.d's reconciliation).
    static func put(id: String, specText: String, owner: Int, createdAt: Double, in database: Database) throws {
        try database.execute(
            "INSERT OR REPLACE INTO monitors (id, spec, owner, created) VALUES (?,?,?,?)",
            [.text(id), .text(specText), .integer(Int64(owner)), .real(createdAt)])
    }

    /// Replaces a stored monitor's spec (owner and creation time stay).
    static func update(_ spec: MonitorSpec, id: String, in database: Database) throws {
        try database.execute("UPDATE monitors SET spec = ? WHERE id = ?", [.text(try text(spec)), .text(id)])
    }

    /// Deletes a monitor and its saved state.
    static func delete(_ id: String, in database: Database) throws {
        try database.execute("DELETE FROM monitor_state WHERE id = ?", [.text(id)])
        try database.execute("DELETE FROM monitors WHERE id = ?", [.text(id)])
    }

    /// Forgets a monitor's saved state (it was changed and starts afresh).
    static func forgetState(_ id: String, in database: Database) throws {
        try database.execute("DELETE FROM monitor_state WHERE id = ?", [.text(id)])
    }

    /// Forgets template instances' saved state (their template changed or went, or their
    /// statistic did).
    static func forgetInstances(_ ids: [String], in database: Database) throws {
        for id in ids { try database.execute("DELETE FROM instance_state WHERE id = ?", [.text(id)]) }
    }

    /// Writes a monitor's runtime state; an instance's (`template` set) goes with its template.
    static func save(_ state: SavedState, id: String, template: String?, encoder: JSONEncoder, in database: Database) throws {
        try save(text: String(decoding: try encoder.encode(state), as: UTF8.self), id: id, template: template, in: database)
    }

    /// A state as `text(_:encoder:)` encoded it (the snapshot encodes with no lock held).
    static func save(text: String, id: String, template: String?, in database: Database) throws {
        if let template {
            try database.execute(
                "INSERT OR REPLACE INTO instance_state (id, template, state) VALUES (?, ?, ?)",
                [.text(id), .text(template), .text(text)])
        } else {
            try database.execute("INSERT OR REPLACE INTO monitor_state (id, state) VALUES (?, ?)", [.text(id), .text(text)])
        }
    }
}
