import Dispatch
import FoundationEssentials
import ResmonAPI
import ResmonSystem
import Storage
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One configured delivery path for events (`sinks` in resmond.json; docs/EVENTS.md).
public struct SinkConfiguration: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// RFC 5424 datagrams to a Unix socket (`/dev/log`) or a UDP address.
        case syslog(SyslogTarget, facility: Int, appName: String)
        /// One JSON POST per event.
        case webhook(url: String, headers: [String: String], timeoutSeconds: Double)
        /// A program per event: the event as JSON on stdin and as RESMON_* variables.
        case exec(command: [String], timeoutSeconds: Double, concurrency: Int)
        /// Alertmanager API v2: raised monitors are firing alerts, re-sent while raised.
        case alertmanager(url: String, resendSeconds: Double, timeoutSeconds: Double)

        public var name: String {
            switch self {
            case .syslog: "syslog"
            case .webhook: "webhook"
            case .exec: "exec"
            case .alertmanager: "alertmanager"
            }
        }
    }

    public enum SyslogTarget: Sendable, Equatable {
        case unixSocket(String)
        case udp(host: String, port: Int)
    }

    public var name: String
    public var kind: Kind
    /// Only events matching this filter are delivered (docs/EVENTS.md grammar).
    public var filter: String?
    /// The longest wait between two attempts after failures.
    public var maximumBackoffSeconds: Double

    public init(name: String, kind: Kind, filter: String? = nil, maximumBackoffSeconds: Double = 300) {
        self.name = name
        self.kind = kind
        self.filter = filter
        self.maximumBackoffSeconds = maximumBackoffSeconds
    }
}

/// What a transport made of one event.
public enum DeliveryResult: Sendable, Equatable {
    case delivered
    /// The receiver refused it for good (a 4xx); logged and skipped, never retried.
    case rejected(String)
    /// Try again later (receiver down, 5xx, timeout), from this event on: nothing is skipped.
    case retry(String)
}

/// Delivers events to one kind of receiver.
public protocol SinkTransport: AnyObject, Sendable {
    /// Delivers `event` of uid `owner` (its monitor's owner, or the application that appended
    /// it: an application's `monitorId` is in its own uid's namespace).
    func deliver(_ event: EventRecord, owner: Int) -> DeliveryResult
    /// Called about once a second while the sink is idle (Alertmanager re-sends firing alerts).
    func idle(now: Double)
}

extension SinkTransport {
    public func idle(now: Double) {}
}

/// Runs every configured sink, each on its own thread, reading the durable event log after the
/// sink's own cursor — the log is the outbox: a sink that is down falls behind and catches up,
/// across restarts too. Each uid's events wait in a queue of their own, served in turn
/// (SinkQueues): another uid's backlog never holds root's events; a uid other than root that
/// has more waiting than its share has the excess dropped for the sink, counted and logged. Cursors live in `sink_cursors`; a new sink
/// starts at the newest event (it does not replay the past).
public final class SinkRunner: Sendable {
    public static let schema = [
        "CREATE TABLE sink_cursors (name TEXT PRIMARY KEY, after INTEGER NOT NULL)",
        "CREATE TABLE sink_alerts (sink TEXT NOT NULL, monitor_id TEXT NOT NULL, alert TEXT NOT NULL, PRIMARY KEY (sink, monitor_id))"
    ]

    /// The migration that keys firing alerts by their owner's uid too (issue 22: another user's
    /// cancel of an application's `monitorId` resolved root's alert). A stored alert's owner is
    /// its raise's (the `event` annotation) while the log has it, else the application's `uid`
    /// label, its monitor's owner, its template's owner, root.
    public static let ownerSchema = [
        """
        CREATE TABLE sink_alerts_owned (sink TEXT NOT NULL, owner INTEGER NOT NULL, monitor_id TEXT NOT NULL, alert TEXT NOT NULL,
            PRIMARY KEY (sink, owner, monitor_id))
        """,
        """
        INSERT OR REPLACE INTO sink_alerts_owned (sink, owner, monitor_id, alert)
        SELECT a.sink, COALESCE(
            (SELECT e.owner FROM events e WHERE json_valid(a.alert) AND e.id = CAST(json_extract(a.alert, '$.annotations.event') AS INTEGER)),
            CASE WHEN json_valid(a.alert) AND json_extract(a.alert, '$.labels.source') = 'application'
                THEN CAST(json_extract(a.alert, '$.labels.uid') AS INTEGER) END,
            (SELECT m.owner FROM monitors m WHERE m.id = a.monitor_id),
            (SELECT m.owner FROM instance_state i JOIN monitors m ON m.id = i.template WHERE i.id = a.monitor_id),
            0), a.monitor_id, a.alert
        FROM sink_alerts a
        """,
        "DROP TABLE sink_alerts",
        "ALTER TABLE sink_alerts_owned RENAME TO sink_alerts"
    ]

