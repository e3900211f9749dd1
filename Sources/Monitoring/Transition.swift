/// What evaluating one monitor found that may become an event: collected while every due
/// monitor is evaluated, turned into events afterwards (paused monitors, loggingRate and the
/// storm limits decide there), so the loop over slots only records.
struct Transition {
    let index: Int
    let outcome: Outcome
    /// The reading's value after the transform (NaN when the outcome has none).
    let value: Double
    /// The reading's time, which the event carries.
    let time: Double
}
