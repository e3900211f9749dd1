import Dispatch
import History
import ResmonAPI
import ResmonSystem
import Storage
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// History's snapshot file: restored before the first sample, written every
/// `history.snapshotSeconds` on a thread of its own (the sampling thread only starts it, between
/// two recordings) and once more at stop. Written on the sampling thread, a 133 MB snapshot held
/// the sampler 13 s (issue 22, third attack); the store is encoded a 64 KiB piece at a time under
/// its lock, so recording goes on between pieces and nothing is copied.
final class HistorySnapshotService: Service {
    let name = "history snapshots"
    private let history: HistoryStore
    private let configuration: RunningConfiguration
    /// Monotonic second of the last snapshot (or of the restore).
    private let lastSnapshot = Lock<Double>(0)
    private let writer = DispatchQueue(label: "resmond.history-snapshot", qos: .utility)
    /// A snapshot is being written: the next one waits for it rather than queueing behind it.
    private let writing = Atomic<Bool>(false)
    /// What the last snapshot cost, for `/v1/status` (nil until one is written).
    private let lastWritten = Lock<HistorySnapshotReport?>(nil)

    /// The last snapshot written: when, its size, and its wall and CPU time.
    var lastReport: HistorySnapshotReport? { lastWritten.withLock { $0 } }

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

    func stop(deadline: Double) {
        writer.sync {}
        save()
    }

    /// Starts writing a snapshot when the last is `history.snapshotSeconds` old (a crash loses at
    /// most that) and none is being written.
    func saveIfDue() {
        let interval = Double(configuration.read { $0.historySnapshotSeconds })
        guard Clock.monotonic() - lastSnapshot.withLock({ $0 }) >= interval else { return }
        guard writing.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        lastSnapshot.withLock { $0 = Clock.monotonic() }
        writer.async { [self] in
            save()
            writing.store(false, ordering: .releasing)
        }
    }

    private func save() {
        let started = (wall: Clock.monotonic(), cpu: Clock.threadCPU())
        lastSnapshot.withLock { $0 = started.wall }
        do {
            try history.write(to: path)
            var status = stat()
            let bytes = stat(path, &status) == 0 ? Int(status.st_size) : nil
            let report = HistorySnapshotReport(
                time: Clock.wall(), bytes: bytes, wallSeconds: Clock.monotonic() - started.wall, cpuSeconds: Clock.threadCPU() - started.cpu)
            lastWritten.withLock { $0 = report }
        } catch {
            Log.error("history snapshot failed: \(error)")
        }
    }
}