    private let workers: Lock<[SinkWorker]>
    private let database: StateDatabase

    public init(database: StateDatabase) {
        self.database = database
        self.workers = Lock([])
    }

    /// Starts (or, on reload, restarts) the configured sinks; unchanged ones keep running.
    public func configure(
        _ sinks: [SinkConfiguration], host: String,
        log: @escaping @Sendable (String) -> Void
    ) {
        let stale: [SinkWorker] = workers.withLock { running in
            var keep: [SinkWorker] = []
            var stop: [SinkWorker] = []
            for worker in running {
                if sinks.contains(worker.configuration) { keep.append(worker) } else { stop.append(worker) }
            }
            for configuration in sinks where !keep.contains(where: { $0.configuration == configuration }) {
                let transport = SinkRunner.transport(for: configuration, database: database, host: host, log: log)
                let filter = configuration.filter.flatMap { try? EventFilter($0, holder: .root) }
                let worker = SinkWorker(
                    configuration: configuration, filter: filter, transport: transport,
                    database: database, log: log)
                worker.start()
                keep.append(worker)
            }
            running = keep
            return stop
        }
        for worker in stale { worker.stop() }
    }

    /// New events are in the log.
    public func wake() {
        for worker in workers.withLock({ $0 }) { worker.wake() }
    }

    public func statuses() -> [SinkStatus] {
        workers.withLock { $0 }.map { $0.status() }.sorted { $0.name < $1.name }
    }

    public func stop() {
        let all = workers.withLock { running in
            defer { running = [] }; return running
        }
        for worker in all { worker.stop() }
    }

    static func transport(
        for configuration: SinkConfiguration, database: StateDatabase, host: String,
        log: @escaping @Sendable (String) -> Void
    ) -> any SinkTransport {
        switch configuration.kind {
        case .syslog(let target, let facility, let appName):
            return SyslogTransport(target: target, facility: facility, appName: appName, host: host)
        case .webhook(let url, let headers, let timeout):
            return WebhookTransport(url: url, headers: headers, timeoutSeconds: timeout)
        case .exec(let command, let timeout, let concurrency):
            return ExecTransport(command: command, timeoutSeconds: timeout, concurrency: concurrency, log: log)
        case .alertmanager(let url, let resend, let timeout):
            return AlertmanagerTransport(
                sink: configuration.name, url: url, resendSeconds: resend, timeoutSeconds: timeout,
                host: host, database: database, log: log)
        }
    }
}

/// One sink's delivery loop.
/// Sendable by hand: what other threads read (`progress`, `stopping`) is behind a Lock or
/// atomic; the transport and cursor are used by the worker's own thread only.
final class SinkWorker: @unchecked Sendable {
    // `progress` is guarded by its lock; the rest is set in init.
    let configuration: SinkConfiguration
    private let filter: EventFilter?
    private let transport: any SinkTransport
    /// Cursors (`sink_cursors`, this module's table) are read and written here; events are read
    /// from the log's store.
    private let database: StateDatabase
    private let events: EventStore
    private let log: @Sendable (String) -> Void
    private let signal = DispatchSemaphore(value: 0)
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let progress: Lock<SinkStatus>
    private static let page = 200

    init(
        configuration: SinkConfiguration, filter: EventFilter?, transport: any SinkTransport, database: StateDatabase,
        log: @escaping @Sendable (String) -> Void
    ) {
        self.configuration = configuration
        self.filter = filter
        self.transport = transport
        self.database = database
        self.events = EventStore(database: database)
        self.log = log
        progress = Lock(
            SinkStatus(
                name: configuration.name, type: configuration.kind.name, filter: configuration.filter,
                after: 0, delivered: 0, rejected: 0, retries: 0, lastError: nil, retryAt: nil))
    }

    func start() {
        DispatchQueue(label: "resmond.sink." + configuration.name, qos: .utility).async { [self] in
            run()
            finished.signal()
        }
    }

    func wake() { signal.signal() }

    func stop() {
        stopping.store(true, ordering: .releasing)
        signal.signal()
        _ = finished.wait(timeout: .now() + 5)
    }

    func status() -> SinkStatus { progress.withLock { $0 } }

