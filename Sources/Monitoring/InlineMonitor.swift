import ResmonAPI

/// A threshold monitor evaluated in a consumer's own process (libresmon's `RESMON_INLINE`):
/// the engine's state machine (`ThresholdSlot`: transforms, samples, cancelValue, tolerance)
/// and its logging rules (loggingRate, one raise until reset-notification), fed readings by the
/// consumer instead of the sample table. No storms, preconditions or staleness: those need the
/// daemon around the monitor.
public struct InlineMonitor: Sendable {
    /// What an update asks to be delivered.
    public enum Event: Equatable, Sendable {
        /// A raise; `repeated` when it repeats a delivered raise (loggingRate).
        case raise(repeated: Bool)
        case cancel
    }

    private var slot: ThresholdSlot
    private let settings: SlotSettings
    private let fresh: ThresholdSlot

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
    }

    /// One reading (`raw`: a counter's total for `change` and `rate`; the value otherwise).
    public mutating func update(value: Double, raw: Double? = nil, time: Double) -> Event? {
        let reading = slot.transformed(value: value, raw: raw ?? value, time: time, upperBound: settings.upperBound)
        let outcome = slot.evaluate(reading, settings, now: time)
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
    public mutating func reset() { slot = fresh }

    /// Lets the next raise be delivered again (a monitor with loggingRate 0 raises once).
    public mutating func resetNotification() { slot.notified = false }
}
