/// Refuses keys a strict type does not know, naming the first: a misspelt field must never
/// silently take its default.
func refuseUnknownKeys(_ decoder: any Decoder, known: Set<String>, prefix: String = "") throws {
    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
    let all = try decoder.container(keyedBy: AnyKey.self)
    if let unknown = all.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
        throw MonitorSpec.UnknownField(name: prefix + unknown)
    }
}

/// What a monitor watches: one statistic key, or a selection of statistics — aggregated into one
/// value, or (`each`) a template that gets one monitor per matching statistic.
public enum MonitorTarget: Codable, Sendable, Equatable, ExpressibleByStringLiteral, CustomStringConvertible {
    case key(String)
    case selection(MonitorSelection)

    public init(stringLiteral value: String) { self = .key(value) }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let key = try? container.decode(String.self) {
            self = .key(key)
        } else {
            self = .selection(try container.decode(MonitorSelection.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .key(let key): try container.encode(key)
        case .selection(let selection): try container.encode(selection)
        }
    }

    /// The key of a single-statistic target.
    public var key: String? { if case .key(let key) = self { return key }; return nil }

    public var description: String {
        switch self {
        case .key(let key): return key
        case .selection(let selection): return selection.description
        }
    }
}

/// `{"select": REGEX over keys, "where": {label: REGEX}, "aggregate": FUNCTION}` or `…, "each": true}`.
public struct MonitorSelection: Codable, Sendable, Equatable, CustomStringConvertible {
    /// A POSIX extended regular expression over statistic keys (searched, so anchor it).
    public var select: String
    /// Label name → POSIX extended regular expression its value must match (an absent label is "").
    public var `where`: [String: String]?
    /// `sum`, `average`, `min`, `max` or `count`.
    public var aggregate: String?
    /// A template: one monitor per matching statistic.
    public var each: Bool?

    public init(select: String, where conditions: [String: String]? = nil, aggregate: String? = nil, each: Bool? = nil) {
        self.select = select
        self.where = conditions
        self.aggregate = aggregate
        self.each = each
    }

    private enum CodingKeys: String, CodingKey, CaseIterable { case select, `where`, aggregate, each }

    public init(from decoder: any Decoder) throws {
        try refuseUnknownKeys(decoder, known: Set(CodingKeys.allCases.map(\.rawValue)), prefix: "target.")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        select = try container.decode(String.self, forKey: .select)
        `where` = try container.decodeIfPresent([String: String].self, forKey: .where)
        aggregate = try container.decodeIfPresent(String.self, forKey: .aggregate)
        each = try container.decodeIfPresent(Bool.self, forKey: .each)
    }

    /// `sum(select{label=~"regex"})`, `each(select{…})`.
    public var description: String {
        let labels = (`where` ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=~\"\($0.value)\"" }.joined(separator: ",")
        return "\(each == true ? "each" : aggregate ?? "?")(\(select)\(labels.isEmpty ? "" : "{" + labels + "}"))"
    }
}

/// What must hold before a monitor may raise: `"armed"` (the value must first be seen not
/// meeting the condition, and again after each cancel), and/or another monitor's state
/// (`{"monitor": ID, "raised": true}`: raise only while that monitor is raised; false: while not).
public struct MonitorPrecondition: Codable, Sendable, Equatable {
    public var armed: Bool?
    public var monitor: String?
    public var raised: Bool?

    public init(armed: Bool? = nil, monitor: String? = nil, raised: Bool? = nil) {
        self.armed = armed
        self.monitor = monitor
        self.raised = raised
    }

    private enum CodingKeys: String, CodingKey, CaseIterable { case armed, monitor, raised }

    public init(from decoder: any Decoder) throws {
        if let word = try? decoder.singleValueContainer().decode(String.self) {
            guard word == "armed" else { throw MonitorSpec.UnknownField(name: "precondition \"\(word)\" (expected \"armed\" or an object)") }
            self.init(armed: true)
            return
        }
        try refuseUnknownKeys(decoder, known: Set(CodingKeys.allCases.map(\.rawValue)), prefix: "precondition.")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            armed: try container.decodeIfPresent(Bool.self, forKey: .armed),
            monitor: try container.decodeIfPresent(String.self, forKey: .monitor),
            raised: try container.decodeIfPresent(Bool.self, forKey: .raised))
    }
}

