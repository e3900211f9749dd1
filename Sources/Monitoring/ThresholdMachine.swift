import ResmonAPI

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
/// evaluation indexes rather than hashes (watermarks and buckets evaluate in slot order). Slots
/// past the last one that has an entry cost nothing.
struct DenseTable<Element> {
    private var positions: [Int32] = []
    private var states: [Element] = []
    private var free: [Int32] = []

    subscript(index: Int) -> Element? {
        get {
            guard index < positions.count, positions[index] >= 0 else { return nil }
            return states[Int(positions[index])]
        }
        set {
            if newValue == nil && index >= positions.count { return }
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

/// What few monitors set, kept apart so that the slots stay small (`ThresholdSlot.tuned` says
/// a slot has them): tolerance, hysteresis, a percentage's bound, loggingRate, and
/// monitoringInterval with the time it started counting.
struct SlotSettings {
    var tolerance = 0.0
    /// NaN: cancel when the condition no longer holds.
    var cancelThreshold = Double.nan
    var upperBound = Double.nan
    var loggingRate = 0.0
    /// monitoringInterval (0: until stopped), and when the monitor started (NaN: at its next evaluation).
    var interval = 0.0
    var startedAt = Double.nan

    static let defaults = SlotSettings()

    var isDefault: Bool {
        tolerance == 0 && cancelThreshold.isNaN && upperBound.isNaN && loggingRate == 0 && interval == 0
    }
}

/// Side state that every slot of a kind has, at an index the slot keeps (`ThresholdSlot.side`):
/// no per-slot position table, and freed entries are reused.
struct SlotPool<Element> {
    private var items: [Element] = []
    private var free: [Int32] = []

    mutating func add(_ item: Element) -> Int32 {
        if let reused = free.popLast() {
            items[Int(reused)] = item
            return reused
        }
        items.append(item)
        return Int32(items.count - 1)
    }

    mutating func remove(_ index: Int32) { free.append(index) }

    subscript(index: Int32) -> Element {
        get { items[Int(index)] }
        set { items[Int(index)] = newValue }
    }
}

/// A watermark's or a leaky bucket's own state; a monitor is one or the other, so they share
/// 40 bytes (one `ExtraState` holding both took 96).
enum KindState {
    case watermark(Watermark)
    case bucket(LeakyBucket)
}

/// noData's state, for monitors with a staleAfter.
struct StaleState {
    /// Seconds without a value before noData is raised, when the last value came, whether
    /// noData is raised, and the event that raised it.
    var staleAfter: Double
    var lastKnown = Double.nan
    var noDataRaised = false
    var noDataEvent: Int64 = 0
}

/// The side state as the state database stores it (`SavedState.extra`): a watermark's, a
/// bucket's and noData's fields in one JSON object, unknown values (NaN) left out.
struct ExtraState: Codable, Sendable {
    var level = Double.nan
    var extreme = Double.nan
    var extremeTime = Double.nan
    var reported = Double.nan
    var lastKnown = Double.nan
    var noDataRaised = false
    var noDataEvent: Int64 = 0

    enum CodingKeys: String, CodingKey { case level, extreme, extremeTime, reported, lastKnown, noDataRaised, noDataEvent }

    init(kind: KindState?, stale: StaleState?) {
        switch kind {
        case .watermark(let mark)?:
            extreme = mark.extreme
            extremeTime = mark.extremeTime
            reported = mark.reported
        case .bucket(let bucket)?:
            level = bucket.level
        case nil:
            break
        }
        if let stale {
            lastKnown = stale.lastKnown
            noDataRaised = stale.noDataRaised
            noDataEvent = stale.noDataEvent
        }
    }

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
}

/// A leaky bucket: its level (NaN: full, not yet read), size, refill per period, and period.
struct LeakyBucket {
    var level = Double.nan
    var size: Double
    var fill: Double
    var period: Double

    /// A leaky bucket's reading: refill for the time elapsed, drain by the counter's increase.
    /// Raised when the bucket runs empty; cancelled once a refill tops it up again.
    mutating func leak(
        _ slot: inout ThresholdSlot, _ settings: SlotSettings, increase: Double, elapsed: Double, now: Double,
        mayRaise: Bool
    ) -> Outcome {
        guard increase.isFinite, increase >= 0, elapsed > 0 else { return .nothing }  // first reading or a counter reset
        let refilled = min(size, (level.isNaN ? size : level) + fill * elapsed / period)
        level = max(0, refilled - increase)
        slot.lastValue = level
        if slot.phase.isRaised {
            if refilled >= size {
                slot.phase = .clear
                return .cancel
            }
            guard level == 0 else { return slot.heldRaiseDue(settings, now: now) ? .repeatRaise : .nothing }
            return slot.repeatDue(settings, now: now) ? .repeatRaise : .nothing
        }
        guard level == 0, mayRaise else { return .nothing }
        slot.phase = .raised
        slot.raisedAt = now
        return slot.heldByLoggingRate(settings, now: now) ? .nothing : .raise
    }

}

/// A watermark: the extreme seen and when, the extreme last reported by an event, and whether
/// it reports moves at all.
struct Watermark {
    var extreme = Double.nan
    var extremeTime = Double.nan
    var reported = Double.nan
    var events: Bool

    /// A watermark's reading: the extreme follows; an event when it moved past the tolerance
    /// since the last one (and loggingRate allows). The first reading sets the mark silently.
    mutating func mark(_ slot: inout ThresholdSlot, _ settings: SlotSettings, value: Double, high: Bool, now: Double) -> Outcome {
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
        guard abs(extreme - reported) > settings.tolerance,
            settings.loggingRate == 0 || slot.lastLogged.isNaN || now - slot.lastLogged >= settings.loggingRate
        else {
            return .nothing
        }
        return .watermark
    }
}

/// The hot, flat part of one monitor: everything an evaluation reads and writes, in 96 bytes
/// (doubles first, then 32-bit fields, then bytes, so nothing is padding). What few monitors
/// set is in `SlotSettings`, by slot.
struct ThresholdSlot {
    var threshold: Double
    var previousRaw = Double.nan
    var previousTime = Double.nan
    var lastSeen = Double.nan
    var lastValue = Double.nan
    var lastEvaluated = Double.nan
    var lastLogged = Double.nan
    var raisedAt = Double.nan
    var handle: Int32
    var generation: UInt32
    var samples: Int32
    var cancelSamples: Int32
    var count: Int32 = 0
    /// A watermark's or leaky bucket's entry in `Core.kinds` (-1: a threshold). It fits in
    /// what was padding.
    var side: Int32 = -1
    var kind: MonitorKind = .threshold
    var transform: Transform.Kind
    var condition: Condition.Kind
    var phase: Phase = .clear
    private var flags = Flags.running.union(.armed)

    struct Flags: OptionSet {
        let rawValue: UInt16
        static let running = Flags(rawValue: 1 << 0)
        static let paused = Flags(rawValue: 1 << 1)
        static let notified = Flags(rawValue: 1 << 2)
        static let loggedRaised = Flags(rawValue: 1 << 3)
        static let capture = Flags(rawValue: 1 << 4)
        static let needsArming = Flags(rawValue: 1 << 5)
        static let armed = Flags(rawValue: 1 << 6)
        static let vanished = Flags(rawValue: 1 << 7)
        static let isAggregate = Flags(rawValue: 1 << 8)
        static let stale = Flags(rawValue: 1 << 9)
        static let dependent = Flags(rawValue: 1 << 10)
        static let tuned = Flags(rawValue: 1 << 11)
    }

    init(
        kind: MonitorKind, handle: Int32, generation: UInt32, transform: Transform.Kind, condition: Condition.Kind, threshold: Double,
        samples: Int32, cancelSamples: Int32, capture: Bool, running: Bool
    ) {
        self.kind = kind
        self.handle = handle
        self.generation = generation
        self.transform = transform
        self.condition = condition
        self.threshold = threshold
        self.samples = samples
        self.cancelSamples = cancelSamples
        self.capture = capture
        self.running = running
    }

    private subscript(flag: Flags) -> Bool {
        get { flags.contains(flag) }
        set { if newValue { flags.insert(flag) } else { flags.remove(flag) } }
    }

    var running: Bool {
        get { self[.running] }
        set { self[.running] = newValue }
    }
    var paused: Bool {
        get { self[.paused] }
        set { self[.paused] = newValue }
    }
    /// The raise has been logged (one-shot monitors stay quiet until resetNotification).
    var notified: Bool {
        get { self[.notified] }
        set { self[.notified] = newValue }
    }
    /// The last phase events told the world: clear or raised.
    var loggedRaised: Bool {
        get { self[.loggedRaised] }
        set { self[.loggedRaised] = newValue }
    }
    /// dataCapture: readings are kept for GET /v1/monitors/{id}/capture.
    var capture: Bool {
        get { self[.capture] }
        set { self[.capture] = newValue }
    }
    /// The `armed` precondition: whether the monitor needs arming, and whether it is armed (the
    /// value has been seen not meeting the condition since creation or the last cancel).
    var needsArming: Bool {
        get { self[.needsArming] }
        set { self[.needsArming] = newValue }
    }
    var armed: Bool {
        get { self[.armed] }
        set { self[.armed] = newValue }
    }
    /// The key target's statistic went away (a resourceConfigurationChange was logged).
    var vanished: Bool {
        get { self[.vanished] }
        set { self[.vanished] = newValue }
    }
    /// Flags that spare evaluation the side tables' lookups: an aggregate target, a staleAfter,
    /// a precondition on another monitor, settings other than the defaults.
    var isAggregate: Bool {
        get { self[.isAggregate] }
        set { self[.isAggregate] = newValue }
    }
    var stale: Bool {
        get { self[.stale] }
        set { self[.stale] = newValue }
    }
    var dependent: Bool {
        get { self[.dependent] }
        set { self[.dependent] = newValue }
    }
    var tuned: Bool {
        get { self[.tuned] }
        set { self[.tuned] = newValue }
    }

    func meets(_ value: Double, _ settings: SlotSettings) -> Bool {
        switch condition {
        case .above: value > threshold
        case .atOrAbove: value >= threshold
        case .at: abs(value - threshold) <= settings.tolerance
        case .atOrBelow: value <= threshold
        case .below: value < threshold
        case .notAt: abs(value - threshold) > settings.tolerance
        }
    }

    /// Whether a reading counts toward cancelling: past cancelValue (hysteresis) when there is
    /// one, else the condition no longer holding.
    func cancels(_ value: Double, _ settings: SlotSettings) -> Bool {
        let cancelThreshold = settings.cancelThreshold
        guard !cancelThreshold.isNaN else { return !meets(value, settings) }
        switch condition {
        case .above, .atOrAbove: return value < cancelThreshold
        case .below, .atOrBelow: return value > cancelThreshold
        case .at: return abs(value - threshold) > cancelThreshold
        case .notAt: return abs(value - threshold) <= cancelThreshold
        }
    }

    /// The reading after the transform; NaN when unknown (first reading, a gap, no bound).
    mutating func transformed(value: Double, raw: Double, time: Double, upperBound: Double) -> Double {
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
    mutating func evaluate(_ value: Double, _ settings: SlotSettings, now: Double, mayRaise: Bool = true) -> Outcome {
        lastValue = value
        lastEvaluated = now
        guard !value.isNaN else { return .nothing }
        switch phase {
        case .clear, .pending:
            guard meets(value, settings) else {
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
            // Held back by loggingRate: raised in state only, logged by `heldRaiseDue` later.
            return heldByLoggingRate(settings, now: now) ? .nothing : .raise
        case .raised, .pendingCancel:
            if cancels(value, settings) {
                count = phase == .pendingCancel ? count + 1 : 1
                guard count >= cancelSamples else {
                    phase = .pendingCancel
                    return heldRaiseDue(settings, now: now) ? .repeatRaise : .nothing
                }
                phase = .clear
                count = 0
                armed = !needsArming
                return .cancel
            }
            phase = .raised
            count = 0
            guard meets(value, settings) else { return heldRaiseDue(settings, now: now) ? .repeatRaise : .nothing }
            return repeatDue(settings, now: now) ? .repeatRaise : .nothing
        }
    }

    /// loggingRate's hold: less than loggingRate has passed since the last logged raise (a
    /// flapping monitor, or perfmon's inhibit period after a cancel). A clock that went back
    /// holds nothing.
    func heldByLoggingRate(_ settings: SlotSettings, now: Double) -> Bool {
        let since = now - lastLogged
        return settings.loggingRate > 0 && since >= 0 && since < settings.loggingRate
    }

    /// A raised monitor's reading that meets the condition logs the raise again: with
    /// loggingRate, once it has passed since the last logged raise; without, once until
    /// resetNotification.
    func repeatDue(_ settings: SlotSettings, now: Double) -> Bool {
        settings.loggingRate > 0 ? !heldByLoggingRate(settings, now: now) : !notified
    }

    /// A raise that loggingRate held back is logged once loggingRate has passed, on any reading
    /// that leaves it raised (inside the hysteresis band or on its way to cancelling too).
    /// A paused monitor's raise is also unlogged; the engine drops it until resume.
    func heldRaiseDue(_ settings: SlotSettings, now: Double) -> Bool {
        !loggedRaised && settings.loggingRate > 0 && !heldByLoggingRate(settings, now: now)
    }
}
