import Dispatch
import Monitoring
import ResmonAPI
import ResmonSystem
import Server

/// A key of resmond.json that takes effect only at the next start, named as docs/CONFIG.md
/// names it, with where DaemonConfiguration holds it.
struct RestartOnlyKey {
    let name: String
    /// Whether `reloaded` asks for another value than the running one.
    let differs: (_ running: DaemonConfiguration, _ reloaded: DaemonConfiguration) -> Bool
    /// Puts the running value back into `reloaded`, so that status tells what is in force.
    let keep: (_ running: DaemonConfiguration, _ reloaded: inout DaemonConfiguration) -> Void

    init<Value: Equatable>(_ name: String, _ path: WritableKeyPath<DaemonConfiguration, Value>) {
        self.name = name
        differs = { $0[keyPath: path] != $1[keyPath: path] }
        keep = { $1[keyPath: path] = $0[keyPath: path] }
    }

    /// The one list: what binds a socket, opens the state or reads the token is read at start only.
    static var all: [RestartOnlyKey] {
        [
            RestartOnlyKey("stateDir", \.stateDirectory),
            RestartOnlyKey("http.socket", \.socket),
            RestartOnlyKey("http.socketGroup", \.socketGroup),
            RestartOnlyKey("http.listen", \.listen),
            RestartOnlyKey("http.maxRequestBytes", \.maxRequestBytes),
            RestartOnlyKey("http.threads", \.httpThreads),
            RestartOnlyKey("http.maxConnections", \.maxConnections),
            RestartOnlyKey("http.connectionsPerAddress", \.connectionsPerAddress),
            RestartOnlyKey("http.streamsPerAddress", \.streamsPerAddress),
            RestartOnlyKey("http.maxStreams", \.maxStreams),
            RestartOnlyKey("http.requestSeconds", \.requestSeconds),
            RestartOnlyKey("http.headerSeconds", \.headerSeconds),
            RestartOnlyKey("http.tokenFile", \.tokenFile),
            RestartOnlyKey("http.tlsCertificate", \.tlsCertificate),
            RestartOnlyKey("http.tlsKey", \.tlsKey),
            RestartOnlyKey("http.insecure", \.insecure),
            RestartOnlyKey("history.maxPluginStatistics", \.historyMaxPluginStatistics),
            RestartOnlyKey("collect.procRoot", \.procRoot),
            RestartOnlyKey("collect.sysRoot", \.sysRoot),
            // Alertmanager tells alerts apart by their labels: a new identity mid-run would leave
            // each firing alert twice, once under each.
            RestartOnlyKey("host", \.host),
            RestartOnlyKey("labels", \.labels)
        ]
    }
}

/// What a reload will do: the configuration to apply, with every restart-only key at its running
/// value, the restart-only keys the file changed, and monitors.d read and validated already
/// (the sampling thread only compares and swaps it in).
struct ReloadPlan: Sendable {
    let configuration: DaemonConfiguration
    let restartRequired: [String]
    /// monitors.d's entries, prepared off the sampling thread; nil: read it when applying.
    let monitorFiles: PreparedMonitorFiles?
    /// The monitors.d files that could not be used, and why.
    let monitorFileProblems: [String]

    init(
        running: DaemonConfiguration, reloaded: DaemonConfiguration, monitorFiles: PreparedMonitorFiles? = nil,
        monitorFileProblems: [String] = []
    ) {
        self.monitorFiles = monitorFiles
        self.monitorFileProblems = monitorFileProblems
        var applied = reloaded
        var changed: [String] = []
        for key in RestartOnlyKey.all {
            if key.differs(running, reloaded) { changed.append(key.name) }
            key.keep(running, &applied)
        }
        configuration = applied
        restartRequired = changed
    }
}

/// Reloads handed from whoever asks (signals, `POST /v1/reload`) to the sampling thread, which
/// applies them between samples; numbered so that an API caller can wait for its own.
final class ReloadRequests: Sendable {
    private struct State {
        var pending: ReloadPlan?
        var requested = 0
        var applied = 0
        /// Reloads applied: fewer than requested when requests merged into a pending one.
        var applications = 0
        /// What the last applied reload reported.
        var messages: [String] = []
        /// Why the last applied reload's monitors.d changes could not be written (nil: they were).
        var storageFailure: String?
        var waiters: [(generation: Int, semaphore: DispatchSemaphore)] = []
        /// Tickets given to reloads as they start reading, and the newest queued so far.
        var tickets = 0
        var newestQueued = 0
    }

    private let state = Lock(State())

    /// A number for a reload about to read the files: of two reloads preparing at once (a
    /// signal and `POST /v1/reload`), the one that read later wins, whichever finishes first.
    func ticket() -> Int {
        state.withLock { state in
            state.tickets += 1
            return state.tickets
        }
    }

    /// Queues `plan` (replacing one not yet applied: the newest file wins) and returns its
    /// number. A plan read before one already queued is dropped, and answered by that one.
    func submit(_ plan: ReloadPlan, ticket: Int? = nil) -> Int {
        state.withLock { state in
            let ticket = ticket ?? state.tickets + 1
            if ticket < state.newestQueued { return state.requested }
            state.tickets = max(state.tickets, ticket)
            state.newestQueued = ticket
            state.pending = plan
            state.requested += 1
            return state.requested
        }
    }

    /// The plan to apply now, if any, with its number (on the sampling thread).
    func take() -> (plan: ReloadPlan, generation: Int)? {
        state.withLock { state in
            guard let plan = state.pending else { return nil }
            state.pending = nil
            return (plan, state.requested)
        }
    }

