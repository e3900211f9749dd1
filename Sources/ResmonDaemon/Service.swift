import Dispatch
import ResmonSystem
import Synchronization

/// A long-running part of resmond (swift-service-lifecycle's shape, written small): a
/// `ServiceGroup` starts it after the services it depends on and stops it before them.
protocol Service: AnyObject, Sendable {
    /// How the log names it when its stop overruns.
    var name: String { get }
    /// Brings the service up and returns once it is up; a throw stops the services started
    /// before it, in reverse, and ends start-up.
    func start() throws
    /// Ends the service. Waits it can bound end by `deadline` (a `Clock.monotonic()` time); the
    /// group goes on without a service still stopping shortly after it.
    func stop(deadline: Double)
}

/// Starts services in dependency order and stops them in reverse, each stop with a deadline.
final class ServiceGroup: Sendable {
    struct Member: Sendable {
        let service: any Service
        /// Seconds its stop may take.
        let stopSeconds: Double
    }

    private let members: [Member]
    /// How many members have started, so that a failed start stops only those.
    private let started = Lock<Int>(0)
    /// Past its deadline a stop may still finish bounded work (a save after a bounded wait);
    /// only beyond this is it reported and left behind.
    private static let grace = 2.0

    init(_ members: [Member]) { self.members = members }

    func start() throws {
        for member in members {
            do {
                try member.service.start()
            } catch {
                stop()
                throw error
            }
            started.withLock { $0 += 1 }
        }
    }

    /// Stops the started services in reverse order. Each stops on a thread of its own, so a
    /// stop that hangs (a stuck plug-in, a wedged client) cannot hold up the ones after it.
    func stop() {
        let count = started.withLock { count in
            defer { count = 0 }; return count
        }
        for member in members.prefix(count).reversed() {
            let deadline = Clock.monotonic() + member.stopSeconds
            let finished = DispatchSemaphore(value: 0)
            let service = member.service
            DispatchQueue.global().async {
                service.stop(deadline: deadline)
                finished.signal()
            }
            if finished.wait(timeout: .now() + member.stopSeconds + ServiceGroup.grace) == .timedOut {
                Log.warning("\(service.name) did not stop within \(member.stopSeconds) s; stopping the rest without it")
            }
        }
    }
}

/// A one-shot request that many may make and one waits for: resmond's stop.
final class StopRequest: Sendable {
    private let requested = Atomic<Bool>(false)
    private let signal = DispatchSemaphore(value: 0)

    var isRequested: Bool { requested.load(ordering: .acquiring) }

    /// Returns whether this call was the first.
    @discardableResult
    func request() -> Bool {
        guard !requested.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        signal.signal()
        return true
    }

    func wait() { signal.wait() }
}

/// A value bound once after construction, for two parts that each need the other (the event
/// stream hub reads the monitor engine's log; the engine publishes to the hub).
final class LateBound<Value: Sendable>: Sendable {
    private let storage = Lock<Value?>(nil)
    init() {}
    func bind(_ value: Value) { storage.withLock { $0 = value } }
    var value: Value? { storage.withLock { $0 } }
}

/// The configuration in force, replaced whole by an applied reload and read by every service.
final class RunningConfiguration: Sendable {
    private let storage: Lock<DaemonConfiguration>
    init(_ configuration: DaemonConfiguration) { storage = Lock(configuration) }
    var current: DaemonConfiguration { storage.withLock { $0 } }
    func read<Value: Sendable>(_ body: (DaemonConfiguration) -> Value) -> Value { storage.withLock { body($0) } }
    func replace(with configuration: DaemonConfiguration) { storage.withLock { $0 = configuration } }
}
