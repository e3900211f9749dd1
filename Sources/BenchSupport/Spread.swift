/// One figure over several runs: the median, which a single disturbed run cannot move, and the
/// range, which says how far the runs disagreed.
public struct Spread: Sendable, Equatable {
    public let median: Double
    public let minimum: Double
    public let maximum: Double
    /// How many runs gave a number.
    public let runs: Int

    /// The spread of `values`, leaving out NaN (a figure a run could not take); nil when no
    /// value is a number.
    public init?(_ values: [Double]) {
        let sorted = values.filter { !$0.isNaN }.sorted()
        guard let first = sorted.first, let last = sorted.last else { return nil }
        let middle = sorted.count / 2
        median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        minimum = first
        maximum = last
        runs = sorted.count
    }
}
