/// The one checked way to turn a number from outside (a query, a body, a configuration or
/// perfmon file) into a time, a duration or a count: non-finite and out-of-range values are
/// refused with the field's name before they meet `Int(…)` or `+`, `-`, `*`, which trap.
public enum InputNumber {
    /// Seconds since the epoch accepted as a time: 1970-01-01 through 9999-12-31T23:59:59Z.
    /// Whatever lies in it can be added to, subtracted from and rounded to any row size an
    /// archive has without overflowing an `Int`.
    public static let epochSeconds: ClosedRange<Int> = 0...253_402_300_799

    /// A time in seconds given as whole seconds since the epoch, or, negative, as seconds
    /// before `now`: refused unless the time it names lies in `epochSeconds`.
    public static func time(_ text: some StringProtocol, field: String, now: Int) throws(InputNumberError) -> Int {
        let limit = epochSeconds.upperBound
        let value = try integer(text, field: field, in: -limit...limit, expected: "whole seconds since the epoch, or negative seconds before now")
        // `-0` is relative too: now, not the epoch.
        let time = text.hasPrefix("-") ? now + value : value
        guard epochSeconds.contains(time) else {
            throw InputNumberError(field: field, message: "\"\(text)\" is \(time) s since the epoch, outside \(rangeText)")
        }
        return time
    }

    /// Whole seconds since the epoch from a time already parsed as a `Double` (RFC 3339,
    /// relative, fractional): refused when not finite or outside `epochSeconds`.
    public static func time(_ seconds: Double, field: String, text: String) throws(InputNumberError) -> Int {
        guard let whole = integer(truncating: seconds.rounded(.down), in: epochSeconds) else {
            throw InputNumberError(field: field, message: "\"\(text)\" is not a time between \(rangeText)")
        }
        return whole
    }

    /// A whole number in `range`, written in decimal.
    public static func integer(
        _ text: some StringProtocol, field: String, in range: ClosedRange<Int>, expected: String? = nil
    ) throws(InputNumberError) -> Int {
        guard let value = Int(text), range.contains(value) else {
            throw InputNumberError(
                field: field, message: "expected \(expected.map { $0 + ", " } ?? "")\(range.lowerBound) to \(range.upperBound), got \"\(text)\"")
        }
        return value
    }

    /// A finite number in `range`, written as `Double` reads it (`1e3`, `0.5`).
    public static func number(_ text: some StringProtocol, field: String, in range: ClosedRange<Double>) throws(InputNumberError) -> Double {
        guard let value = Double(text), value.isFinite, range.contains(value) else {
            throw InputNumberError(field: field, message: "expected a number from \(format(range.lowerBound)) to \(format(range.upperBound)), got \"\(text)\"")
        }
        return value
    }

    /// `value` without its fraction as an `Int` when it is finite and in `range`; nil otherwise
    /// (where `Int(value)` would trap, or a caller's arithmetic on it could overflow).
    public static func integer(truncating value: Double, in range: ClosedRange<Int>) -> Int? {
        let whole = value.rounded(.towardZero)
        guard whole.isFinite, whole >= Double(range.lowerBound), whole <= Double(range.upperBound) else { return nil }
        // Double(Int.max) rounds up past Int.max: `Int(exactly:)` refuses what would not fit.
        guard let integer = Int(exactly: whole), range.contains(integer) else { return nil }
        return integer
    }

    static var rangeText: String { "1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z" }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}

/// A number from outside refused, with the field it came in and what was expected.
public struct InputNumberError: Error, CustomStringConvertible, Sendable {
    public let field: String
    public let message: String
    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }
    public var description: String { "\(field): \(message)" }
}
