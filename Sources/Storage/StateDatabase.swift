import ResmonSystem

#if canImport(Glibc)
    import Glibc
#endif

/// resmond's one state database (monitors, their state, events), shared by the modules that
/// keep durable state; every use holds its lock, so statements never interleave. Opened with a
/// `StateContinuity`, it keeps a marker beside the file (StateMarker) and refuses a database
/// that lost its contents.
public final class StateDatabase: Sendable {
    private let database: Lock<Database>
    private let continuity: StateContinuity?
    private let markerPath: String
    private let marker: Lock<StateMarker?>
    /// What opening found that resmond's log must say loudly (a loss accepted, a crash).
    public let startReport: [String]
    public let path: String
    /// The file `path` named when it was opened (or written back): device and inode.
    private let file: Lock<FileIdentity?>
    private let leftItsPath = Lock<(@Sendable () -> Void)?>(nil)

    public init(path: String, migrations: [[String]], continuity: StateContinuity? = nil) throws {
        self.continuity = continuity
        self.path = path
        markerPath = path + ".marker"
        guard let continuity else {
            let opened = try Database(path: path)
            try opened.migrate(migrations)
            database = Lock(opened)
            marker = Lock(nil)
            startReport = []
            file = Lock(FileIdentity(path))
            return
        }
        let (opened, marker, report) = try StateDatabase.open(path: path, markerPath: markerPath, migrations: migrations, continuity)
        // The file opened, not one a damaged file was moved aside for.
        file = Lock(FileIdentity(path))
        self.marker = Lock(marker)
        startReport = report
        database = Lock(opened)
        let reserve: @Sendable (Int64, Int64) throws -> Int64 = { [markerPath, continuity, weak self] id, committed in
            try self?.marker.withLock { marker in
                guard var next = marker else { return Int64.max }
                next.ceiling = id + continuity.block
                next.floor = max(next.floor, committed)
                try next.write(markerPath)
                marker = next
                return next.ceiling
            } ?? Int64.max
        }
        opened.reservation = (marker.ceiling, reserve)
        opened.reservedKey = StateDatabase.reservedKey(continuity)
        opened.committedID = marker.floor
    }

    /// Runs `body` with the database, alone. When it wrote and the path no longer names the file
    /// (the state directory removed, the file replaced), the handler set by `whenLeftItsPath`
    /// runs before this returns: what was written is put back where the next start finds it
    /// before the caller acknowledges it.
    public func withDatabase<Result>(_ body: (Database) throws -> Result) rethrows -> Result {
        let (result, wrote) = try database.withLock { database in
            let before = database.totalChanges
            let result = try body(database)
            return (result, database.totalChanges != before)
        }
        if wrote, whereabouts != .inPlace, let handler = leftItsPath.withLock({ $0 }) { handler() }
        return result
    }

    /// Sets what runs when a write finds the file gone from its path (the state directory watch).
    /// It runs on the writer's thread, without the database's lock.
    public func whenLeftItsPath(_ handler: @escaping @Sendable () -> Void) {
        leftItsPath.withLock { $0 = handler }
    }

    /// At a clean stop: moves everything from the write-ahead log into the database file
    /// (`wal_checkpoint(TRUNCATE)`), so the file alone holds the state, and records the last
    /// id and the rows in the marker, which the next start checks.
    public func closeCleanly() throws {
        try database.withLock { database in
            try database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            guard let continuity else { return }
            let lastID = try StateDatabase.sequence(continuity.sequence, in: database)
            let rows = try database.execute("SELECT COUNT(*) FROM \(continuity.counted)").first?.first?.integer ?? 0
            try marker.withLock { marker in
                guard var next = marker else { return }
                next.stoppedCleanly = true
                next.lastID = lastID
                next.floor = max(next.floor, lastID)
                next.rows = rows
                try next.write(markerPath)
                marker = next
            }
        }
    }

    // MARK: - The file under a running resmond

    /// A file's device and inode, or nil when the path names nothing.
    struct FileIdentity: Equatable {
        let device: UInt64
        let inode: UInt64
        init?(_ path: String) {
            var status = stat()
            guard stat(path, &status) == 0 else { return nil }
            device = UInt64(status.st_dev)
            inode = UInt64(status.st_ino)
        }
    }

    /// Whether `path` still names the file resmond writes.
    public enum Whereabouts: Equatable, Sendable {
        case inPlace
        /// Nothing is at the path: the file was removed, or the file system holding it unmounted.
        case gone
        /// Another file is at the path.
        case replaced
    }

