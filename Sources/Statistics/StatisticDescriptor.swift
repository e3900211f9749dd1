/// Whether a statistic is a level or a monotonic count.
public enum StatisticKind: String, Sendable, Codable {
    /// A level that goes up and down.
    case gauge
    /// A monotonic total; the sample table keeps the raw total and its per-second rate.
    case counter
}

/// Everything about a statistic that does not change from one sample to the next.
public struct StatisticDescriptor: Sendable {
    public let key: StatisticKey
    public let kind: StatisticKind
    /// The unit of the value (for a counter: of the total; its rate is that unit per second).
    public let unit: String
    /// The smallest step the kernel reports (CPU ticks 0.01 s, PSI 1 µs, bytes 1).
    public let resolution: Double
    /// The most the value can be (memory total, file-system size, 1 for a ratio), if any.
    public let upperBound: Double?
    public let labels: [String: String]
    public let help: String
    /// For a counter that wraps (a 32-bit kernel field): the modulus. `nil` means a decrease is a reset.
    public let wrapsAt: Double?
    /// Seconds between the kernel's updates of the value (load averages: 5; PSI averages: 2;
    /// CPU shares: a tick), 0 when it changes continuously: the finest rate worth monitoring.
    public let updateInterval: Double
    /// For a plug-in's statistic: the Prometheus family it came from, which /metrics re-exports
    /// with the type its source declared. Shared by every statistic of the family.
    public let family: SourceFamily?
    /// Whether history keeps archives of it (a plug-in's `archive` patterns; always for the rest).
    public let archived: Bool

    public init(
        key: StatisticKey, kind: StatisticKind, unit: String, resolution: Double = 1,
        upperBound: Double? = nil, labels: [String: String] = [:], help: String,
        wrapsAt: Double? = nil, updateInterval: Double = 0, family: SourceFamily? = nil, archived: Bool = true
    ) {
        self.archived = archived
        self.key = key
        self.kind = kind
        self.unit = unit
        self.resolution = resolution
        self.upperBound = upperBound
        self.labels = labels
        self.help = help
        self.wrapsAt = wrapsAt
        self.updateInterval = updateInterval
        self.family = family
    }
}

/// A Prometheus metric family as a plug-in declared it (`# TYPE`, `# HELP`), under the name
/// resmon gives it: one object shared by the family's statistics, so that a histogram's
/// buckets, sum and count are exported together, and its help text is kept once.
public final class SourceFamily: Sendable, Equatable {
    /// The `# TYPE` of a family: the set is the text format's, closed.
    public enum MetricType: String, Sendable {
        case counter, gauge, histogram, summary, untyped
    }

    /// The family's name in statistic form (`go_gc_duration_seconds`); each member statistic's
    /// name is this name or this name with `_bucket`, `_sum` or `_count`.
    public let name: String
    public let type: MetricType
    public let help: String

    public init(name: String, type: MetricType, help: String) {
        self.name = name
        self.type = type
        self.help = help
    }

    public static func == (left: SourceFamily, right: SourceFamily) -> Bool {
        left === right || (left.name == right.name && left.type == right.type && left.help == right.help)
    }
}
