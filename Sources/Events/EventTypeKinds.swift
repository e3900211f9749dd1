/// What a kind of event means to whoever delivers it, so that no sink keeps its own list of
/// type names (a new type is added here, once).
extension EventType {
    /// A monitor's condition began (or, repeated, still holds): an alert that a later
    /// `canceled` resolves.
    public var isRaise: Bool {
        switch self {
        case .above, .atOrAbove, .at, .atOrBelow, .below, .notAtBelow, .notAtAbove, .counterRateExceeded, .watermark, .noData: true
        case .canceled, .subsystemConfigurationChange, .resourceConfigurationChange, .eventStorm: false
        }
    }

    /// The type an event's `type` field names, nil for a name this build does not know.
    public init?(name: String) {
        guard let type = EventType.allCases.first(where: { $0.name == name }) else { return nil }
        self = type
    }
}
