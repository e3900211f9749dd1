/// A name from a set that may grow (a condition, a transform, a monitor type): typed in Swift,
/// a plain string on the wire. Unknown names decode (an older client can read a newer daemon's
/// answer) and are refused where a monitor is validated, with the known ones listed.
public protocol TypedName: RawRepresentable, Codable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible
where RawValue == String {
    init(rawValue: String)
    /// Every name this build knows.
    static var known: [Self] { get }
}

extension TypedName {
    public init(stringLiteral value: String) { self.init(rawValue: value) }
    public init(from decoder: any Decoder) throws { self.init(rawValue: try decoder.singleValueContainer().decode(String.self)) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
    public var description: String { rawValue }
    /// Whether this build knows the name.
    public var isKnown: Bool { Self.known.contains(self) }

    /// The known names as a refusal lists them: `none, percent, change or rate`.
    public static var knownList: String {
        let names = known.map(\.rawValue)
        return names.dropLast().joined(separator: ", ") + (names.count > 1 ? " or " : "") + (names.last ?? "")
    }
}

/// A threshold's condition.
public struct Condition: TypedName {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let above: Condition = "above"
    public static let atOrAbove: Condition = "atOrAbove"
    public static let at: Condition = "at"
    public static let atOrBelow: Condition = "atOrBelow"
    public static let below: Condition = "below"
    public static let notAt: Condition = "notAt"
    public static let known: [Condition] = [.above, .atOrAbove, .at, .atOrBelow, .below, .notAt]
}

/// What a monitor does to its statistic's readings before it judges them.
public struct Transform: TypedName {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let none: Transform = "none"
    public static let percent: Transform = "percent"
    public static let change: Transform = "change"
    public static let rate: Transform = "rate"
    public static let known: [Transform] = [.none, .percent, .change, .rate]
}

/// A monitor's type.
public struct MonitorType: TypedName {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let threshold: MonitorType = "threshold"
    public static let watermark: MonitorType = "watermark"
    public static let leakyBucket: MonitorType = "leakyBucket"
    public static let known: [MonitorType] = [.threshold, .watermark, .leakyBucket]
}
