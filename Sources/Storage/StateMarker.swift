#if canImport(Glibc)
    import Glibc
#endif

/// What the small file beside the state database (`state.db.marker`) remembers of it, so that a
/// database that lost its contents (a truncated file, a damaged write-ahead log, a file from
/// elsewhere) is found out at start instead of served silently empty, and so that event ids
/// never go backwards. Written atomically; plain `key value` lines.
public struct StateMarker: Sendable, Equatable {
    /// The identity stored in the database's `meta` table when it was created.
    public var database: String
    /// Every id of the sequence (events) up to this may have been handed out: ids are reserved
    /// in blocks, the marker written before an id past it is committed.
    public var ceiling: Int64
    /// Every id of the sequence up to this was committed, as far as the marker knows: the
    /// highest id in a committed transaction when ids were last reserved (or the sequence at
    /// start). A database that holds less after a crash lost committed transactions (its
    /// write-ahead log was damaged or lost). 0 in a marker from before it was kept.
    public var floor: Int64
    /// Whether the last run stopped cleanly; then `lastID` and `rows` are exact.
    public var stoppedCleanly: Bool
    /// The sequence's last id and the counted table's rows (monitors) at the last clean stop.
    public var lastID: Int64
    public var rows: Int64

    public init(database: String, ceiling: Int64, floor: Int64 = 0, stoppedCleanly: Bool, lastID: Int64, rows: Int64) {
        self.database = database
        self.ceiling = ceiling
        self.floor = floor
        self.stoppedCleanly = stoppedCleanly
        self.lastID = lastID
        self.rows = rows
    }

    var text: String {
        "database \(database)\nceiling \(ceiling)\ncommitted \(floor)\nstopped-cleanly \(stoppedCleanly ? 1 : 0)\nlast-id \(lastID)\nrows \(rows)\n"
    }

    init?(text: String) {
        var fields: [Substring: Substring] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        guard let database = fields["database"], !database.isEmpty,
            let ceiling = fields["ceiling"].flatMap({ Int64($0) }),
            let clean = fields["stopped-cleanly"], clean == "0" || clean == "1",
            let lastID = fields["last-id"].flatMap({ Int64($0) }),
            let rows = fields["rows"].flatMap({ Int64($0) })
        else { return nil }
        // Absent from a marker written before it was kept: nothing known committed.
        let floor = fields["committed"].flatMap { Int64($0) } ?? 0
        self.init(database: String(database), ceiling: ceiling, floor: floor, stoppedCleanly: clean == "1", lastID: lastID, rows: rows)
    }

    /// The marker at `path`; nil when there is none. A marker that cannot be read is refused:
    /// it is what tells a lost database from a new one.
    static func read(_ path: String) throws(StorageError) -> StateMarker? {
        guard let bytes = try readWholeFile(path, limit: 4096) else { return nil }
        guard let marker = StateMarker(text: String(decoding: bytes, as: UTF8.self)) else {
            throw StorageError("\(path) cannot be read as resmond's state marker; remove it only if state.db is known to be whole")
        }
        return marker
    }

    func write(_ path: String) throws(StorageError) {
        try writeAtomically(Array(text.utf8), to: path)
    }

    /// A new database identity: 128 random bits as hex.
    static func newIdentity() -> String {
        (0..<2).map { _ in
            let hex = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }
}

/// A state database that lost what its marker says it held; resmond refuses to start on it
/// unless told to accept the loss.
public struct StateLossError: Error, Sendable, CustomStringConvertible {
    public let description: String
}

/// Which tables the marker watches: the AUTOINCREMENT table whose ids must never go backwards
/// (events) and the table whose rows must not vanish (monitors).
public struct StateContinuity: Sendable {
    public let sequence: String
    public let counted: String
    /// How many ids one marker write reserves.
    public let block: Int64
    /// Start on a database that lost its contents, beginning anew (`--accept-state-loss`).
    public let acceptLoss: Bool

    public init(sequence: String, counted: String, block: Int64 = 1000, acceptLoss: Bool = false) {
        self.sequence = sequence
        self.counted = counted
        self.block = block
        self.acceptLoss = acceptLoss
    }

    /// The `meta` table the database's identity lives in: a migration of its owner's list.
    public static let schema = ["CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"]
}