    private var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// Waits until woken, stopped, or `seconds` passed.
    private func pause(_ seconds: Double) {
        _ = signal.wait(timeout: .now() + .nanoseconds(Int(max(0, seconds) * 1e9)))
    }

    private func run() {
        var queues = SinkQueues(after: loadCursor())
        progress.withLock { $0.after = queues.cursor }
        var backoff = 1.0
        var savedAt = queues.cursor
        var reportedDrops = 0
        // The log is read again when nothing waits, after a full page, or a quarter second on:
        // not once per delivered event.
        var readAt = -Double.infinity
        var readFull = false
        func save() {
            let cursor = queues.cursor
            progress.withLock { $0.after = cursor }
            if savedAt != cursor {
                saveCursor(cursor)
                savedAt = cursor
            }
        }
        while !isStopping {
            let now = Clock.monotonic()
            if queues.wantsMore && (queues.isEmpty || readFull || now - readAt >= 0.25) {
                do {
                    let page = try events.eventsWithOwners(after: queues.read, limit: SinkWorker.page)
                    for (event, owner) in page {
                        queues.add(filter?.matches(event) ?? true ? event : nil, id: event.id, owner: owner)
                    }
                    readAt = now
                    readFull = page.count == SinkWorker.page
                } catch {
                    log("sink \(configuration.name): cannot read the event log: \(error)")
                    pause(5)
                    continue
                }
                let drops = queues.dropped.values.reduce(0, +)
                if drops != reportedDrops {
                    let byOwner = queues.dropped.sorted { $0.key < $1.key }.map { "uid \($0.key): \($0.value)" }.joined(separator: ", ")
                    progress.withLock { $0.dropped = drops }
                    // Once per thousand at most: a flood must not flood the journal too.
                    if drops / 1000 != reportedDrops / 1000 || reportedDrops == 0 {
                        log(
                            "sink \(configuration.name): events dropped, their uid's backlog full (\(SinkQueues.perOwner) waiting a uid other "
                                + "than root, \(SinkQueues.allOwners) in all): \(byOwner); they stay in the log")
                    }
                    reportedDrops = drops
                }
            }
            guard let (owner, event) = queues.next else {
                save()
                transport.idle(now: EventFilter.now())
                pause(1)
                continue
            }
            switch transport.deliver(event, owner: owner) {
            case .delivered:
                backoff = 1
                progress.withLock {
                    $0.delivered += 1; $0.lastError = nil; $0.retryAt = nil
                }
            case .rejected(let reason):
                log("sink \(configuration.name): event \(event.id) rejected, not retried: \(reason)")
                progress.withLock {
                    $0.rejected += 1; $0.lastError = reason
                }
            case .retry(let reason):
                // perfmon's dither: ±20 % so that many sinks do not retry in step.
                let wait = min(backoff, configuration.maximumBackoffSeconds) * Double.random(in: 0.8...1.2)
                if progress.withLock({ $0.retries == 0 || $0.lastError != reason }) {
                    log("sink \(configuration.name): event \(event.id) not delivered (\(reason)); retrying in \((wait * 10).rounded() / 10) s")
                }
                progress.withLock {
                    $0.retries += 1
                    $0.lastError = reason
                    $0.retryAt = EventFilter.now() + wait
                }
                backoff = min(backoff * 2, configuration.maximumBackoffSeconds)
                save()
                pause(wait)
                continue
            }
            queues.removeNext()
            // The position is saved every page's worth of deliveries, and when idle.
            if queues.isEmpty || abs(queues.cursor - savedAt) >= Int64(SinkWorker.page) {
                save()
            } else {
                let cursor = queues.cursor
                progress.withLock { $0.after = cursor }
            }
        }
        save()
    }

    /// The stored cursor; a sink seen for the first time starts at the newest event.
    private func loadCursor() -> Int64 {
        let name = configuration.name
        return
            (try? database.withDatabase { database -> Int64 in
                if let stored = try database.execute("SELECT after FROM sink_cursors WHERE name = ?", [.text(name)]).first?.first?.integer {
                    return stored
                }
                let newest = try EventStore.lastID(in: database)
                try database.execute("INSERT INTO sink_cursors (name, after) VALUES (?, ?)", [.text(name), .integer(newest)])
                return newest
            }) ?? 0
    }

    private func saveCursor(_ cursor: Int64) {
        let name = configuration.name
        do {
            try database.withDatabase { database in
                _ = try database.execute("INSERT OR REPLACE INTO sink_cursors (name, after) VALUES (?, ?)", [.text(name), .integer(cursor)])
            }
        } catch {
            log("sink \(name): cannot save its position: \(error)")
        }
    }
}