    /// Where the open database is: SQLite keeps writing to the file it opened, which no path may
    /// reach any more (the state directory removed, its file system unmounted), and what it holds
    /// would be lost at the next start.
    public var whereabouts: Whereabouts {
        let now = FileIdentity(path)
        return now == nil ? .gone : now == file.withLock({ $0 }) ? .inPlace : .replaced
    }

    /// Writes what the open database holds to `path`, where nothing is now, and goes on with that
    /// file: a copy (`VACUUM INTO`, every committed transaction, the write-ahead log's included)
    /// made beside it in a file created for it (never one found there), synced; then the old
    /// connection closed (SQLite deletes its log and shared-memory files by name, which must not
    /// be the new file's: a log left at the path by `rm state.db` would be laid over the new
    /// file), what is left of them removed, the copy linked into place (never over a file that
    /// appeared meanwhile) and opened. The marker is written again with it. The caller has made
    /// the directory and holds its instance lock. Returns what went wrong that loses nothing now.
    @discardableResult
    public func writeBack() throws -> String? {
        try database.withLock { database in
            let copy = try StateDatabase.createEmpty(path + ".restoring-\(getpid())")
            do {
                try database.execute("VACUUM INTO ?", [.text(copy)])
                try StateDatabase.sync(copy)
            } catch {
                unlink(copy)
                throw StorageError("cannot copy the open state database to \(copy): \(error)")
            }
            // From here the copy holds everything: the old connection goes, and whatever fails
            // next, resmond goes on with the copy, in place or where it was made.
            let old = database
            old.close()
            for suffix in ["-wal", "-shm"] { unlink(path + suffix) }
            var target = copy
            var problem: String?
            var warning: String?
            if link(copy, path) == 0 {
                unlink(copy)
                target = path
                // A directory not synced loses only the name, at a power cut: not a reason to stop.
                do {
                    try StateDatabase.sync(String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]))
                } catch {
                    warning = "\(error): \(path) may be lost at a power cut before the directory is written"
                }
            } else {
                problem = "cannot put the written-back state database at \(path) (\(Errno.current)); resmond goes on with \(copy)"
            }
            let reopened: Database
            do {
                reopened = try Database(path: target)
            } catch {
                fatalError("the state database was written back to \(target), which cannot be opened: \(error); start resmond again")
            }
            reopened.reservation = old.reservation
            reopened.reservedKey = old.reservedKey
            reopened.committedID = old.committedID
            database = reopened
            file.withLock { $0 = FileIdentity(path) }
            try marker.withLock { marker in try marker?.write(markerPath) }
            if let problem { throw StorageError(problem) }
            return warning
        }
    }

    /// Writes a copy of what the open database holds to a file created for it at `copy` (one
    /// already there is refused), for when another file has taken its path: resmond goes on
    /// with the file it has open.
    public func keepCopy(at copy: String) throws {
        let created = try StateDatabase.createEmpty(copy)
        try database.withLock { database in
            do {
                try database.execute("VACUUM INTO ?", [.text(created)])
                try StateDatabase.sync(created)
            } catch {
                unlink(created)
                throw StorageError("cannot copy the open state database to \(created): \(error)")
            }
        }
    }

    /// Creates an empty file at `path` for `VACUUM INTO` (which takes an empty file): never one
    /// that exists, and never through a symbolic link someone placed there.
    private static func createEmpty(_ path: String) throws(StorageError) -> String {
        let descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else { throw StorageError("cannot create \(path): \(Errno.current)") }
        close(descriptor)
        return path
    }

    private static func sync(_ path: String) throws(StorageError) {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw StorageError("cannot open \(path) to sync it: \(Errno.current)") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw StorageError("cannot sync \(path): \(Errno.current)") }
    }

    /// The `meta` key keeping the ids of the sequence reserved so far (as the marker does).
    static func reservedKey(_ continuity: StateContinuity) -> String { "reserved-\(continuity.sequence)" }

    static func sequence(_ table: String, in database: Database) throws -> Int64 {
        try database.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", [.text(table)]).first?.first?.integer ?? 0
    }

    /// Opens the database and checks it against its marker: refuses one that lost its contents
    /// (unless `acceptLoss`), continues the sequence above every id handed out, and leaves the
    /// marker saying "running".
    private static func open(
        path: String, markerPath: String, migrations: [[String]], _ continuity: StateContinuity
    ) throws -> (Database, StateMarker, [String]) {
        let what = "restore state.db from a backup, or start resmond once with --accept-state-loss to begin anew"
        let known = try StateMarker.read(markerPath)
        var report: [String] = []
        let opened: Database
        do {
            let first = try Database(path: path)
            // A file that opens can still have damaged pages (garbled on disk): refused like a lost one.
            try first.checkPages()
            try first.migrate(migrations)
            opened = first
        } catch {
            if let newer = error as? NewerSchemaError, !continuity.acceptLoss {
                throw StateLossError(
                    description:
                        "\(newer): run the resmond that wrote it (a downgrade cannot read it), or start this one once with "
                        + "--accept-state-loss to move the file aside (kept, with a timestamp) and begin anew")
            }
            guard continuity.acceptLoss else {
                throw StateLossError(description: "cannot open the state database \(path), or it is damaged: \(error); \(what)")
            }
            let aside = path + ".damaged-\(Int(Clock.wall()))"
            for suffix in ["", "-wal", "-shm"] { rename(path + suffix, aside + suffix) }
            report.append(
                "the state database \(path) could not be opened or is damaged (\(error)); moved aside to \(aside) and begun anew (--accept-state-loss)")
            opened = try Database(path: path)
            try opened.migrate(migrations)
        }
        let identity = try opened.execute("SELECT value FROM meta WHERE key = 'database'").first?.first?.text
        // SQLite's sequence, but never below an id the table holds (the sequence deleted by hand).
        let highest = try opened.execute("SELECT MAX(rowid) FROM \(continuity.sequence)").first?.first?.integer ?? 0
        var sequence = max(try sequence(continuity.sequence, in: opened), highest)
        let rows = try opened.execute("SELECT COUNT(*) FROM \(continuity.counted)").first?.first?.integer ?? 0
        var database = identity ?? StateMarker.newIdentity()
        if let known {
            // After a crash only the floor is known: ids up to it were committed. A database whose
            // sequence is below it lost committed transactions, however its log was damaged.
            let crashLoss = !known.stoppedCleanly && identity == known.database && sequence < known.floor
            let lost: String? =
                identity != known.database
                ? (identity == nil ? "it is empty or new" : "it is another database (\(identity ?? ""))")
                : known.stoppedCleanly && (sequence < known.lastID || rows < known.rows)
                    ? "it holds \(rows) \(continuity.counted) and \(continuity.sequence) up to id \(sequence)"
                    : crashLoss
                        ? "it holds \(continuity.sequence) up to id \(sequence): the transactions since its last checkpoint are gone (its write-ahead log was damaged or lost), \(continuity.counted) changed since then too"
                        : nil
            if let lost {
                let held =
                    crashLoss
                    ? "\(markerPath) says \(continuity.sequence) up to id \(known.floor) were committed before resmond stopped without a clean stop (database \(known.database))"
                    : "\(markerPath) says it held \(known.stoppedCleanly ? "\(known.rows) \(continuity.counted) and " : "")\(continuity.sequence) up to id \(known.stoppedCleanly ? known.lastID : known.ceiling) (database \(known.database))"
                guard continuity.acceptLoss else {
                    throw StateLossError(description: "the state database \(path) lost its contents: \(held), but \(lost); \(what)")
                }
                report.append(
                    "the state database \(path) lost its contents: \(held), but \(lost); begun anew as --accept-state-loss asked, ids of \(continuity.sequence) continue above \(known.ceiling)"
                )
                database = StateMarker.newIdentity()
            } else if !known.stoppedCleanly && known.ceiling > sequence {
                report.append("resmond did not stop cleanly: ids of \(continuity.sequence) continue above \(known.ceiling), every id it may have handed out")
            }
            // Above every id that may have been handed out, unless the last stop was clean and nothing was lost.
            if !(known.stoppedCleanly && known.database == identity) { sequence = max(sequence, known.ceiling) }
        } else if identity != nil {
            // The marker is gone but the database is not new: above every id it recorded as reserved.
            let key = reservedKey(continuity)
            let reserved = Int64(try opened.execute("SELECT value FROM meta WHERE key = ?", [.text(key)]).first?.first?.text ?? "") ?? 0
            report.append(
                "\(markerPath) is missing: the state database \(path) cannot be checked for lost contents this time; ids of \(continuity.sequence) continue above \(max(sequence, reserved))"
            )
            sequence = max(sequence, reserved)
        }
        let chosen = database
        let next = sequence
        try opened.transaction {
            try opened.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('database', ?)", [.text(chosen)])
            try opened.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [.text(reservedKey(continuity)), .text(String(next + continuity.block))])
            try opened.execute("DELETE FROM sqlite_sequence WHERE name = ?", [.text(continuity.sequence)])
            try opened.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", [.text(continuity.sequence), .integer(next)])
        }
        // The identity goes into the database file itself, not only the write-ahead log.
        try opened.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        let marker = StateMarker(database: chosen, ceiling: next + continuity.block, floor: next, stoppedCleanly: false, lastID: next, rows: rows)
        try marker.write(markerPath)
        return (opened, marker, report)
    }
}
