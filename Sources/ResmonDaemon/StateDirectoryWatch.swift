import Dispatch
import ResmonSystem
import Storage

#if canImport(Glibc)
    import Glibc
#endif

/// Notices the state database's file leaving its path under a running resmond — the state
/// directory removed, its file system unmounted, the file replaced — and puts what it holds back.
/// SQLite keeps writing to the file it opened, which no path reaches any more: before, resmond
/// did not notice, and everything acknowledged after that was lost at its next start (issue 23).
///
/// Every 5 s, after each write that finds the file gone from its path (before the writer
/// acknowledges what it wrote: `StateDatabase.whenLeftItsPath`), and once more when resmond
/// stops: when nothing is at the path, the directory is made again (a file system unmounted
/// leaves its mount point, so the state goes there), the instance lock taken again (another
/// resmond started on the directory meanwhile keeps it, and the state stays in memory), and the
/// open database written back (`StateDatabase.writeBack`); resmond goes on with that file. When
/// another file is at the path, it is left alone: a copy of the open database is kept beside it
/// (`state.db.kept-TIME`, and `…-at-stop` after the other services' last writes) and the problem
/// stays in the log and in `/v1/status` until an administrator settles it. The Unix socket, when
/// it went with the directory, is bound again on the timer's look, once the state is back and
/// this resmond holds the directory's lock: the socket server takes the new socket's connections
/// as its own (`HTTPServer.adopt`).
final class StateDirectoryWatch: Service {
    let name = "state directory watch"
    static let interval = 5

    private let database: StateDatabase
    private let http: HTTPService
    private let directory: String
    private let group: gid_t?
    private let queue = DispatchQueue(label: "resmond.state-watch", qos: .utility)
    private let timer = Lock<(any DispatchSourceTimer)?>(nil)
    private struct State {
        var problem: String?
        /// The instance lock taken again after a write-back (the first one's file is gone).
        var lock: InstanceLock?
        var keptCopy: String?
        var socketProblem: String?
        /// When the last write-back failed (monotonic seconds); nil after one succeeded.
        var failedAt: Double?
    }
    private let state = Lock(State())

    init(database: StateDatabase, http: HTTPService, directory: String, group: gid_t?) {
        self.database = database
        self.http = http
        self.directory = directory
        self.group = group
    }

    /// Why the state (or the Unix socket) is not where it belongs, for `/v1/status`; nil when it is.
    var problem: String? { state.withLock { $0.problem ?? $0.socketProblem } }

    func start() {
        database.whenLeftItsPath { [weak self] in self?.checkNow() }
        timer.withLock { timer in
            let source = DispatchSource.makeTimerSource(queue: queue)
            source.setEventHandler { [self] in check(.timer) }
            let interval = DispatchTimeInterval.seconds(StateDirectoryWatch.interval)
            source.schedule(deadline: .now() + interval, repeating: interval, leeway: .seconds(1))
            source.resume()
            timer = source
        }
    }

    /// Ends the timer and checks once more, so that a stop right after the directory went still
    /// writes the state back before the other services' last writes.
    func stop(deadline: Double) {
        timer.withLock { timer in
            timer?.cancel()
            timer = nil
        }
        queue.sync { check(.stopping) }
    }

    /// After every other service has stopped, before the database is closed: the copy kept
    /// beside another file at the stop holds their last writes too.
    func lastLook() {
        queue.sync { check(.stopped) }
    }

    /// Looks at once, on the writer's thread (which may hold the monitor engine's lock: nothing
    /// here takes it): a write found the file gone from its path.
    func checkNow() {
        queue.sync { check(.afterWrite) }
    }

    /// When the watch looks.
    enum Moment {
        case timer
        /// A write found the file gone from its path (`checkNow`).
        case afterWrite
        /// At the watch's stop, before the other services' last writes.
        case stopping
        /// After them (`lastLook`).
        case stopped
    }

    func check(_ moment: Moment) {
        switch database.whereabouts {
        case .inPlace:
            let cleared = state.withLock { state in
                defer { state.problem = nil }
                return state.problem
            }
            if let problem = cleared {
                Log.info("the state database is at \(database.path) again (was: \(problem))")
            }
        case .gone:
            // A write-back that failed is retried by the timer, not by every write meanwhile:
            // each would copy the whole database again, the engine's lock held.
            let failedRecently = state.withLock { state in
                state.failedAt.map { Clock.monotonic() - $0 < Double(StateDirectoryWatch.interval) } ?? false
            }
            if moment != .afterWrite || !failedRecently { writeBack() }
        case .replaced:
            // The copy at the stop waits for the last writes.
            if moment == .timer || moment == .stopped { keepCopy(stopping: moment == .stopped) }
        }
        if moment == .timer { bindSocketAgain() }
    }