/// A monitor as consumers write it (`POST /v1/monitors`); docs/MONITORS.md explains each field.
/// Unknown fields are refused, so a misspelt one never silently falls back to a default.
public struct MonitorSpec: Codable, Sendable, Equatable {
    public var id: String?
    public var name: String?
    /// One statistic key, `subsystem:resource:statistic`, or a selection (aggregate or template).
    public var target: MonitorTarget
    /// Set by resmond on a template's instances: the template's id (read-only).
    public var template: String?
    /// Set by resmond on monitors from files: `monitors.d/NAME.json` (read-only; change the file).
    public var source: String?
    /// `none` (default), `percent`, `change`, `rate`.
    public var transform: Transform?
    /// `threshold` (default), `watermark` or `leakyBucket`.
    public var type: MonitorType?
    /// Threshold: `above`, `atOrAbove`, `at`, `atOrBelow`, `below`, `notAt`.
    public var condition: Condition?
    /// Threshold: the value compared with.
    public var value: Double?
    /// Watermark: `high` (default) or `low`.
    public var mark: String?
    /// Watermark: log a `watermark` event when the mark moves by more than `tolerance`.
    public var events: Bool?
    /// Leaky bucket: its size, and what it refills per monitoring period.
    public var bucketSize: Double?
    public var fillValue: Double?
    public var tolerance: Double?
    /// What must hold before the monitor may raise.
    public var precondition: MonitorPrecondition?
    /// Seconds without a value after which a `noData` event is raised (its own raise/cancel pair).
    public var staleAfter: Double?
    public var samples: Int?
    public var cancelValue: Double?
    public var cancelSamples: Int?
    /// The raise event's severity; default `warning` (watermark: `info`).
    public var severity: Severity?
    /// The `canceled` event's severity; default `notice`, `none` for no cancel event.
    public var cancelSeverity: Severity?
    public var loggingRate: Double?
    public var monitoringRate: Double?
    public var microMonitoringRate: Int?
    public var monitoringInterval: Double?
    public var dataCapture: Bool?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    /// Created running (default) or stopped.
    public var start: Bool?

    public init(target: MonitorTarget, condition: Condition, value: Double) {
        self.target = target
        self.condition = condition
        self.value = value
    }

    /// A threshold monitor on one statistic key.
    public init(target key: String, condition: Condition, value: Double) {
        self.init(target: .key(key), condition: condition, value: value)
    }

    /// A watermark or leaky-bucket monitor on one statistic key.
    public init(target key: String, type: MonitorType) {
        self.init(target: .key(key), type: type)
    }

    /// A watermark or leaky-bucket monitor; set its fields after.
    public init(target: MonitorTarget, type: MonitorType) {
        self.target = target
        self.type = type
    }

    static let fields: Set<String> = [
        "id", "name", "target", "template", "source", "transform", "type", "condition", "value", "mark", "events", "bucketSize", "fillValue",
        "tolerance", "precondition", "staleAfter", "samples", "cancelValue",
        "cancelSamples", "severity", "cancelSeverity", "loggingRate", "monitoringRate", "microMonitoringRate",
        "monitoringInterval", "dataCapture", "labels", "annotations", "start"
    ]

    public struct UnknownField: Error, CustomStringConvertible {
        public let name: String
        public var description: String { "unknown field \"\(name)\"" }
    }

    public init(from decoder: any Decoder) throws {
        try refuseUnknownKeys(decoder, known: MonitorSpec.fields)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decodeIfPresent(String.self, forKey: .id)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        target = try container.decode(MonitorTarget.self, forKey: .target)
        template = try container.decodeIfPresent(String.self, forKey: .template)
        source = try container.decodeIfPresent(String.self, forKey: .source)
        transform = try container.decodeIfPresent(Transform.self, forKey: .transform)
        type = try container.decodeIfPresent(MonitorType.self, forKey: .type)
        condition = try container.decodeIfPresent(Condition.self, forKey: .condition)
        value = try container.decodeIfPresent(Double.self, forKey: .value)
        mark = try container.decodeIfPresent(String.self, forKey: .mark)
        events = try container.decodeIfPresent(Bool.self, forKey: .events)
        bucketSize = try container.decodeIfPresent(Double.self, forKey: .bucketSize)
        fillValue = try container.decodeIfPresent(Double.self, forKey: .fillValue)
        tolerance = try container.decodeIfPresent(Double.self, forKey: .tolerance)
        precondition = try container.decodeIfPresent(MonitorPrecondition.self, forKey: .precondition)
        staleAfter = try container.decodeIfPresent(Double.self, forKey: .staleAfter)
        samples = try container.decodeIfPresent(Int.self, forKey: .samples)
        cancelValue = try container.decodeIfPresent(Double.self, forKey: .cancelValue)
        cancelSamples = try container.decodeIfPresent(Int.self, forKey: .cancelSamples)
        severity = try container.decodeIfPresent(Severity.self, forKey: .severity)
        cancelSeverity = try container.decodeIfPresent(Severity.self, forKey: .cancelSeverity)
        loggingRate = try container.decodeIfPresent(Double.self, forKey: .loggingRate)
        monitoringRate = try container.decodeIfPresent(Double.self, forKey: .monitoringRate)
        microMonitoringRate = try container.decodeIfPresent(Int.self, forKey: .microMonitoringRate)
        monitoringInterval = try container.decodeIfPresent(Double.self, forKey: .monitoringInterval)
        dataCapture = try container.decodeIfPresent(Bool.self, forKey: .dataCapture)
        labels = try container.decodeIfPresent([String: String].self, forKey: .labels)
        annotations = try container.decodeIfPresent([String: String].self, forKey: .annotations)
        start = try container.decodeIfPresent(Bool.self, forKey: .start)
    }
}

