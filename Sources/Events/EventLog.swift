import FoundationEssentials
import ResmonAPI
import Storage

/// Syslog severities, most severe first (RFC 5424 numbers).
public enum Severity: Int, Sendable, CaseIterable, Comparable {
    case emerg = 0, alert, crit, err, warning, notice, info, debug

    public var name: String {
        switch self {
        case .emerg: "emerg"
        case .alert: "alert"
        case .crit: "crit"
        case .err: "err"
        case .warning: "warning"
        case .notice: "notice"
        case .info: "info"
        case .debug: "debug"
        }
    }

    /// Accepts the syslog names and their long forms (`error`, `critical`, `emergency`, `warn`).
    public init?(name: String) {
        switch name.lowercased() {
        case "emerg", "emergency", "panic": self = .emerg
        case "alert": self = .alert
        case "crit", "critical": self = .crit
        case "err", "error": self = .err
        case "warning", "warn": self = .warning
        case "notice": self = .notice
        case "info", "informational": self = .info
        case "debug": self = .debug
        default: return nil
        }
    }

    public static func < (left: Severity, right: Severity) -> Bool { left.rawValue > right.rawValue }
}

/// The event codes and types of the Resource Monitoring Facility's MonitoringEventSchema.
public enum EventType: Int, Sendable, CaseIterable {
    case canceled = 500, above, atOrAbove, at, atOrBelow, below, notAtBelow, notAtAbove
    case counterRateExceeded = 508, subsystemConfigurationChange = 509, resourceConfigurationChange = 510
    case watermark = 520, noData = 521, eventStorm = 522

    public var name: String {
        switch self {
        case .canceled: "canceled"
        case .above: "above"
        case .atOrAbove: "atOrAbove"
        case .at: "at"
        case .atOrBelow: "atOrBelow"
        case .below: "below"
        case .notAtBelow: "notAtBelow"
        case .notAtAbove: "notAtAbove"
        case .counterRateExceeded: "counterRateExceeded"
        case .subsystemConfigurationChange: "subsystemConfigurationChange"
        case .resourceConfigurationChange: "resourceConfigurationChange"
        case .watermark: "watermark"
        case .noData: "noData"
        case .eventStorm: "eventStorm"
        }
    }
}

