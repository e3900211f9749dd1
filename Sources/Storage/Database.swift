import CSQLite
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A SQLite error with the database's message.
/// A database written by a newer resmond: its schema version is above every migration this one
/// knows. Not damage: the newer resmond reads it, and nothing in it should be overwritten.
public struct NewerSchemaError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let version: Int
    public let known: Int
    public var description: String {
        "\(path) has schema version \(version), written by a newer resmond (this one knows versions up to \(known))"
    }
}

public struct DatabaseError: Error, Sendable, CustomStringConvertible {
    public let code: Int32
    public let message: String
    public var description: String { "sqlite error \(code): \(message)" }

    /// Whether the database as a whole refuses writes (a full disk, an I/O error, a read-only
    /// or damaged file, a lock), rather than one statement's data (a constraint).
    public var isStorageWide: Bool {
        [SQLITE_FULL, SQLITE_IOERR, SQLITE_CANTOPEN, SQLITE_READONLY, SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_NOMEM, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_PROTOCOL]
            .contains(code & 0xff)
    }
}

/// A value bound to or read from a statement.
public enum DatabaseValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    public var integer: Int64? { if case .integer(let value) = self { return value }; return nil }
    public var real: Double? {
        switch self {
        case .real(let value): return value
        case .integer(let value): return Double(value)
        default: return nil
        }
    }
    public var text: String? { if case .text(let value) = self { return value }; return nil }
}

/// The thin SQLite layer resmond's durable state stands on: one connection, WAL journal,
/// `synchronous=FULL` so a committed transaction survives power loss, statements prepared per call.
/// The connection is opened in SQLite's serialized mode, but transactions need one user at a
/// time: share it through `StateDatabase`, which serializes access.
public final class Database: @unchecked Sendable {
    private var handle: OpaquePointer?
    public let path: String

