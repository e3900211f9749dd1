/// The JSON bodies of resmond's HTTP API, shared by the server and the client library.
/// Field names are the API's contract: see docs/API.md.

/// `GET /v1/status`.
public struct StatusResponse: Codable, Sendable {
    public var version: String
    public var pid: Int32
    public var startedAt: Double
    public var uptimeSeconds: Double
    public var stepSeconds: Double
    public var cycles: Int
    public var statistics: Int
    public var subsystemsAvailable: Int
    public var subsystemsUnavailable: Int
    public var stateDirectory: String
    public var configDirectory: String
    public var socket: String
    /// The TCP address served, nil when TCP is off.
    public var listen: String?
    public var busy: Bool
    /// Why resmond is busy (over which self-limit), when it is.
    public var busyReason: String?
    /// The self-limits and resmond's last measurement against them.
    public var limits: SelfLimits?
    /// Why the state database refuses writes, while it does (a full disk): events and changes
    /// wait in memory until it can be written. Absent when writes succeed.
    public var storageError: String?
    public var cpuSecondsTotal: Double
    public var residentBytes: Double
    public var lastSampleCPUSeconds: Double?
    /// Reloads applied since the start (requests that arrive while one is read merge into one).
    public var reloads: Int?
    /// The longest sampling and evaluation cycle of the last ten minutes, wall seconds.
    public var longestCycleSeconds: Double?
    /// Every cycle's wall time since the start, as `/metrics` exports it.
    public var cycleDurations: DurationHistogram?
    /// The last history snapshot written (absent until the first).
    public var lastHistorySnapshot: HistorySnapshotReport?
    /// Seconds since the sampling thread last completed a step's cycle (or started).
    public var lastCycleAgeSeconds: Double?
    /// Why the sampling thread counts as stalled (`/healthz` then answers 503); absent while it runs.
    public var stalled: String?
    /// The host's name in events, alerts and `/metrics` (resmond.json's `host`; default the hostname).
    public var host: String?
    /// The fleet labels every event and alert carries, and `/metrics`' `resmon_host_info`.
    public var labels: [String: String]?
    /// Prometheus remote_write's progress; absent when it is not configured.
    public var remoteWrite: RemoteWriteStatus?

    public init(
        version: String, pid: Int32, startedAt: Double, uptimeSeconds: Double, stepSeconds: Double,
        cycles: Int, statistics: Int, subsystemsAvailable: Int, subsystemsUnavailable: Int,
        stateDirectory: String, configDirectory: String, socket: String, listen: String?, busy: Bool,
        cpuSecondsTotal: Double, residentBytes: Double, lastSampleCPUSeconds: Double?, busyReason: String? = nil,
        limits: SelfLimits? = nil, storageError: String? = nil, reloads: Int? = nil
    ) {
        self.storageError = storageError
        self.reloads = reloads
        self.busyReason = busyReason
        self.limits = limits
        self.version = version
        self.pid = pid
        self.startedAt = startedAt
        self.uptimeSeconds = uptimeSeconds
        self.stepSeconds = stepSeconds
        self.cycles = cycles
        self.statistics = statistics
        self.subsystemsAvailable = subsystemsAvailable
        self.subsystemsUnavailable = subsystemsUnavailable
        self.stateDirectory = stateDirectory
        self.configDirectory = configDirectory
        self.socket = socket
        self.listen = listen
        self.busy = busy
        self.cpuSecondsTotal = cpuSecondsTotal
        self.residentBytes = residentBytes
        self.lastSampleCPUSeconds = lastSampleCPUSeconds
    }
}

/// What writing one history snapshot cost: written on a thread of its own, its CPU is that
/// thread's, not the sampler's.
public struct HistorySnapshotReport: Codable, Sendable, Equatable {
    /// When it was written, seconds since the epoch.
    public var time: Double
    /// The file's size; nil if it could not be read back.
    public var bytes: Int?
    public var wallSeconds: Double
    public var cpuSeconds: Double

    public init(time: Double, bytes: Int?, wallSeconds: Double, cpuSeconds: Double) {
        self.time = time
        self.bytes = bytes
        self.wallSeconds = wallSeconds
        self.cpuSeconds = cpuSeconds
    }
}

/// Durations as a Prometheus histogram: for each upper bound (seconds), how many were at most
/// that long (cumulative); `count` and `sum` over all of them.
public struct DurationHistogram: Codable, Sendable, Equatable {
    public var bounds: [Double]
    public var counts: [Int]
    public var count: Int
    public var sum: Double

    public init(bounds: [Double], counts: [Int], count: Int, sum: Double) {
        self.bounds = bounds
        self.counts = counts
        self.count = count
        self.sum = sum
    }
}