    /// The Unix socket, removed with the state directory (or by itself), bound again: only
    /// while the state is in place and this resmond holds the directory's instance lock (another
    /// resmond started on the directory meanwhile owns what is there).
    private func bindSocketAgain() {
        guard http.unixSocketIsGone, database.whereabouts == .inPlace, InstanceLock.isHeldByThisProcess(directory: directory) else {
            return
        }
        do {
            guard try http.rebindUnixSocket() else { return }
            state.withLock { $0.socketProblem = nil }
            Log.warning("the Unix socket was gone from its path; resmond bound it again")
        } catch {
            let changed = state.withLock { state in
                defer { state.socketProblem = error.description }
                return state.socketProblem != error.description
            }
            if changed {
                Log.error("\(error); resmond tries again every \(StateDirectoryWatch.interval) s, and answers on its TCP listener if it has one")
            }
        }
    }

    private func writeBack() {
        let what = "\(database.path) is gone (its directory removed, or its file system unmounted)"
        do {
            try makeDirectories(directory, mode: StatePermissions.directoryMode)
            try StateDirectoryWatch.checkOwnership(directory)
            // Only the database's files gone, the lock file is still the one this resmond holds.
            let lock = InstanceLock.isHeldByThisProcess(directory: directory) ? nil : try InstanceLock(directory: directory)
            if let warning = try database.writeBack() { Log.warning(warning) }
            for problem in StatePermissions.apply(stateDirectory: directory, group: group) { Log.warning(problem) }
            state.withLock { state in
                if let lock { state.lock = lock }
                state.problem = nil
                state.failedAt = nil
            }
            Log.error(
                "\(what): resmond wrote the state database it had open back to \(database.path) — every monitor and event "
                    + "it acknowledged — and goes on with it")
        } catch {
            state.withLock { $0.failedAt = Clock.monotonic() }
            report(
                "\(what), and resmond cannot write its state back: \(error). It keeps it in the database it has open; make "
                    + "\(directory) writable and resmond writes it back within \(StateDirectoryWatch.interval) s — do not "
                    + "stop resmond before, or what it holds since is lost")
        }
    }

    /// Made again, the directory must be resmond's: a directory another user made at the path
    /// (where its parent lets them) would receive the state.
    static func checkOwnership(_ directory: String) throws(StorageError) {
        var status = stat()
        guard lstat(directory, &status) == 0 else { throw StorageError("cannot examine \(directory): \(Errno.current)") }
        guard status.st_mode & S_IFMT == S_IFDIR, status.st_uid == geteuid(), status.st_mode & 0o022 == 0 else {
            throw StorageError(
                "\(directory) is not a directory of resmond's user that only it may write (a symbolic link, another owner, or writable by others)")
        }
    }

    /// Keeps one copy from when the replacement was noticed, and one at the stop (`stopping`).
    private func keepCopy(stopping: Bool) {
        let made = state.withLock { $0.keptCopy }
        var copy = made
        if made == nil || stopping {
            let name = database.path + ".kept-\(Int(Clock.wall()))" + (stopping ? "-at-stop" : "")
            do {
                try database.keepCopy(at: name)
                copy = name
                state.withLock { $0.keptCopy = name }
            } catch {
                Log.error("cannot keep a copy of the state database: \(error)")
            }
        }
        let kept = copy != nil
        report(
            "another file is at \(database.path) now (replaced, or another resmond started on \(directory)); resmond goes on with the database it opened, which no path reaches"
                + (kept ? ", and kept a copy of it at \(copy ?? "") as of \(stopping ? "its stop" : "when it noticed")" : "")
                + ": stop resmond, then put the copy or the new file in place as state.db and start it again")
    }

    /// Logs a problem when it starts or changes, and keeps it for `/v1/status`.
    private func report(_ problem: String) {
        let changed = state.withLock { state in
            defer { state.problem = problem }
            return state.problem != problem
        }
        if changed { Log.error(problem) }
    }
}
