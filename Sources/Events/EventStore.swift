import FoundationEssentials
import ResmonAPI
import ResmonSystem
import Storage

/// The durable event log, the one owner of the state database's `events` table: its schema, the
/// appends (in the caller's transaction, before anything else may see the events), the queries,
/// retention and the newest id a new reader starts after. Ids are monotonic and never reused.
/// The monitor engine appends; streams, routes and sinks read here, not through the engine.
public struct EventStore: Sendable {
    /// Schema for the state database's migrations.
    public static let schema = [
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, code INTEGER NOT NULL, type TEXT NOT NULL,
            severity INTEGER NOT NULL, monitor_id TEXT, monitor_name TEXT, key TEXT, value REAL, threshold REAL,
            host TEXT NOT NULL, message TEXT NOT NULL, cancels INTEGER, labels TEXT NOT NULL, annotations TEXT NOT NULL)
        """,
        "CREATE INDEX events_monitor ON events(monitor_id, id)"
    ]

    /// The migration that gives events an owner: the uid of the monitor (or the caller) that
    /// produced them, kept per uid in `event_counts` so that retention trims each uid's share
    /// without counting the log. Events logged before it get their monitor's owner when that
    /// monitor still exists under the same id, root's 0 otherwise (template instances' included).
    public static let ownerSchema = [
        "ALTER TABLE events ADD COLUMN owner INTEGER NOT NULL DEFAULT 0",
        """
        UPDATE events SET owner = (SELECT owner FROM monitors WHERE monitors.id = events.monitor_id)
        WHERE monitor_id IN (SELECT id FROM monitors WHERE owner != 0)
        """,
        "CREATE INDEX events_owner ON events(owner, id)",
        "CREATE TABLE event_counts (owner INTEGER PRIMARY KEY, count INTEGER NOT NULL)",
        "INSERT INTO event_counts (owner, count) SELECT owner, COUNT(*) FROM events GROUP BY owner"
    ]

    /// How many events one retention pass deletes at most.
    public static let retentionBatch = 5000

    let database: StateDatabase

    /// The log in `database`, which must have been opened with `schema` among its migrations.
    public init(database: StateDatabase) {
        self.database = database
    }

    // MARK: - Writing, inside a caller's transaction

    /// Appends events of uid `owner` (their `id` is ignored) and returns them with the ids they
    /// were given. Takes the open database so that the events commit in the caller's
    /// transaction, with the state that produced them.
    public static func append(_ events: [EventRecord], owner: Int, in database: Database) throws -> [EventRecord] {
        try append(events, in: database) { _ in owner }
    }

    /// Appends events, each of the uid `owner` gives for it (the owner of the monitor that
    /// produced it; 0, root, for resmond's own), and returns them with the ids they were given.
    public static func append(_ events: [EventRecord], in database: Database, owner: (EventRecord) -> Int) throws -> [EventRecord] {
        var stored: [EventRecord] = []
        stored.reserveCapacity(events.count)
        var added: [Int: Int] = [:]
        let encoder = WireJSON.encoder()
        for var event in events {
            let uid = owner(event)
            try database.execute(
                """
                INSERT INTO events (time, code, type, severity, monitor_id, monitor_name, key, value, threshold, host,
                                    message, cancels, labels, annotations, owner) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                """,
                [
                    .real(event.time), .integer(Int64(event.code)), .text(event.type.rawValue),
                    .integer(Int64(event.severity.level ?? Severity.Kind.info.level)),
                    event.monitorId.map { .text($0) } ?? .null, event.monitorName.map { .text($0) } ?? .null,
                    event.key.map { .text($0) } ?? .null, event.value.map { .real($0) } ?? .null,
                    event.threshold.map { .real($0) } ?? .null, .text(event.host), .text(event.message),
                    event.cancels.map { .integer($0) } ?? .null,
                    .text(String(decoding: try encoder.encode(event.labels), as: UTF8.self)),
                    .text(String(decoding: try encoder.encode(event.annotations), as: UTF8.self)), .integer(Int64(uid))
                ])
            event.id = database.lastInsertID
            try database.handOut(event.id)
            stored.append(event)
            added[uid, default: 0] += 1
        }
        // One counter update per uid and append, not per event: retention reads these instead of
        // counting a million rows.
        for (uid, count) in added {
            try database.execute(
                "INSERT INTO event_counts (owner, count) VALUES (?, ?) ON CONFLICT(owner) DO UPDATE SET count = count + excluded.count",
                [.integer(Int64(uid)), .integer(Int64(count))])
        }
        return stored
    }

    /// The highest event id so far (0 when none), inside a caller's transaction: a sink's first
    /// cursor is read and stored under one lock.
    public static func lastID(in database: Database) throws -> Int64 {
        try database.execute("SELECT COALESCE(MAX(id), 0) FROM events").first?.first?.integer ?? 0
    }

    // MARK: - Reading

    /// Events with ids above `after`, oldest first, at most `limit`: how streams and sinks
    /// catch up from their cursor.
    public func events(after: Int64, limit: Int, monitor: String? = nil) throws -> [EventRecord] {
        let rows = try database.withDatabase { database in
            try database.execute(
                """
                SELECT id, time, code, type, severity, monitor_id, monitor_name, key, value, threshold, host, message,
                       cancels, labels, annotations FROM events WHERE id > ? AND (? IS NULL OR monitor_id = ?) ORDER BY id LIMIT ?
                """, [.integer(after), monitor.map { .text($0) } ?? .null, monitor.map { .text($0) } ?? .null, .integer(Int64(limit))])
        }
        return rows.map(EventStore.decode)
    }

    /// Events with ids above `after`, oldest first, at most `limit`, each with its owner (the
    /// uid its monitor or application belongs to): how sinks share their delivery between uids.
    public func eventsWithOwners(after: Int64, limit: Int) throws -> [(event: EventRecord, owner: Int)] {
        let rows = try database.withDatabase { database in
            try database.execute(
                """
                SELECT id, time, code, type, severity, monitor_id, monitor_name, key, value, threshold, host, message,
                       cancels, labels, annotations, owner FROM events WHERE id > ? ORDER BY id LIMIT ?
                """, [.integer(after), .integer(Int64(limit))])
        }
        return rows.map { (EventStore.decode($0), Int($0[15].integer ?? 0)) }
    }

    /// The newest event id in the log (0 when empty): where a reader that wants only what comes
    /// next starts.
    public func lastID() throws -> Int64 {
        try database.withDatabase { try EventStore.lastID(in: $0) }
    }

    /// A query (`GET /v1/events`): events matching `filter`, after an id, within a time range,
    /// oldest or newest first, at most `limit`. Pages through the log so a selective filter
    /// still fills the page; each page is read under its own short lock and decoded and
    /// filtered outside it, so a filter that matches nothing in a log of a million events keeps
    /// writers (the sampler's commit) waiting for one page at most, never for the whole scan.
    public func query(
        after: Int64 = 0, since: Double? = nil, until: Double? = nil, newestFirst: Bool = false,
        limit: Int, filter: EventFilter? = nil
    ) throws -> [EventRecord] {
        try scan(after: after, since: since, until: until, newestFirst: newestFirst, limit: limit, filter: filter).events
    }

    /// What one bounded scan found: the events, and whether it read the whole range or was
    /// cut by its budget after the event `scannedThrough`.
    public struct Scan: Sendable {
        public var events: [EventRecord] = []
        /// The last event id read (matching or not) when the budget cut the scan; nil when it
        /// read everything it had to.
        public var cutAfter: Int64?
        /// How many events were read.
        public var scanned = 0
    }

    /// `query`, within `budget` seconds of this thread's CPU time: a filter of costly patterns
    /// over a large log stops at the event where the budget is spent, and says where (issue 22,
    /// re-attack item 3: 150 patterns over 10,000 events took 100 s).
    public func scan(
        after: Int64 = 0, since: Double? = nil, until: Double? = nil, newestFirst: Bool = false,
        limit: Int, filter: EventFilter? = nil, budget: Double = .infinity, page: Int = 1000
    ) throws -> Scan {
        var result = Scan()
        let start = Clock.threadCPU()
        var cursor: Int64? = nil
        pages: while result.events.count < limit {
            var conditions = ["id > ?"]
            var parameters: [DatabaseValue] = [.integer(after)]
            if let cursor {
                conditions.append(newestFirst ? "id < ?" : "id > ?")
                parameters.append(.integer(cursor))
            }
            if let since {
                conditions.append("time >= ?")
                parameters.append(.real(since))
            }
            if let until {
                conditions.append("time <= ?")
                parameters.append(.real(until))
            }
            parameters.append(.integer(Int64(page)))
            let rows = try database.withDatabase { database in
                try database.execute(
                    """
                    SELECT id, time, code, type, severity, monitor_id, monitor_name, key, value, threshold, host, message,
                           cancels, labels, annotations FROM events WHERE \(conditions.joined(separator: " AND "))
                    ORDER BY id \(newestFirst ? "DESC" : "ASC") LIMIT ?
                    """, parameters)
            }
            let events = rows.map(EventStore.decode)
            for event in events {
                result.scanned += 1
                if filter?.matches(event) ?? true {
                    result.events.append(event)
                    if result.events.count == limit { break pages }
                }
                // Checked after every event, not every page: one event's match against a filter's
                // 16 costly patterns over a long annotation can take 0.1 s (the second attack:
                // 14 s of CPU for one request when the budget was checked between pages).
                if filter != nil && Clock.threadCPU() - start > budget {
                    result.cutAfter = event.id
                    break pages
                }
            }
            guard events.count == page, let last = events.last else { break }
            cursor = last.id
            if Clock.threadCPU() - start > budget {
                result.cutAfter = last.id
                break
            }
        }
        return result
    }

    private static func decode(_ row: [DatabaseValue]) -> EventRecord {
        let decoder = JSONDecoder()
        let labels = (try? decoder.decode([String: String].self, from: Data((row[13].text ?? "{}").utf8))) ?? [:]
        let annotations = (try? decoder.decode([String: String].self, from: Data((row[14].text ?? "{}").utf8))) ?? [:]
        return EventRecord(
            id: row[0].integer ?? 0, time: row[1].real ?? 0, code: Int(row[2].integer ?? 0), type: EventType(rawValue: row[3].text ?? ""),
            severity: Severity(Severity.Kind(level: Int(row[4].integer ?? 6)) ?? .info), monitorId: row[5].text,
            monitorName: row[6].text, key: row[7].text, value: row[8].real, threshold: row[9].real,
            host: row[10].text ?? "", message: row[11].text ?? "", cancels: row[12].integer,
            labels: labels, annotations: annotations)
    }
}