    /// `SQLITE_TRANSIENT`: SQLite copies bound text before the call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    public init(path: String) throws(DatabaseError) {
        self.path = path
        var opened: OpaquePointer?
        let status = sqlite3_open_v2(path, &opened, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nil)
        guard status == SQLITE_OK, let opened else {
            let message = opened.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(opened)
            throw DatabaseError(code: status, message: "\(path): \(message)")
        }
        handle = opened
        sqlite3_busy_timeout(opened, 5000)
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=FULL")
        try execute("PRAGMA foreign_keys=ON")
        try execute("PRAGMA cache_size=-\(Database.cacheKibibytes)")
    }

    /// The page cache's size: the state is small and written in short transactions, and 256 KiB
    /// keep resmond's memory near its bar (SQLite's default is 2 MiB).
    public static let cacheKibibytes = 256

    /// Runs `body` with a page cache of `kibibytes` (its pages freed after): a bulk insert whose
    /// pages do not fit the usual cache writes them to the log again each time it spills them.
    public func withCache<Result>(kibibytes: Int, _ body: () throws -> Result) throws -> Result {
        try execute("PRAGMA cache_size=-\(kibibytes)")
        defer { _ = try? execute("PRAGMA cache_size=-\(Database.cacheKibibytes)") }
        return try body()
    }

    deinit { sqlite3_close(handle) }

    /// Closes the connection now (every statement is finalized as it ends): SQLite checkpoints
    /// its log into the file and deletes the log and shared-memory files by their names. Any use
    /// after this fails.
    public func close() {
        sqlite3_close(handle)
        handle = nil
    }

    private func error(_ code: Int32) -> DatabaseError {
        DatabaseError(code: code, message: String(cString: sqlite3_errmsg(handle)))
    }

    /// Runs one statement with parameters; returns its rows.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [DatabaseValue] = []) throws(DatabaseError) -> [[DatabaseValue]] {
        var statement: OpaquePointer?
        let prepared = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard prepared == SQLITE_OK else { throw error(prepared) }
        defer { sqlite3_finalize(statement) }
        try bind(parameters, to: statement)
        var rows: [[DatabaseValue]] = []
        while true {
            let step = sqlite3_step(statement)
            if step == SQLITE_DONE { return rows }
            guard step == SQLITE_ROW else { throw error(step) }
            let columns = sqlite3_column_count(statement)
            rows.append(
                (0..<columns).map { column in
                    switch sqlite3_column_type(statement, column) {
                    case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement, column))
                    case SQLITE_FLOAT: return .real(sqlite3_column_double(statement, column))
                    case SQLITE_TEXT:
                        // The text first, then its length in bytes (SQLite's order), which counts any NUL.
                        guard let text = sqlite3_column_text(statement, column) else { return .text("") }
                        let count = Int(sqlite3_column_bytes(statement, column))
                        return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
                    default: return .null
                    }
                })
        }
    }

    /// Runs one statement once per row of parameters, prepared once: a bulk create's thousands
    /// of inserts (rows it returns are not read).
    public func execute(_ sql: String, eachOf rows: [[DatabaseValue]]) throws(DatabaseError) {
        var statement: OpaquePointer?
        let prepared = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard prepared == SQLITE_OK else { throw error(prepared) }
        defer { sqlite3_finalize(statement) }
        for parameters in rows {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
            try bind(parameters, to: statement)
            var step = sqlite3_step(statement)
            while step == SQLITE_ROW { step = sqlite3_step(statement) }
            guard step == SQLITE_DONE else { throw error(step) }
        }
    }

    private func bind(_ parameters: [DatabaseValue], to statement: OpaquePointer?) throws(DatabaseError) {
        for (offset, parameter) in parameters.enumerated() {
            let index = Int32(offset + 1)
            let bound: Int32
            switch parameter {
            case .null: bound = sqlite3_bind_null(statement, index)
            case .integer(let value): bound = sqlite3_bind_int64(statement, index, value)
            case .real(let value): bound = value.isFinite ? sqlite3_bind_double(statement, index, value) : sqlite3_bind_null(statement, index)
            // By length, not to the first NUL: a value with one inside is stored whole, never cut.
            case .text(let value): bound = sqlite3_bind_text(statement, index, value, Int32(clamping: value.utf8.count), Database.transient)
            }
            guard bound == SQLITE_OK else { throw error(bound) }
        }
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    public func transaction<Result>(_ body: () throws -> Result) throws -> Result {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            committedID = max(committedID, handedOut)
            return result
        } catch {
            _ = try? execute("ROLLBACK")
            handedOut = committedID
            throw error
        }
    }

    /// Runs `body` with its commits not synced to disk (`synchronous=NORMAL`), outside any
    /// transaction: for writes a power loss may lose but never reorder or corrupt (the
    /// write-ahead log is synced with them at the next synchronous commit). A crash of the
    /// process alone loses nothing committed.
    public func withSynchronousNormal<Result>(_ body: () throws -> Result) throws -> Result {
        try execute("PRAGMA synchronous=NORMAL")
        defer { _ = try? execute("PRAGMA synchronous=FULL") }
        return try body()
    }

    /// Runs `body` inside the open transaction as a part of its own: when `body` throws, only
    /// what it wrote is undone and the transaction goes on (one monitor's failing write must not
    /// undo the others').
    public func savepoint<Result>(_ body: () throws -> Result) throws -> Result {
        try execute("SAVEPOINT part")
        let before = handedOut
        do {
            let result = try body()
            try execute("RELEASE part")
            return result
        } catch {
            handedOut = before
            _ = try? execute("ROLLBACK TO part")
            _ = try? execute("RELEASE part")
            throw error
        }
    }

    public var lastInsertID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// The rows this connection has inserted, updated or deleted since it opened: whether a use
    /// of it wrote.
    public var totalChanges: Int64 { sqlite3_total_changes64(handle) }

    /// The highest id the marker has reserved, and how to reserve more (StateDatabase sets it):
    /// called with the id to hand out and the highest id committed so far.
    var reservation: (ceiling: Int64, reserve: @Sendable (_ id: Int64, _ committed: Int64) throws -> Int64)?
    /// The highest id handed out in the open transaction (or committed), and the highest in a
    /// committed one: what the marker records as surely in the database (or its log).
    private var handedOut: Int64 = 0
    var committedID: Int64 = 0 {
        didSet { handedOut = max(handedOut, committedID) }
    }

    /// Called with each id a sequence hands out, before its transaction commits: past the
    /// reserved ids, the marker reserves more first, so that no id is ever handed out twice.
    public func handOut(_ id: Int64) throws {
        handedOut = max(handedOut, id)
        guard let reservation, id > reservation.ceiling else { return }
        let ceiling = try reservation.reserve(id, committedID)
        self.reservation?.ceiling = ceiling
        // The database keeps the reservation too (`meta`), in the transaction that needed it:
        // what a start without the marker continues above.
        if let reservedKey, ceiling < Int64.max {
            try execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [.text(reservedKey), .text(String(ceiling))])
        }
    }

    /// The `meta` key that records reservations in the database (StateDatabase sets it).
    var reservedKey: String?

    /// Whether a transaction is open: after some errors (a full disk, I/O) SQLite rolls the
    /// whole transaction back itself, and a savepoint's failure then undid everything.
    public var inTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// `PRAGMA quick_check`: every page of every table and index well formed (not that indexes
    /// match their tables, which `integrity_check` also reads). Throws `SQLITE_CORRUPT` with
    /// SQLite's first findings when it is not.
    public func checkPages() throws(DatabaseError) {
        let findings: [String]
        do {
            findings = try execute("PRAGMA quick_check").compactMap { $0.first?.text }.filter { $0 != "ok" }
        } catch {
            // Damage bad enough stops the check itself.
            throw DatabaseError(code: error.code, message: "\(path) fails PRAGMA quick_check: \(error.message)")
        }
        guard findings.isEmpty else {
            throw DatabaseError(code: SQLITE_CORRUPT, message: "\(path) fails PRAGMA quick_check: \(findings.prefix(3).joined(separator: "; "))")
        }
    }

    /// The schema version (`PRAGMA user_version`).
    public func schemaVersion() throws(DatabaseError) -> Int {
        Int(try execute("PRAGMA user_version").first?.first?.integer ?? 0)
    }

    /// Brings the schema forward: runs each migration above the stored version, in one
    /// transaction per step, and records the new version.
    public func migrate(_ migrations: [[String]]) throws {
        let current = try schemaVersion()
        guard current <= migrations.count else { throw NewerSchemaError(path: path, version: current, known: migrations.count) }
        for version in current..<migrations.count {
            try transaction {
                for statement in migrations[version] { try execute(statement) }
                try execute("PRAGMA user_version = \(version + 1)")
            }
        }
    }
}
