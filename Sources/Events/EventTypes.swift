import FoundationEssentials

/// Syslog severities, most severe first (RFC 5424 numbers).
public enum Severity: Int, Sendable, CaseIterable, Comparable {
    case emerg = 0, alert, crit, err, warning, notice, info, debug

    public var name: String {
        switch self {
        case .emerg: "emerg"
        case .alert: "alert"
        case .crit: "crit"
        case .err: "err"
        case .warning: "warning"
        case .notice: "notice"
        case .info: "info"
        case .debug: "debug"
        }
    }

    /// Accepts the syslog names and their long forms (`error`, `critical`, `emergency`, `warn`).
    public init?(name: String) {
        switch name.lowercased() {
        case "emerg", "emergency", "panic": self = .emerg
        case "alert": self = .alert
        case "crit", "critical": self = .crit
        case "err", "error": self = .err
        case "warning", "warn": self = .warning
        case "notice": self = .notice
        case "info", "informational": self = .info
        case "debug": self = .debug
        default: return nil
        }
    }

    public static func < (left: Severity, right: Severity) -> Bool { left.rawValue > right.rawValue }
}

/// The event codes and types of the Resource Monitoring Facility's MonitoringEventSchema.
public enum EventType: Int, Sendable, CaseIterable {
    case canceled = 500, above, atOrAbove, at, atOrBelow, below, notAtBelow, notAtAbove
    case counterRateExceeded = 508, subsystemConfigurationChange = 509, resourceConfigurationChange = 510
    case watermark = 520, noData = 521, eventStorm = 522

    public var name: String {
        switch self {
        case .canceled: "canceled"
        case .above: "above"
        case .atOrAbove: "atOrAbove"
        case .at: "at"
        case .atOrBelow: "atOrBelow"
        case .below: "below"
        case .notAtBelow: "notAtBelow"
        case .notAtAbove: "notAtAbove"
        case .counterRateExceeded: "counterRateExceeded"
        case .subsystemConfigurationChange: "subsystemConfigurationChange"
        case .resourceConfigurationChange: "resourceConfigurationChange"
        case .watermark: "watermark"
        case .noData: "noData"
        case .eventStorm: "eventStorm"
        }
    }
}
