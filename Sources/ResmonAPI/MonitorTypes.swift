/// A monitor as consumers write it (`POST /v1/monitors`); docs/MONITORS.md explains each field.
/// Unknown fields are refused, so a misspelt one never silently falls back to a default.
public struct MonitorSpec: Codable, Sendable, Equatable {
    public var id: String?
    public var name: String?
    /// One statistic key, `subsystem:resource:statistic`.
    public var target: String
    /// `none` (default), `percent`, `change`, `rate`.
    public var transform: String?
    /// `threshold` (default), `watermark` or `leakyBucket`.
    public var type: String?
    /// Threshold: `above`, `atOrAbove`, `at`, `atOrBelow`, `below`, `notAt`.
    public var condition: String?
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
    public var samples: Int?
    public var cancelValue: Double?
    public var cancelSamples: Int?
    public var severity: String?
    public var cancelSeverity: String?
    public var loggingRate: Double?
    public var monitoringRate: Double?
    public var microMonitoringRate: Int?
    public var monitoringInterval: Double?
    public var dataCapture: Bool?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    /// Created running (default) or stopped.
    public var start: Bool?

    public init(target: String, condition: String, value: Double) {
        self.target = target
        self.condition = condition
        self.value = value
    }

    /// A watermark or leaky-bucket monitor; set its fields after.
    public init(target: String, type: String) {
        self.target = target
        self.type = type
    }

    static let fields: Set<String> = [
        "id", "name", "target", "transform", "type", "condition", "value", "mark", "events", "bucketSize", "fillValue",
        "tolerance", "samples", "cancelValue",
        "cancelSamples", "severity", "cancelSeverity", "loggingRate", "monitoringRate", "microMonitoringRate",
        "monitoringInterval", "dataCapture", "labels", "annotations", "start",
    ]

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public struct UnknownField: Error, CustomStringConvertible {
        public let name: String
        public var description: String { "unknown field \"\(name)\"" }
    }

    public init(from decoder: any Decoder) throws {
        let all = try decoder.container(keyedBy: AnyKey.self)
        if let unknown = all.allKeys.map(\.stringValue).sorted().first(where: { !MonitorSpec.fields.contains($0) }) {
            throw UnknownField(name: unknown)
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decodeIfPresent(String.self, forKey: .id)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        target = try container.decode(String.self, forKey: .target)
        transform = try container.decodeIfPresent(String.self, forKey: .transform)
        type = try container.decodeIfPresent(String.self, forKey: .type)
        condition = try container.decodeIfPresent(String.self, forKey: .condition)
        value = try container.decodeIfPresent(Double.self, forKey: .value)
        mark = try container.decodeIfPresent(String.self, forKey: .mark)
        events = try container.decodeIfPresent(Bool.self, forKey: .events)
        bucketSize = try container.decodeIfPresent(Double.self, forKey: .bucketSize)
        fillValue = try container.decodeIfPresent(Double.self, forKey: .fillValue)
        tolerance = try container.decodeIfPresent(Double.self, forKey: .tolerance)
        samples = try container.decodeIfPresent(Int.self, forKey: .samples)
        cancelValue = try container.decodeIfPresent(Double.self, forKey: .cancelValue)
        cancelSamples = try container.decodeIfPresent(Int.self, forKey: .cancelSamples)
        severity = try container.decodeIfPresent(String.self, forKey: .severity)
        cancelSeverity = try container.decodeIfPresent(String.self, forKey: .cancelSeverity)
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

    public init(phase: String, count: Int, running: Bool, paused: Bool, notified: Bool, lastValue: Double?,
                lastEvaluated: Double?, raisedAt: Double?, lastEventTime: Double?, watermark: Double? = nil,
                watermarkTime: Double? = nil, level: Double? = nil) {
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

/// One durable event (`GET /v1/events`).
public struct EventRecord: Codable, Sendable, Equatable {
    public var id: Int64
    public var time: Double
    public var code: Int
    public var type: String
    /// Syslog severity name: emerg, alert, crit, err, warning, notice, info, debug.
    public var severity: String
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

    public init(id: Int64, time: Double, code: Int, type: String, severity: String, monitorId: String?, monitorName: String?,
                key: String?, value: Double?, threshold: Double?, host: String, message: String, cancels: Int64?,
                labels: [String: String], annotations: [String: String]) {
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
    public init(events: [EventRecord], next: Int64) {
        self.events = events
        self.next = next
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