    /// Records that reload `generation` has been applied and wakes those waiting for it.
    func finish(_ generation: Int, messages: [String], storageFailure: String? = nil) {
        let woken = state.withLock { state -> [DispatchSemaphore] in
            state.applied = generation
            state.applications += 1
            state.messages = messages
            state.storageFailure = storageFailure
            let ready = state.waiters.filter { $0.generation <= generation }
            state.waiters.removeAll { $0.generation <= generation }
            return ready.map(\.semaphore)
        }
        for semaphore in woken { semaphore.signal() }
    }

    /// How many reloads have been applied since the start (`/v1/status`'s `reloads`).
    var applications: Int { state.withLock { $0.applications } }

    /// What reload `generation` (or a later one that replaced it) reported, and why its
    /// monitors.d changes could not be written if they could not, or nil when it is not applied
    /// within `seconds`.
    func wait(for generation: Int, seconds: Double) -> (messages: [String], storageFailure: String?)? {
        let semaphore = DispatchSemaphore(value: 0)
        let done = state.withLock { state -> (messages: [String], storageFailure: String?)? in
            if state.applied >= generation { return (state.messages, state.storageFailure) }
            state.waiters.append((generation, semaphore))
            return nil
        }
        if let done { return done }
        if semaphore.wait(timeout: .now() + seconds) == .timedOut {
            state.withLock { state in state.waiters.removeAll { $0.semaphore === semaphore } }
        }
        return state.withLock { $0.applied >= generation ? ($0.messages, $0.storageFailure) : nil }
    }
}

/// Reads resmond.json again and queues it as a plan: on SIGHUP/SIGTTIN and `POST /v1/reload`.
struct Reloader: Sendable {
    let options: DaemonOptions
    let configuration: RunningConfiguration
    let requests: ReloadRequests
    /// Validates monitors.d's entries for the plan.
    let engine: MonitorEngine
    /// Wakes the sampling thread to apply it.
    let wake: @Sendable () -> Void

    /// Re-reads the file and `monitors.d` (reading and validating thousands of monitors takes
    /// a while: here, on the caller's thread) and hands the plan to the sampling thread, which
    /// applies it with `subsystems.d`. A bad file is reported and the running configuration kept.
    func reload() -> Result<(generation: Int, configFile: String, restartRequired: [String]), ReloadRefused> {
        let ticket = requests.ticket()
        let reloaded: DaemonConfiguration
        do {
            reloaded = try options.configuration()
            try reloaded.validateOnThisMachine()
        } catch {
            Log.error("reload refused, keeping the running configuration: \(error)")
            return .failure(ReloadRefused(message: "reload refused, keeping the running configuration: \(error)"))
        }
        let running = configuration.current
        let (declared, problems) = MonitorFileReader.read(configDirectory: reloaded.configDirectory)
        let plan = ReloadPlan(
            running: running, reloaded: reloaded, monitorFiles: engine.prepare(files: declared), monitorFileProblems: problems)
        if !plan.restartRequired.isEmpty {
            Log.warning("reload: \(plan.restartRequired.joined(separator: ", ")) changed and take effect at the next start")
        }
        let generation = requests.submit(plan, ticket: ticket)
        wake()
        Log.info("reloaded \(running.configFile) (step \(plan.configuration.step) s)")
        return .success((generation, running.configFile, plan.restartRequired))
    }

    /// `POST /v1/reload`: reloads, then waits (up to 30 s) until the sampling thread has applied
    /// it, so that the answer says what the reload did.
    func reloadAndWait() -> Result<ReloadResponse, ReloadRefused> {
        let asked: (generation: Int, configFile: String, restartRequired: [String])
        switch reload() {
        case .success(let value): asked = value
        case .failure(let refused): return .failure(refused)
        }
        let applied = requests.wait(for: asked.generation, seconds: 30)
        if let failure = applied?.storageFailure {
            return .failure(
                ReloadRefused(
                    message:
                        "the configuration is applied, but monitors.d's changes cannot be written to the state database (\(failure)): the monitors stay as they were, and the changes are retried at each cycle until they are written",
                    storage: true))
        }
        let messages = applied?.messages ?? ["the reload is queued: the sampling thread has not applied it within 30 s"]
        return .success(ReloadResponse(configFile: asked.configFile, restartRequired: asked.restartRequired, messages: messages))
    }
}

/// Reloads asked for by signals, merged: one runs at a time on a queue of its own (not the
/// signals', so that SIGTERM is never queued behind a long read of monitors.d), and any number
/// asked for while it runs become one more run, which reads the files as they are then.
final class CoalescedReloads: Sendable {
    private struct State {
        var running = false
        var again = false
    }

    private let state = Lock(State())
    private let queue = DispatchQueue(label: "resmond.reloader")
    private let reload: @Sendable () -> Void

    init(_ reload: @escaping @Sendable () -> Void) { self.reload = reload }

    /// Starts a reload, or when one is running, asks for one more after it.
    func request() {
        let start = state.withLock { state -> Bool in
            if state.running {
                state.again = true
                return false
            }
            state.running = true
            return true
        }
        if start { queue.async { [self] in run() } }
    }

    private func run() {
        while true {
            reload()
            let more = state.withLock { state -> Bool in
                if state.again {
                    state.again = false
                    return true
                }
                state.running = false
                return false
            }
            if !more { return }
        }
    }
}