/// resmond's self-limits (`limits` in resmond.json) and what it last measured of itself.
public struct SelfLimits: Codable, Sendable, Equatable {
    public var cpuPercent: Double
    public var memoryMB: Int
    public var selfMonitoringSeconds: Int
    /// The steady CPU load the limit judges, percent of one core: each period's CPU less the
    /// API's changes to monitors, averaged exponentially over a minute; nil before the first.
    public var measuredCPUPercent: Double?
    public var measuredMemoryMB: Double?
    /// All the CPU used over the last self-monitoring period, changes included, percent of one core.
    public var periodCPUPercent: Double?
    /// What uses the memory, as the memory limit's answer says it (monitors, statistics, history).
    public var memoryUse: String?

    public init(
        cpuPercent: Double, memoryMB: Int, selfMonitoringSeconds: Int, measuredCPUPercent: Double?, measuredMemoryMB: Double?,
        periodCPUPercent: Double? = nil, memoryUse: String? = nil
    ) {
        self.periodCPUPercent = periodCPUPercent
        self.memoryUse = memoryUse
        self.cpuPercent = cpuPercent
        self.memoryMB = memoryMB
        self.selfMonitoringSeconds = selfMonitoringSeconds
        self.measuredCPUPercent = measuredCPUPercent
        self.measuredMemoryMB = measuredMemoryMB
    }
}

/// One entry of `GET /v1/subsystems`.
public struct SubsystemInfo: Codable, Sendable {
    public var name: String
    public var summary: String
    /// `available`, `unavailable` or `disabled`; a plug-in also `over-limit` or `stuck`.
    public var state: String
    public var reason: String?
    public var periodSeconds: Double
    public var statistics: Int
    public var lastCollected: Double?
    public var lastDurationSeconds: Double?
    public var collections: Int
    public var failures: Int
    /// Plug-ins: `exec`, `textfile` or `scrape`; runs so far; malformed lines in the last run;
    /// the last error (a failure, or the first malformed line with its number).
    public var plugin: String?
    public var runs: Int?
    public var malformedLines: Int?
    public var lastError: String?

    public init(
        name: String, summary: String, state: String, reason: String?, periodSeconds: Double,
        statistics: Int, lastCollected: Double?, lastDurationSeconds: Double?, collections: Int, failures: Int,
        plugin: String? = nil, runs: Int? = nil, malformedLines: Int? = nil, lastError: String? = nil
    ) {
        self.plugin = plugin
        self.runs = runs
        self.malformedLines = malformedLines
        self.lastError = lastError
        self.name = name
        self.summary = summary
        self.state = state
        self.reason = reason
        self.periodSeconds = periodSeconds
        self.statistics = statistics
        self.lastCollected = lastCollected
        self.lastDurationSeconds = lastDurationSeconds
        self.collections = collections
        self.failures = failures
    }
}

public struct SubsystemList: Codable, Sendable {
    public var subsystems: [SubsystemInfo]
    public init(subsystems: [SubsystemInfo]) { self.subsystems = subsystems }
}

/// A statistic with its latest value: `GET /v1/statistics/{key}` and each entry of the catalogue.
public struct StatisticInfo: Codable, Sendable {
    public var key: String
    public var subsystem: String
    public var resource: String
    public var statistic: String
    /// `gauge` or `counter`.
    public var kind: String
    public var unit: String
    public var resolution: Double
    public var upperBound: Double?
    public var labels: [String: String]
    public var help: String
    /// A gauge's value, or a counter's per-second rate; null when unknown.
    public var value: Double?
    /// A counter's raw total.
    public var total: Double?
    /// A counter's increase over the last interval.
    public var increase: Double?
    /// Seconds since the epoch of the last reading.
    public var time: Double?

    public init(
        key: String, subsystem: String, resource: String, statistic: String, kind: String, unit: String,
        resolution: Double, upperBound: Double?, labels: [String: String], help: String,
        value: Double?, total: Double?, increase: Double?, time: Double?
    ) {
        self.key = key
        self.subsystem = subsystem
        self.resource = resource
        self.statistic = statistic
        self.kind = kind
        self.unit = unit
        self.resolution = resolution
        self.upperBound = upperBound
        self.labels = labels
        self.help = help
        self.value = value
        self.total = total
        self.increase = increase
        self.time = time
    }

    /// The value's unit: a counter's value is a rate.
    public var valueUnit: String { kind == "counter" ? unit + "/s" : unit }
}

public struct StatisticList: Codable, Sendable {
    public var statistics: [StatisticInfo]
    public init(statistics: [StatisticInfo]) { self.statistics = statistics }
}

/// `GET /healthz`: "ok", or "stalled" with the reason (answered 503).
public struct HealthResponse: Codable, Sendable {
    public var status: String
    public var reason: String?
    public init(status: String, reason: String? = nil) {
        self.status = status
        self.reason = reason
    }
}

