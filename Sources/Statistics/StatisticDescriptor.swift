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

    public init(key: StatisticKey, kind: StatisticKind, unit: String, resolution: Double = 1,
                upperBound: Double? = nil, labels: [String: String] = [:], help: String,
                wrapsAt: Double? = nil, updateInterval: Double = 0) {
        self.key = key
        self.kind = kind
        self.unit = unit
        self.resolution = resolution
        self.upperBound = upperBound
        self.labels = labels
        self.help = help
        self.wrapsAt = wrapsAt
        self.updateInterval = updateInterval
    }
}