/// A monitor's runtime state (`GET /v1/monitors/{id}/state`).
public struct MonitorStateInfo: Codable, Sendable, Equatable {
    /// `clear`, `pending`, `raised`, `pendingCancel`.
    public var phase: String
    /// Consecutive readings toward raising (pending) or cancelling (pendingCancel).
    public var count: Int
    public var running: Bool
    public var paused: Bool
    /// Whether the raise has been logged (one-shot monitors stay quiet until resetNotification).
    public var notified: Bool
    /// The last reading after the transform; null when unknown.
    public var lastValue: Double?
    public var lastEvaluated: Double?
    public var raisedAt: Double?
    public var lastEventTime: Double?
    /// Watermark: the extreme value seen and when.
    public var watermark: Double?
    public var watermarkTime: Double?
    /// Leaky bucket: its level now (full is bucketSize; 0 is the rate exceeded).
    public var level: Double?
    /// A selection target (aggregate or template): how many statistics it selects now.
    public var members: Int?
    /// What keeps the monitor from working as asked, such as a selection that selects nothing
    /// (it stays unknown until a statistic matches); null when nothing does.
    public var warning: String?

    public init(
        phase: String, count: Int, running: Bool, paused: Bool, notified: Bool, lastValue: Double?,
        lastEvaluated: Double?, raisedAt: Double?, lastEventTime: Double?, watermark: Double? = nil,
        watermarkTime: Double? = nil, level: Double? = nil, members: Int? = nil, warning: String? = nil
    ) {
        self.members = members
        self.warning = warning
        self.watermark = watermark
        self.watermarkTime = watermarkTime
        self.level = level
        self.phase = phase
        self.count = count
        self.running = running
        self.paused = paused
        self.notified = notified
        self.lastValue = lastValue
        self.lastEvaluated = lastEvaluated
        self.raisedAt = raisedAt
        self.lastEventTime = lastEventTime
    }
}

/// A monitor with its definition, owner and state.
public struct MonitorInfo: Codable, Sendable {
    public var id: String
    public var spec: MonitorSpec
    public var owner: Int
    public var createdAt: Double
    public var state: MonitorStateInfo

    public init(id: String, spec: MonitorSpec, owner: Int, createdAt: Double, state: MonitorStateInfo) {
        self.id = id
        self.spec = spec
        self.owner = owner
        self.createdAt = createdAt
        self.state = state
    }
}

public struct MonitorList: Codable, Sendable {
    public var monitors: [MonitorInfo]
    public init(monitors: [MonitorInfo]) { self.monitors = monitors }
}

/// `POST /v1/monitors/import/perfmon`: the object's monitors after the import, and what became
/// of each perfmon variable.
public struct PerfmonImportResponse: Codable, Sendable {
    public struct Variable: Codable, Sendable, Equatable {
        /// The perfmon variable's name (`cpu_usage`).
        public var name: String
        /// The monitor it became.
        public var monitor: String
        /// `created`, `replaced` (its configuration changed: it starts afresh) or `unchanged`
        /// (its state is kept), as perfmon's refresh treats a variable.
        public var outcome: String
        /// The statistics it reads now.
        public var statistics: [String]
        /// Why it reads nothing now, or what of the configuration resmon does not use.
        public var warning: String?

        public init(name: String, monitor: String, outcome: String, statistics: [String], warning: String?) {
            self.name = name
            self.monitor = monitor
            self.outcome = outcome
            self.statistics = statistics
            self.warning = warning
        }
    }

    /// The monitors of the configuration, in its order.
    public var monitors: [MonitorInfo]
    public var variables: [Variable]
    /// Monitors of an earlier import for the same object whose variables are gone: deleted.
    public var removed: [String]

