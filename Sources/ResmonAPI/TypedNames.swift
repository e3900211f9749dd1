/// A name from a set that may grow (a condition, a transform, a monitor type, a severity, an
/// event type): typed in Swift, a plain string on the wire. Unknown names decode (an older client
/// can read a newer daemon's answer) and are refused where a monitor is validated, with the known
/// ones listed.
///
/// The names this build knows are the cases of `Kind`, declared once: `known`, `knownList` and
/// the static constants follow from them, and code that acts on a name switches over its `kind`
/// (a closed enum the compiler checks for exhaustiveness, compared as a small integer).
public protocol TypedName: RawRepresentable, Codable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible
where RawValue == String {
    /// The known names: each case's raw value is its name on the wire.
    associatedtype Kind: RawRepresentable<String>, CaseIterable, Hashable, Sendable
    init(rawValue: String)
    /// The known name this one is, nil for a name this build does not know.
    var kind: Kind? { get }
}

extension TypedName {
    public init(stringLiteral value: String) { self.init(rawValue: value) }
    /// The name of a known kind.
    public init(_ kind: Kind) { self.init(rawValue: kind.rawValue) }
    public init(from decoder: any Decoder) throws { self.init(rawValue: try decoder.singleValueContainer().decode(String.self)) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
    public var description: String { rawValue }
    public var kind: Kind? { Kind(rawValue: rawValue) }
    /// Whether this build knows the name.
    public var isKnown: Bool { kind != nil }
    /// Every name this build knows, in declaration order.
    public static var known: [Self] { Kind.allCases.map(Self.init) }

    /// The known names as a refusal lists them: `none, percent, change or rate`.
    public static var knownList: String {
        let names = Kind.allCases.map(\.rawValue)
        return names.dropLast().joined(separator: ", ") + (names.count > 1 ? " or " : "") + (names.last ?? "")
    }
}

/// A threshold's condition.
public struct Condition: TypedName {
    public enum Kind: String, CaseIterable, Sendable { case above, atOrAbove, at, atOrBelow, below, notAt }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let above = Condition(.above)
    public static let atOrAbove = Condition(.atOrAbove)
    public static let at = Condition(.at)
    public static let atOrBelow = Condition(.atOrBelow)
    public static let below = Condition(.below)
    public static let notAt = Condition(.notAt)
}

/// What a monitor does to its statistic's readings before it judges them.
public struct Transform: TypedName {
    public enum Kind: String, CaseIterable, Sendable { case none, percent, change, rate }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Where an optional transform is expected, write `Transform.none`: `.none` there is nil.
    public static let none = Transform(.none)
    public static let percent = Transform(.percent)
    public static let change = Transform(.change)
    public static let rate = Transform(.rate)
}

/// A monitor's type.
public struct MonitorType: TypedName {
    public enum Kind: String, CaseIterable, Sendable { case threshold, watermark, leakyBucket }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let threshold = MonitorType(.threshold)
    public static let watermark = MonitorType(.watermark)
    public static let leakyBucket = MonitorType(.leakyBucket)
}
