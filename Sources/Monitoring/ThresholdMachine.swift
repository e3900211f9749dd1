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
    /// A watermark moved by more than its tolerance.
    case watermark
    /// staleAfter passed without a value / a value came again.
    case noData, dataBack
    /// The monitored statistic went away / came back (resourceConfigurationChange).
    case vanished, returned
}

/// Side state by monitor slot, dense: a position per slot (-1: none) into a flat array, so that
/// evaluation indexes rather than hashes (watermarks and buckets evaluate in slot order).
struct ExtraTable {
    private var positions: [Int32] = []
    private var states: [ExtraState] = []
    private var free: [Int32] = []

    subscript(index: Int) -> ExtraState? {
        get {
            guard index < positions.count, positions[index] >= 0 else { return nil }
            return states[Int(positions[index])]
        }
        set {
            if index >= positions.count { positions += [Int32](repeating: -1, count: index - positions.count + 1) }
            let position = positions[index]
            switch (newValue, position >= 0) {
            case (let state?, true):
                states[Int(position)] = state
            case (let state?, false):
                if let reused = free.popLast() {
                    states[Int(reused)] = state
                    positions[index] = reused
                } else {
                    positions[index] = Int32(states.count)
                    states.append(state)
                }
            case (nil, true):
                free.append(position)
                positions[index] = -1
            case (nil, false):
                break
            }
        }
    }
}

/// The state of the monitors that are not thresholds, kept apart so the threshold slots stay small.
struct ExtraState: Codable, Sendable {
    /// Leaky bucket: its level (NaN: full, not yet read), size, refill per period, period.
    var level = Double.nan
    var size = 0.0
    var fill = 0.0
    var period = 1.0
    /// Watermark: the extreme seen and when; the extreme last reported by an event.
    var extreme = Double.nan
    var extremeTime = Double.nan
    var reported = Double.nan
    var events = false
    /// noData: seconds without a value before it is raised (0: off), when the last value came,
    /// whether noData is raised, and the event that raised it.
    var staleAfter = 0.0
    var lastKnown = Double.nan
    var noDataRaised = false
    var noDataEvent: Int64 = 0

    enum CodingKeys: String, CodingKey { case level, extreme, extremeTime, reported, lastKnown, noDataRaised, noDataEvent }

    init() {}

    // Unknown values (NaN) are stored as absent: JSON has no NaN.
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        level = try container.decodeIfPresent(Double.self, forKey: .level) ?? .nan
        extreme = try container.decodeIfPresent(Double.self, forKey: .extreme) ?? .nan
        extremeTime = try container.decodeIfPresent(Double.self, forKey: .extremeTime) ?? .nan
        reported = try container.decodeIfPresent(Double.self, forKey: .reported) ?? .nan
        lastKnown = try container.decodeIfPresent(Double.self, forKey: .lastKnown) ?? .nan
        noDataRaised = try container.decodeIfPresent(Bool.self, forKey: .noDataRaised) ?? false
        noDataEvent = try container.decodeIfPresent(Int64.self, forKey: .noDataEvent) ?? 0
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        func put(_ value: Double, _ key: CodingKeys) throws { if value.isFinite { try container.encode(value, forKey: key) } }
        try put(level, .level)
        try put(extreme, .extreme)
        try put(extremeTime, .extremeTime)
        try put(reported, .reported)
        try put(lastKnown, .lastKnown)
        if noDataRaised { try container.encode(true, forKey: .noDataRaised) }
        if noDataEvent > 0 { try container.encode(noDataEvent, forKey: .noDataEvent) }
    }

    /// A leaky bucket's reading: refill for the time elapsed, drain by the counter's increase.
    /// Raised when the bucket runs empty; cancelled once a refill tops it up again.
    mutating func leak(_ slot: inout ThresholdSlot, increase: Double, elapsed: Double, now: Double, mayRaise: Bool) -> Outcome {
        guard increase.isFinite, increase >= 0, elapsed > 0 else { return .nothing } // first reading or a counter reset
        let refilled = min(size, (level.isNaN ? size : level) + fill * elapsed / period)
        level = max(0, refilled - increase)
        slot.lastValue = level
        if slot.phase.isRaised {
            if refilled >= size {
                slot.phase = .clear
                return .cancel
            }
            guard level == 0 else { return .nothing }
            if slot.loggingRate > 0 { return now - slot.lastLogged >= slot.loggingRate ? .repeatRaise : .nothing }
            return slot.notified ? .nothing : .repeatRaise
        }
        guard level == 0, mayRaise else { return .nothing }
        slot.phase = .raised
        slot.raisedAt = now
        return .raise
    }

    /// A watermark's reading: the extreme follows; an event when it moved past the tolerance
    /// since the last one (and loggingRate allows). The first reading sets the mark silently.
    mutating func mark(_ slot: inout ThresholdSlot, value: Double, high: Bool, now: Double) -> Outcome {
        guard value.isFinite else { return .nothing }
        if extreme.isNaN || (high ? value > extreme : value < extreme) {
            extreme = value
            extremeTime = now
        }
        guard events else { return .nothing }
        guard !reported.isNaN else {
            reported = extreme
            return .nothing
        }
        guard abs(extreme - reported) > slot.tolerance,
              slot.loggingRate == 0 || slot.lastLogged.isNaN || now - slot.lastLogged >= slot.loggingRate else {
            return .nothing
        }
        return .watermark
    }
}

/// The hot, flat part of one threshold monitor: everything an evaluation reads and writes.
struct ThresholdSlot {
    var kind: MonitorKind = .threshold
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
    /// The `armed` precondition: whether the monitor needs arming, and whether it is armed (the
    /// value has been seen not meeting the condition since creation or the last cancel).
    var needsArming = false
    var armed = true
    /// The key target's statistic went away (a resourceConfigurationChange was logged).
    var vanished = false
    /// Flags that spare evaluation the side tables' lookups: an aggregate target, a staleAfter,
    /// a precondition on another monitor.
    var isAggregate = false
    var stale = false
    var dependent = false

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
    mutating func evaluate(_ value: Double, now: Double, mayRaise: Bool = true) -> Outcome {
        lastValue = value
        lastEvaluated = now
        guard !value.isNaN else { return .nothing }
        switch phase {
        case .clear, .pending:
            guard meets(value) else {
                phase = .clear
                count = 0
                armed = true
                return .nothing
            }
            // Preconditions gate raising only: while they do not hold, nothing advances.
            guard mayRaise && armed else {
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
                armed = !needsArming
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
