import ResmonAPI

/// A monitor evaluated in a consumer's own process (libresmon's `RESMON_INLINE`): the engine's
/// state machine (`ThresholdSlot`: transforms, samples, cancelValue, tolerance; `Watermark`;
/// `LeakyBucket`) and its logging rules (loggingRate, one raise until reset-notification), fed
/// readings by the consumer instead of the sample table. No storms, preconditions or staleness:
/// those need the daemon around the monitor.
public struct InlineMonitor: Sendable {
    /// What an update asks to be delivered.
    public enum Event: Equatable, Sendable {
        /// A raise; `repeated` when it repeats a delivered raise (loggingRate).
        case raise(repeated: Bool)
        case cancel
    }

    private var slot: ThresholdSlot
    private let settings: SlotSettings
    private var fresh: ThresholdSlot
    /// A watermark's or leaky bucket's own state (nil: a threshold), and as created.
    private var side: Side?
    private var freshSide: Side?

    private enum Side {
        case watermark(Watermark, high: Bool)
        case bucket(LeakyBucket)
    }

    /// - Parameters:
    ///   - cancelValue: NaN cancels when the condition no longer holds.
    ///   - upperBound: what `percent` is of (NaN: none, the reading is unknown).
    public init(
        condition: Condition.Kind, threshold: Double, transform: Transform.Kind = .none, samples: Int = 1, cancelSamples: Int? = nil,
        cancelValue: Double = .nan, tolerance: Double = 0, loggingRate: Double = 0, upperBound: Double = .nan
    ) {
        let samples = Int32(clamping: max(1, samples))
        slot = ThresholdSlot(
            kind: .threshold, handle: 0, generation: 0, transform: transform, condition: condition, threshold: threshold, samples: samples,
            cancelSamples: cancelSamples.map { Int32(clamping: max(1, $0)) } ?? samples, capture: false, running: true)
        fresh = slot
        var settings = SlotSettings()
        settings.cancelThreshold = cancelValue
        settings.tolerance = tolerance
        settings.loggingRate = loggingRate
        settings.upperBound = upperBound
        self.settings = settings
        side = nil
        freshSide = nil
    }

    /// A watermark: the highest (or lowest) reading and when; no events (they report moves).
    public init(watermarkHigh high: Bool) {
        self.init(condition: .above, threshold: 0)
        slot.kind = high ? .watermarkHigh : .watermarkLow
        side = .watermark(Watermark(events: false), high: high)
        fresh = slot
        freshSide = side
    }

    /// A leaky bucket over a counter whose totals are the readings: it refills by `fill` per
    /// `period` seconds, drains by the counter's increase, raises when it runs empty.
    public init(bucketSize size: Double, fill: Double, period: Double, loggingRate: Double = 0) {
        self.init(condition: .above, threshold: 0, loggingRate: loggingRate)
        slot.kind = .leakyBucket
        side = .bucket(LeakyBucket(size: size, fill: fill, period: max(period, 1e-6)))
        fresh = slot
        freshSide = side
    }

    /// A watermark's extreme and when (NaN: none), a bucket's level (NaN: not a bucket, or no
    /// reading yet).
    public var watermark: (value: Double, time: Double) {
        if case .watermark(let mark, _) = side { return (mark.extreme, mark.extremeTime) }
        return (.nan, .nan)
    }
    public var bucketLevel: Double {
        if case .bucket(let bucket) = side { return bucket.level }
        return .nan
    }

    /// One reading (`raw`: a counter's total for `change` and `rate`; the value otherwise).
    public mutating func update(value: Double, raw: Double? = nil, time: Double) -> Event? {
        let outcome: Outcome
        switch side {
        case nil:
            let reading = slot.transformed(value: value, raw: raw ?? value, time: time, upperBound: settings.upperBound)
            outcome = slot.evaluate(reading, settings, now: time)
        case .watermark(var mark, let high):
            slot.lastValue = value
            slot.lastEvaluated = time
            _ = mark.mark(&slot, settings, value: value, high: high, now: time)
            side = .watermark(mark, high: high)
            return nil
        case .bucket(var bucket):
            // As the engine feeds it: the counter's increase and the time since the last reading.
            let total = raw ?? value
            let increase = total - slot.previousRaw
            let elapsed = time - slot.previousTime
            slot.previousRaw = total
            slot.previousTime = time
            slot.lastEvaluated = time
            outcome = bucket.leak(&slot, settings, increase: increase, elapsed: elapsed, now: time, mayRaise: true)
            side = .bucket(bucket)
        }
        switch outcome {
        case .raise, .repeatRaise:
            // As the engine logs them (MonitorEngine+Evaluation).
            let repeated = outcome == .repeatRaise && slot.loggedRaised
            slot.notified = true
            slot.lastLogged = time
            slot.loggedRaised = true
            return .raise(repeated: repeated)
        case .cancel:
            guard slot.loggedRaised else { return nil }
            slot.loggedRaised = false
            slot.notified = false
            return .cancel
        default:
            return nil
        }
    }

    public var phase: Phase { slot.phase }
    /// Readings counted toward samples (pending) or cancelSamples (pendingCancel).
    public var count: Int { Int(slot.count) }
    /// The last reading after the transform, and when (NaN: none yet).
    public var lastValue: Double { slot.lastValue }
    public var lastTime: Double { slot.lastEvaluated }

    /// Clears the state, as `reset` does in resmond.
    public mutating func reset() {
        slot = fresh
        side = freshSide
    }

    /// Lets the next raise be delivered again (a monitor with loggingRate 0 raises once).
    public mutating func resetNotification() { slot.notified = false }
}