/// The body of `PUT /v1/statistics/app:RESOURCE:NAME`.
public struct PushRequest: Codable, Sendable {
    /// A gauge's level or a counter's raw total.
    public var value: Double
    /// `gauge` (default) or `counter`.
    public var kind: String?
    public var unit: String?
    public var help: String?

    public init(value: Double, kind: String? = nil, unit: String? = nil, help: String? = nil) {
        self.value = value
        self.kind = kind
        self.unit = unit
        self.help = help
    }
}

/// `GET /v1/history/{key}`: one statistic's consolidated rows, oldest first.
public struct HistoryResponse: Codable, Sendable {
    public struct Row: Codable, Sendable {
        /// End of the interval the value covers, seconds since the epoch.
        public var t: Int
        /// null when unknown.
        public var v: Double?
        public init(t: Int, v: Double?) {
            self.t = t
            self.v = v
        }
    }

    public var key: String
    public var cf: String
    /// Seconds each row covers.
    public var step: Int
    public var start: Int
    public var end: Int
    public var unit: String
    public var rows: [Row]

    public init(key: String, cf: String, step: Int, start: Int, end: Int, unit: String, rows: [Row]) {
        self.key = key
        self.cf = cf
        self.step = step
        self.start = start
        self.end = end
        self.unit = unit
        self.rows = rows
    }
}

/// A sink's progress as `GET /v1/sinks` reports it.
public struct SinkStatus: Codable, Sendable, Equatable {
    public var name: String
    public var type: String
    public var filter: String?
    /// The last event id this sink has dealt with (delivered, skipped by its filter, or rejected).
    public var after: Int64
    public var delivered: Int
    public var rejected: Int
    public var retries: Int
    public var lastError: String?
    /// When the next attempt after a failure is due (seconds since the epoch); nil when not waiting.
    public var retryAt: Double?
    /// Events of uids other than root not delivered because their uid's backlog was full
    /// (they stay in the log); nil when none.
    public var dropped: Int?

    public init(
        name: String, type: String, filter: String?, after: Int64, delivered: Int, rejected: Int, retries: Int,
        lastError: String?, retryAt: Double?, dropped: Int? = nil
    ) {
        self.dropped = dropped
        self.name = name
        self.type = type
        self.filter = filter
        self.after = after
        self.delivered = delivered
        self.rejected = rejected
        self.retries = retries
        self.lastError = lastError
        self.retryAt = retryAt
    }
}

/// `GET /v1/sinks`.
public struct SinkList: Codable, Sendable, Equatable {
    public var sinks: [SinkStatus]
    public init(sinks: [SinkStatus]) { self.sinks = sinks }
}

/// `POST /v1/reload`: what a reload of resmond.json, `subsystems.d` and `monitors.d` did.
public struct ReloadResponse: Codable, Sendable {
    /// The configuration file read.
    public var configFile: String
    /// Keys that changed but take effect only at the next start (`http`, `stateDir` …).
    public var restartRequired: [String]
    /// What changed and what could not be used: plug-ins added or removed, files refused.
    public var messages: [String]

    public init(configFile: String, restartRequired: [String], messages: [String]) {
        self.configFile = configFile
        self.restartRequired = restartRequired
        self.messages = messages
    }
}

/// The body of `POST /v1/events`: an event an application's own monitor found (libresmon's
/// inline monitors with `forward`), appended to resmond's log (docs/EVENTS.md, "Application
/// events"). resmond sets the id, code, host, `cancels` and the labels `source` and `uid`.
public struct EventAppendRequest: Codable, Sendable, Equatable {
    /// A monitor event type: a raise (`above` … `notAtAbove`, `counterRateExceeded`,
    /// `watermark`) or `canceled`.
    public var type: String
    /// Syslog name; default `warning` for a raise, `notice` for `canceled`.
    public var severity: String?
    /// The application's monitor: a UUID (libresmon's inline monitor's `control.uid`) or a
    /// name of `[A-Za-z0-9._:-]`, never the id of one of resmond's monitors.
    public var monitorId: String
    public var monitorName: String?
    public var key: String?
    public var value: Double?
    public var threshold: Double?
    public var message: String
    /// Seconds since the epoch; default: when resmond receives it.
    public var time: Double?

    public init(
        type: String, severity: String? = nil, monitorId: String, monitorName: String? = nil, key: String? = nil,
        value: Double? = nil, threshold: Double? = nil, message: String, time: Double? = nil
    ) {
        self.type = type
        self.severity = severity
        self.monitorId = monitorId
        self.monitorName = monitorName
        self.key = key
        self.value = value
        self.threshold = threshold
        self.message = message
        self.time = time
    }
}
