import History
import ResmonSystem
import Storage
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// History's snapshot file: restored before the first sample, written every
/// `history.snapshotSeconds` by the sampling thread (between two recordings) and once more at stop.
final class HistorySnapshotService: Service {
    let name = "history snapshots"
    private let history: HistoryStore
    private let configuration: RunningConfiguration
    /// Monotonic second of the last snapshot (or of the restore).
    private let lastSnapshot = Mutex<Double>(0)

    init(history: HistoryStore, configuration: RunningConfiguration) {
        self.history = history
        self.configuration = configuration
    }

    private var path: String { configuration.read { $0.stateDirectory } + "/history.snapshot" }

    /// Loads the last snapshot; a damaged one is moved aside and history starts empty.
    func start() {
        lastSnapshot.withLock { $0 = Clock.monotonic() }
        let path = self.path
        do {
            guard let bytes = try readWholeFile(path) else { return }
            let restored = try history.restore(bytes)
            Log.info("history restored: \(restored) statistics from \(path)")
        } catch {
            let aside = path + ".damaged-\(Int(Clock.wall()))"
            rename(path, aside)
            Log.error("history snapshot \(path) cannot be used (\(error)); moved to \(aside), starting with empty history")
        }
    }

    func stop(deadline: Double) { save() }

    /// Writes a snapshot when the last is `history.snapshotSeconds` old (a crash loses at most that).
    func saveIfDue() {
        let interval = Double(configuration.read { $0.historySnapshotSeconds })
        if Clock.monotonic() - lastSnapshot.withLock({ $0 }) >= interval { save() }
    }

    private func save() {
        lastSnapshot.withLock { $0 = Clock.monotonic() }
        do {
            try history.write(to: path)
        } catch {
            Log.error("history snapshot failed: \(error)")
        }
    }
}
