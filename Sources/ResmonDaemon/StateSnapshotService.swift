import Dispatch
import Monitoring
import ResmonSystem
import Synchronization

/// The monitors' state snapshot (MonitorEngine+Snapshot) every minute, on `resmond.state-writer`:
/// what moves between transitions is encoded and written there, chunk by chunk, so that the
/// sampling thread's cycles never carry it. Stops before the sampling service, whose stop
/// writes every monitor's state.
final class StateSnapshotService: Service {
    let name = "state snapshots"
    private let engine: MonitorEngine
    private let queue = DispatchQueue(label: "resmond.state-writer", qos: .utility)
    private let timer = Lock<(any DispatchSourceTimer)?>(nil)
    private let stopping = Atomic<Bool>(false)
    /// Seconds between snapshots: a crash forgets at most this much movement.
    static let interval = 60

    init(engine: MonitorEngine) { self.engine = engine }

    func start() {
        // Made inside the lock: a dispatch source is not Sendable, so it never leaves it.
        timer.withLock { timer in
            let source = DispatchSource.makeTimerSource(queue: queue)
            source.setEventHandler { [self] in
                engine.writeStateSnapshot { stopping.load(ordering: .acquiring) }
            }
            let interval = DispatchTimeInterval.seconds(StateSnapshotService.interval)
            source.schedule(deadline: .now() + interval, repeating: interval, leeway: .seconds(1))
            source.resume()
            timer = source
        }
    }

    /// Ends the timer; a snapshot under way ends after its chunk.
    func stop(deadline: Double) {
        stopping.store(true, ordering: .releasing)
        timer.withLock { timer in
            timer?.cancel()
            timer = nil
        }
        let idle = DispatchSemaphore(value: 0)
        queue.async { idle.signal() }
        _ = idle.wait(timeout: .now() + .nanoseconds(Int(max(0, deadline - Clock.monotonic()) * 1e9)))
    }
}