/// The durable event log: events are written here, in the caller's transaction, before anything
/// else may see them; ids are monotonic and never reused.
public enum EventLog {
    /// Schema for the state database's migrations.
    public static let schema = [
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, code INTEGER NOT NULL, type TEXT NOT NULL,
            severity INTEGER NOT NULL, monitor_id TEXT, monitor_name TEXT, key TEXT, value REAL, threshold REAL,
            host TEXT NOT NULL, message TEXT NOT NULL, cancels INTEGER, labels TEXT NOT NULL, annotations TEXT NOT NULL)
        """,
        "CREATE INDEX events_monitor ON events(monitor_id, id)",
    ]

    /// Appends events (their `id` is ignored) and returns them with the ids they were given.
    public static func append(_ events: [EventRecord], in database: Database) throws -> [EventRecord] {
        var stored: [EventRecord] = []
        let encoder = WireJSON.encoder()
        for var event in events {
            try database.execute("""
                INSERT INTO events (time, code, type, severity, monitor_id, monitor_name, key, value, threshold, host,
                                    message, cancels, labels, annotations) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                """, [
                    .real(event.time), .integer(Int64(event.code)), .text(event.type),
                    .integer(Int64(Severity(name: event.severity)?.rawValue ?? Severity.info.rawValue)),
                    event.monitorId.map { .text($0) } ?? .null, event.monitorName.map { .text($0) } ?? .null,
                    event.key.map { .text($0) } ?? .null, event.value.map { .real($0) } ?? .null,
                    event.threshold.map { .real($0) } ?? .null, .text(event.host), .text(event.message),
                    event.cancels.map { .integer($0) } ?? .null,
                    .text(String(decoding: try encoder.encode(event.labels), as: UTF8.self)),
                    .text(String(decoding: try encoder.encode(event.annotations), as: UTF8.self)),
                ])
            event.id = database.lastInsertID
            stored.append(event)
        }
        return stored
    }

    /// Events with ids above `after`, oldest first, at most `limit`.
    public static func events(after: Int64, limit: Int, monitor: String? = nil, in database: Database) throws -> [EventRecord] {
        let rows = try database.execute("""
            SELECT id, time, code, type, severity, monitor_id, monitor_name, key, value, threshold, host, message,
                   cancels, labels, annotations FROM events WHERE id > ? AND (? IS NULL OR monitor_id = ?) ORDER BY id LIMIT ?
            """, [.integer(after), monitor.map { .text($0) } ?? .null, monitor.map { .text($0) } ?? .null, .integer(Int64(limit))])
        return rows.map(decode)
    }

    private static func decode(_ row: [DatabaseValue]) -> EventRecord {
        let decoder = JSONDecoder()
        let labels = (try? decoder.decode([String: String].self, from: Data((row[13].text ?? "{}").utf8))) ?? [:]
        let annotations = (try? decoder.decode([String: String].self, from: Data((row[14].text ?? "{}").utf8))) ?? [:]
        return EventRecord(
            id: row[0].integer ?? 0, time: row[1].real ?? 0, code: Int(row[2].integer ?? 0), type: row[3].text ?? "",
            severity: Severity(rawValue: Int(row[4].integer ?? 6))?.name ?? "info", monitorId: row[5].text,
            monitorName: row[6].text, key: row[7].text, value: row[8].real, threshold: row[9].real,
            host: row[10].text ?? "", message: row[11].text ?? "", cancels: row[12].integer,
            labels: labels, annotations: annotations)
    }

    /// A query: events matching `filter`, after an id, within a time range, oldest or newest
    /// first, at most `limit`. Pages through the log so a selective filter still fills the page.
    public static func query(after: Int64 = 0, since: Double? = nil, until: Double? = nil, newestFirst: Bool = false,
                             limit: Int, filter: EventFilter? = nil, in database: Database) throws -> [EventRecord] {
        var found: [EventRecord] = []
        var cursor: Int64? = nil
        let page = 1000
        while found.count < limit {
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
            let rows = try database.execute("""
                SELECT id, time, code, type, severity, monitor_id, monitor_name, key, value, threshold, host, message,
                       cancels, labels, annotations FROM events WHERE \(conditions.joined(separator: " AND "))
                ORDER BY id \(newestFirst ? "DESC" : "ASC") LIMIT ?
                """, parameters)
            let events = rows.map(decode)
            for event in events where filter?.matches(event) ?? true {
                found.append(event)
                if found.count == limit { break }
            }
            guard events.count == page, let last = events.last else { break }
            cursor = last.id
        }
        return found
    }

    /// Deletes events older than `maximumAge` seconds or beyond the newest `maximumCount`, at most
    /// `batch` at a time so that a large backlog never holds the database from writers for long.
    /// Returns how many were deleted.
    @discardableResult
    public static func enforceRetention(maximumAge: Double, maximumCount: Int, now: Double, batch: Int = 5000,
                                        in database: Database) throws -> Int {
        let newest = try lastID(in: database)
        let rows = try database.execute("""
            DELETE FROM events WHERE id IN (
                SELECT id FROM events WHERE time < ? OR id <= ? ORDER BY id LIMIT ?)
            """, [.real(now - maximumAge), .integer(newest - Int64(maximumCount)), .integer(Int64(batch))])
        _ = rows
        return Int(try database.execute("SELECT changes()").first?.first?.integer ?? 0)
    }

    /// The highest event id so far (0 when none).
    public static func lastID(in database: Database) throws -> Int64 {
        try database.execute("SELECT COALESCE(MAX(id), 0) FROM events").first?.first?.integer ?? 0
    }
}
