/// An event's syslog severity. Monitors, events, filters and sinks speak these names; the
/// numbers are RFC 5424's (0 most severe).
public struct Severity: TypedName {
    public enum Kind: String, CaseIterable, Sendable {
        case emerg, alert, crit, err, warning, notice, info, debug

        /// The RFC 5424 number: 0 (emerg) to 7 (debug).
        public var level: Int {
            switch self {
            case .emerg: 0
            case .alert: 1
            case .crit: 2
            case .err: 3
            case .warning: 4
            case .notice: 5
            case .info: 6
            case .debug: 7
            }
        }

        /// The severity of an RFC 5424 number, nil outside 0...7.
        public init?(level: Int) {
            guard let kind = Kind.allCases.first(where: { $0.level == level }) else { return nil }
            self = kind
        }
    }

    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Also the long forms a person may write (`error`, `critical`, `emergency`, `warn`), in any
    /// case; where a severity is accepted, it is stored as its syslog name.
    public var kind: Kind? {
        if let kind = Kind(rawValue: rawValue) { return kind }
        let name = rawValue.lowercased()
        if let kind = Kind(rawValue: name) { return kind }
        switch name {
        case "emergency", "panic": return .emerg
        case "critical": return .crit
        case "error": return .err
        case "warn": return .warning
        case "informational": return .info
        default: return nil
        }
    }

    /// The RFC 5424 number of a known severity.
    public var level: Int? { kind?.level }

    public static let emerg = Severity(.emerg)
    public static let alert = Severity(.alert)
    public static let crit = Severity(.crit)
    public static let err = Severity(.err)
    public static let warning = Severity(.warning)
    public static let notice = Severity(.notice)
    public static let info = Severity(.info)
    public static let debug = Severity(.debug)
}

/// An event's type: the Resource Monitoring Facility's MonitoringEventSchema types, each with
/// its code. What a type means to whoever delivers it (`isRaise`) is declared here, once, so
/// that no sink keeps its own list of type names.
public struct EventType: TypedName {
    public enum Kind: String, CaseIterable, Sendable {
        case canceled, above, atOrAbove, at, atOrBelow, below, notAtBelow, notAtAbove
        case counterRateExceeded, subsystemConfigurationChange, resourceConfigurationChange
        case watermark, noData, eventStorm

        /// The event's `code`.
        public var code: Int {
            switch self {
            case .canceled: 500
            case .above: 501
            case .atOrAbove: 502
            case .at: 503
            case .atOrBelow: 504
            case .below: 505
            case .notAtBelow: 506
            case .notAtAbove: 507
            case .counterRateExceeded: 508
            case .subsystemConfigurationChange: 509
            case .resourceConfigurationChange: 510
            case .watermark: 520
            case .noData: 521
            case .eventStorm: 522
            }
        }

        /// A monitor's condition began (or, repeated, still holds): an alert that a later
        /// `canceled` resolves.
        public var isRaise: Bool {
            switch self {
            case .above, .atOrAbove, .at, .atOrBelow, .below, .notAtBelow, .notAtAbove, .counterRateExceeded, .watermark, .noData: true
            case .canceled, .subsystemConfigurationChange, .resourceConfigurationChange, .eventStorm: false
            }
        }
    }

    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Whether an event of this type raises an alert (false for a type this build does not know).
    public var isRaise: Bool { kind?.isRaise ?? false }
    /// Whether an event of this type resolves an earlier raise.
    public var isCancel: Bool { kind == .canceled }
    /// The code of a known type.
    public var code: Int? { kind?.code }

    public static let canceled = EventType(.canceled)
    public static let above = EventType(.above)
    public static let atOrAbove = EventType(.atOrAbove)
    public static let at = EventType(.at)
    public static let atOrBelow = EventType(.atOrBelow)
    public static let below = EventType(.below)
    public static let notAtBelow = EventType(.notAtBelow)
    public static let notAtAbove = EventType(.notAtAbove)
    public static let counterRateExceeded = EventType(.counterRateExceeded)
    public static let subsystemConfigurationChange = EventType(.subsystemConfigurationChange)
    public static let resourceConfigurationChange = EventType(.resourceConfigurationChange)
    public static let watermark = EventType(.watermark)
    public static let noData = EventType(.noData)
    public static let eventStorm = EventType(.eventStorm)
}
