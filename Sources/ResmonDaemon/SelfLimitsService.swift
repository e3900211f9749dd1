import Dispatch
import Monitoring
import ResmonAPI
import ResmonSystem
import Statistics
import Synchronization

/// Every `limits.selfMonitoringSeconds`: resmond's CPU share of one core and its RSS against its
/// limits. Over either, new monitors and starts are refused (503 busy) until it is back under
/// both; existing monitors keep running. The first check also ends start-up: the pages only
/// start-up touched are given back.
final class SelfLimitsService: Service {
    let name = "self-limits"
    private let configuration: RunningConfiguration
    private let engine: MonitorEngine
    /// Its own queue: the check measures the process, not the sampling, and must not wait for it.
    private let queue = DispatchQueue(label: "resmond.self-limits", qos: .utility)
    private let timer = Mutex<(any DispatchSourceTimer)?>(nil)
    /// The last check: when (monotonic), process CPU seconds then, and what it measured.
    private let last = Mutex<(time: Double, cpu: Double, cpuPercent: Double?, memoryMB: Double?)>((0, 0, nil, nil))
    private let startupPagesReleased = Atomic<Bool>(false)

    init(configuration: RunningConfiguration, engine: MonitorEngine) {
        self.configuration = configuration
        self.engine = engine
    }

    /// The limits in force and the last measurements, for `/v1/status`.
    func limits(_ configuration: DaemonConfiguration) -> SelfLimits {
        last.withLock { check in
            SelfLimits(
                cpuPercent: configuration.cpuLimitPercent, memoryMB: configuration.memoryLimitMB,
                selfMonitoringSeconds: configuration.selfMonitoringSeconds,
                measuredCPUPercent: check.cpuPercent, measuredMemoryMB: check.memoryMB)
        }
    }

    func start() {
        let now = Clock.monotonic()
        let cpu = Clock.processCPU()
        last.withLock {
            $0.time = now; $0.cpu = cpu
        }
        // Made inside the lock: a dispatch source is not Sendable, so it never leaves it.
        timer.withLock { timer in
            let source = DispatchSource.makeTimerSource(queue: queue)
            source.setEventHandler { [self] in check() }
            timer = source
        }
        schedule()
        timer.withLock { $0?.resume() }
    }

    func stop(deadline: Double) {
        timer.withLock { timer in
            timer?.cancel()
            timer = nil
        }
    }

    /// After a reload: the next check comes `selfMonitoringSeconds` after the last one.
    func periodChanged() { schedule() }

    /// Arms the timer for one period after the last check (at once when that has passed).
    private func schedule() {
        let period = Double(configuration.read { $0.selfMonitoringSeconds })
        let due = last.withLock { $0.time } + period
        let delay = max(0, due - Clock.monotonic())
        timer.withLock { $0?.schedule(deadline: .now() + .nanoseconds(Int(delay * 1e9)), leeway: .milliseconds(100)) }
    }

    private func check() {
        let (cpuLimit, memoryLimit, releasePages) = configuration.read { ($0.cpuLimitPercent, $0.memoryLimitMB, $0.releaseStartupPages) }
        let now = Clock.monotonic()
        let cpu = Clock.processCPU()
        let (elapsed, used) = last.withLock { check in
            defer { check.time = now; check.cpu = cpu }
            return (now - check.time, cpu - check.cpu)
        }
        schedule()
        releaseStartupPagesOnce(releasePages)
        guard elapsed > 0 else { return }
        let cpuPercent = used / elapsed * 100
        let memoryMB = HostFacts.residentBytes() / 1_048_576
        last.withLock {
            $0.cpuPercent = cpuPercent; $0.memoryMB = memoryMB
        }
        var reasons: [String] = []
        if cpuPercent > cpuLimit { reasons.append("CPU \((cpuPercent * 10).rounded() / 10) % of a core > limit \(cpuLimit) %") }
        if memoryMB > Double(memoryLimit) { reasons.append("RSS \((memoryMB * 10).rounded() / 10) MB > limit \(memoryLimit) MB") }
        let reason = reasons.isEmpty ? nil : reasons.joined(separator: ", ")
        let before = engine.busy
        engine.setBusy(reason)
        if let reason, before == nil { Log.warning("over the self-limits (\(reason)): refusing new monitors") }
        if reason == nil, before != nil { Log.info("back under the self-limits: accepting new monitors") }
    }

    /// At the first check (15 s after start by default) start-up is over: the pages only it
    /// touched are given back (StartupPages). Code that runs later, such as the minute's history
    /// snapshot, faults its pages back in when it first runs.
    private func releaseStartupPagesOnce(_ release: Bool) {
        guard startupPagesReleased.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        guard release else {
            Log.info("start-up pages kept (limits.releaseStartupPages is false)")
            return
        }
        let before = HostFacts.residentBytes()
        let advised = StartupPages.release()
        guard advised > 0 else {
            Log.info("this kernel does not reclaim pages on request (MADV_PAGEOUT needs Linux 5.4); start-up pages stay mapped")
            return
        }
        let after = HostFacts.residentBytes()
        func mib(_ bytes: Double) -> String { "\((bytes / 1_048_576 * 10).rounded() / 10) MiB" }
        Log.info("released start-up pages (\(mib(Double(advised))) of private file mappings advised): RSS \(mib(before)) → \(mib(after))")
    }
}