    public init(monitors: [MonitorInfo], variables: [Variable], removed: [String]) {
        self.monitors = monitors
        self.variables = variables
        self.removed = removed
    }
}

/// One durable event (`GET /v1/events`).
public struct EventRecord: Codable, Sendable, Equatable {
    public var id: Int64
    public var time: Double
    public var code: Int
    public var type: EventType
    /// Syslog severity name: emerg, alert, crit, err, warning, notice, info, debug.
    public var severity: Severity
    public var monitorId: String?
    public var monitorName: String?
    public var key: String?
    public var value: Double?
    public var threshold: Double?
    public var host: String
    public var message: String
    /// For `canceled`: the id of the event it ends.
    public var cancels: Int64?
    public var labels: [String: String]
    public var annotations: [String: String]

    public init(
        id: Int64, time: Double, code: Int, type: EventType, severity: Severity, monitorId: String?, monitorName: String?,
        key: String?, value: Double?, threshold: Double?, host: String, message: String, cancels: Int64?,
        labels: [String: String], annotations: [String: String]
    ) {
        self.id = id
        self.time = time
        self.code = code
        self.type = type
        self.severity = severity
        self.monitorId = monitorId
        self.monitorName = monitorName
        self.key = key
        self.value = value
        self.threshold = threshold
        self.host = host
        self.message = message
        self.cancels = cancels
        self.labels = labels
        self.annotations = annotations
    }
}

public struct EventList: Codable, Sendable {
    public var events: [EventRecord]
    /// Pass as `after` to read on.
    public var next: Int64
    /// True when the scan's work budget ran out before the page filled: `events` is what was
    /// found so far, and `next` is the last event read; absent otherwise.
    public var partial: Bool?
    public init(events: [EventRecord], next: Int64, partial: Bool? = nil) {
        self.events = events
        self.next = next
        self.partial = partial
    }
}

/// One raw reading kept for a monitor with `dataCapture`.
public struct CapturedReading: Codable, Sendable {
    public let time: Double
    public let raw: Double?
    public let value: Double?

    public init(time: Double, raw: Double?, value: Double?) {
        self.time = time
        self.raw = raw
        self.value = value
    }
}

/// `POST /v1/monitors/test`: a spec replayed over archived history.
public struct BacktestRequest: Codable, Sendable {
    public var spec: MonitorSpec
    /// Epoch seconds, RFC 3339 or relative (`-6h`); default six hours ago.
    public var since: String?
    /// Default now.
    public var until: String?
    /// The archive's consolidation function: AVERAGE, MIN, MAX or LAST. Default: the one that
    /// cannot miss a raise (MAX for above and atOrAbove, MIN for below and atOrBelow; AVERAGE
    /// for at, notAt, the change and rate transforms and leaky buckets).
    public var cf: String?

    public init(spec: MonitorSpec, since: String? = nil, until: String? = nil, cf: String? = nil) {
        self.spec = spec
        self.since = since
        self.until = until
        self.cf = cf
    }
}

public struct BacktestResponse: Codable, Sendable {
    public var start: Int
    public var end: Int
    /// Seconds between the replayed readings: the finest row size among `archives`.
    public var step: Int
    /// The statistics replayed (an aggregate's members as they are now).
    public var statistics: [String]
    /// Rows replayed.
    public var readings: Int
    /// What the monitor would have logged.
    public var events: [EventRecord]
    /// The consolidation function replayed (nil from a resmond that predates it).
    public var cf: String?
    /// The row sizes of the archives replayed, coarsest first: each where it is the finest
    /// that has rows (the finest for the recent past), read every `step` seconds.
    public var archives: [Int]?
    /// Seconds between the monitor's own readings on the live resmond, and between the
    /// replayed ones (the row size, or the monitor's rate if slower).
    public var monitorRate: Double?
    public var replayRate: Double?
    /// The rows that stood for `samples` and `cancelSamples` readings (`samples × rate`
    /// seconds, at least one row).
    public var samples: Int?
    public var cancelSamples: Int?

    public init(
        start: Int, end: Int, step: Int, statistics: [String], readings: Int, events: [EventRecord], cf: String? = nil,
        archives: [Int]? = nil, monitorRate: Double? = nil, replayRate: Double? = nil, samples: Int? = nil,
        cancelSamples: Int? = nil
    ) {
        self.start = start
        self.end = end
        self.step = step
        self.statistics = statistics
        self.readings = readings
        self.events = events
        self.cf = cf
        self.archives = archives
        self.monitorRate = monitorRate
        self.replayRate = replayRate
        self.samples = samples
        self.cancelSamples = cancelSamples
    }
}
