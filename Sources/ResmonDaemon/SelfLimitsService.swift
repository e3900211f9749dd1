import Dispatch
import History
import Monitoring
import ResmonAPI
import ResmonSystem
import Server
import Statistics
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Every `limits.selfMonitoringSeconds`: resmond's steady CPU load (SteadyLoad) and its RSS
/// against its limits. Over either, new monitors and starts are refused (503 busy) until it is
/// back under both; existing monitors keep running. The first check also ends start-up: the
/// pages only start-up touched are given back.
final class SelfLimitsService: Service {
    let name = "self-limits"
    private let configuration: RunningConfiguration
    private let engine: MonitorEngine
    private let table: SampleTable
    private let history: HistoryStore
    private let requestWork: RequestWork
    /// Its own queue: the check measures the process, not the sampling, and must not wait for it.
    private let queue = DispatchQueue(label: "resmond.self-limits", qos: .utility)
    private let timer = Lock<(any DispatchSourceTimer)?>(nil)

    /// The last check: when (monotonic), the process's and the API requests' CPU seconds then,
    /// and what it measured.
    private struct Check {
        var time = 0.0
        var cpu = 0.0
        var requests = 0.0
        var load = SteadyLoad()
        var periodPercent: Double?
        var memoryMB: Double?
        var memoryUse: String?
    }
    private let last = Lock(Check())
    private let startupPagesReleased = Atomic<Bool>(false)

    init(configuration: RunningConfiguration, engine: MonitorEngine, table: SampleTable, history: HistoryStore, requestWork: RequestWork) {
        self.requestWork = requestWork
        self.configuration = configuration
        self.engine = engine
        self.table = table
        self.history = history
    }

    /// The limits in force and the last measurements, for `/v1/status`.
    func limits(_ configuration: DaemonConfiguration) -> SelfLimits {
        last.withLock { check in
            SelfLimits(
                cpuPercent: configuration.cpuLimitPercent, memoryMB: configuration.memoryLimitMB,
                selfMonitoringSeconds: configuration.selfMonitoringSeconds,
                measuredCPUPercent: check.load.percent, measuredMemoryMB: check.memoryMB,
                periodCPUPercent: check.periodPercent, memoryUse: check.memoryUse)
        }
    }

    func start() {
        let now = Clock.monotonic()
        let cpu = Clock.processCPU()
        let requests = requestWork.totalSeconds
        last.withLock {
            $0.time = now; $0.cpu = cpu; $0.requests = requests
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
        let requests = requestWork.totalSeconds
        releaseStartupPagesOnce(releasePages)
        let memoryMB = HostFacts.residentBytes() / 1_048_576
        let use = memoryUse()
        let measured = last.withLock { check -> (steady: Double, period: Double)? in
            defer {
                check.time = now; check.cpu = cpu; check.requests = requests
            }
            let elapsed = now - check.time
            guard elapsed > 0 else { return nil }
            let used = cpu - check.cpu
            let steady = check.load.record(cpuSeconds: used, requestSeconds: requests - check.requests, elapsed: elapsed)
            check.periodPercent = used / elapsed * 100
            check.memoryMB = memoryMB
            check.memoryUse = use
            return (steady, used / elapsed * 100)
        }
        // From this check's time, now recorded: armed before it, the timer fired at once, again and again.
        schedule()
        guard let measured else { return }
        func rounded(_ value: Double) -> Double { (value * 10).rounded() / 10 }
        var reasons: [String] = []
        if measured.steady > cpuLimit {
            reasons.append(
                "CPU \(rounded(measured.steady)) % of a core (steady load: sampling and evaluation, without the API's requests, over about a minute) > limit \(cpuLimit) %"
            )
        }
        if memoryMB > Double(memoryLimit) {
            reasons.append("RSS \(rounded(memoryMB)) MB > limit \(memoryLimit) MB (\(use); raise limits.memoryMB or remove monitors)")
        }
        let reason = reasons.isEmpty ? nil : reasons.joined(separator: ", ")
        let before = engine.busy
        engine.setBusy(reason)
        if let reason, before == nil { Log.warning("over the self-limits (\(reason)): refusing new monitors") }
        if reason == nil, before != nil { Log.info("back under the self-limits: accepting new monitors") }
    }

    /// What uses the memory, for the memory limit's answer: what the limit counts (all of RSS:
    /// anonymous memory and the file-backed pages of code and libraries, measured), then the
    /// estimates of its parts: the monitors (from their tables), history's archives, and what
    /// live regular expressions may take at most (their reservations, not what they use:
    /// docs/API.md, "Regular expressions"). The attack read "regular expressions up to 16.8 MB
    /// reserved" while all anonymous memory was 13.9 MB, and 22 MB of code went unmentioned.
    private func memoryUse() -> String {
        func megabytes(_ bytes: Double) -> String { "\((bytes / 1_048_576 * 10).rounded() / 10) MB" }
        let patterns = BoundedRegex.budget.reserved.total
        let measured =
            HostFacts.residentKinds().map {
                "RSS measured: \(megabytes($0.anonymous)) anonymous (data) + \(megabytes($0.file)) file-backed (code and libraries); "
            } ?? ""
        return measured + "estimated: monitors ≈ \(megabytes(Double(engine.approximateBytes))) for \(engine.count), "
            + "history \(megabytes(Double(history.memoryBytes))) for \(history.count) statistics, \(table.count) statistics sampled, "
            + "regular expressions may use up to \(megabytes(Double(patterns))) (reserved, not measured; part of the anonymous)"
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

/// resmond's steady CPU load, percent of one core, as the CPU self-limit judges it: each
/// period's CPU less what the API's requests used (a client's requests are its own work, bounded
/// per requester by RequestWork, not the load the monitors put on the host: a user's churn or a
/// TCP read loop must not refuse root's new monitors), averaged exponentially with a time
/// constant of a minute, so that one busy period does not refuse the next batch of a bulk load
/// while a load that lasts crosses the limit within a few minutes.
struct SteadyLoad {
    /// The average's time constant, seconds.
    static let window = 60.0
    /// The average so far; nil before the first period.
    private(set) var percent: Double?

    /// Adds a period of `elapsed` seconds in which the process used `cpuSeconds`, of which
    /// `requestSeconds` in the API's requests; returns the new average.
    mutating func record(cpuSeconds: Double, requestSeconds: Double, elapsed: Double) -> Double {
        guard elapsed > 0 else { return percent ?? 0 }
        let share = max(0, cpuSeconds - max(0, requestSeconds)) / elapsed * 100
        let previous = percent ?? 0
        let weight = 1 - exp(-elapsed / SteadyLoad.window)
        let average = previous + weight * (share - previous)
        percent = average
        return average
    }
}
