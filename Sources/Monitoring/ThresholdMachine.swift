/// A monitor's phase in DESIGN.md's state machine: clear → pending(n) → raised → pendingCancel(n) → clear.
public enum Phase: UInt8, Sendable {
    case clear, pending, raised, pendingCancel

    public var name: String {
        switch self {
        case .clear: "clear"
        case .pending: "pending"
        case .raised: "raised"
        case .pendingCancel: "pendingCancel"
        }
    }

    init?(name: String) {
        switch name {
        case "clear": self = .clear
        case "pending": self = .pending
        case "raised": self = .raised
        case "pendingCancel": self = .pendingCancel
        default: return nil
        }
    }

    /// Raised in the sense of events: pendingCancel is still raised.
    var isRaised: Bool { self == .raised || self == .pendingCancel }
}

/// What an evaluation asks to be logged.
public enum Outcome: UInt8, Sendable {
    case nothing, raise, repeatRaise, cancel
}

/// The hot, flat part of one threshold monitor: everything an evaluation reads and writes.
struct ThresholdSlot {
    var handle: Int32
    var generation: UInt32
    var transform: Transform
    var condition: Condition
    var threshold: Double
    var tolerance: Double
    /// NaN: cancel when the condition no longer holds.
    var cancelThreshold: Double
    var samples: Int32
    var cancelSamples: Int32
    var upperBound: Double
    var loggingRate: Double
    /// monitoringInterval (0: until stopped) and dataCapture, kept here so evaluation never
    /// touches the cold definition.
    var interval: Double = 0
    var capture = false

    var phase: Phase = .clear
    var count: Int32 = 0
    var running = true
    var paused = false
    /// The raise has been logged (one-shot monitors stay quiet until resetNotification).
    var notified = false
    /// The last phase events told the world: clear or raised.
    var loggedRaised = false
    var previousRaw = Double.nan
    var previousTime = Double.nan
    var lastSeen = Double.nan
    var lastValue = Double.nan
    var lastEvaluated = Double.nan
    var lastLogged = Double.nan
    var raisedAt = Double.nan

    func meets(_ value: Double) -> Bool {
        switch condition {
        case .above: value > threshold
        case .atOrAbove: value >= threshold
        case .at: abs(value - threshold) <= tolerance
        case .atOrBelow: value <= threshold
        case .below: value < threshold
        case .notAt: abs(value - threshold) > tolerance
        }
    }

    /// Whether a reading counts toward cancelling: past cancelValue (hysteresis) when there is
    /// one, else the condition no longer holding.
    func cancels(_ value: Double) -> Bool {
        guard !cancelThreshold.isNaN else { return !meets(value) }
        switch condition {
        case .above, .atOrAbove: return value < cancelThreshold
        case .below, .atOrBelow: return value > cancelThreshold
        case .at: return abs(value - threshold) > cancelThreshold
        case .notAt: return abs(value - threshold) <= cancelThreshold
        }
    }

    /// The reading after the transform; NaN when unknown (first reading, a gap, no bound).
    mutating func transformed(value: Double, raw: Double, time: Double) -> Double {
        defer {
            previousRaw = raw
            previousTime = time
        }
        switch transform {
        case .none: return value
        case .percent: return upperBound > 0 ? value / upperBound * 100 : .nan
        case .change: return raw - previousRaw
        case .rate: return time > previousTime ? (raw - previousRaw) / (time - previousTime) : .nan
        }
    }

    /// One reading through the state machine. An unknown reading changes nothing.
    mutating func evaluate(_ value: Double, now: Double) -> Outcome {
        lastValue = value
        lastEvaluated = now
        guard !value.isNaN else { return .nothing }
        switch phase {
        case .clear, .pending:
            guard meets(value) else {
                phase = .clear
                count = 0
                return .nothing
            }
            count += 1
            guard count >= samples else {
                phase = .pending
                return .nothing
            }
            phase = .raised
            count = 0
            raisedAt = now
            return .raise
        case .raised, .pendingCancel:
            if cancels(value) {
                count = phase == .pendingCancel ? count + 1 : 1
                guard count >= cancelSamples else {
                    phase = .pendingCancel
                    return .nothing
                }
                phase = .clear
                count = 0
                return .cancel
            }
            phase = .raised
            count = 0
            guard meets(value) else { return .nothing }
            if loggingRate > 0 {
                return now - lastLogged >= loggingRate ? .repeatRaise : .nothing
            }
            return notified ? .nothing : .repeatRaise
        }
    }
}
