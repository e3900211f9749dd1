import ResmonAPI

/// The sampling and evaluation cycles' wall times: a histogram since the start (`/metrics`'
/// `resmon_cycle_duration_seconds`) and the longest of the last ten minutes (`/v1/status`'
/// `longestCycleSeconds`). DESIGN.md's bar: no cycle over 100 ms at 1,000,000 monitors, every
/// snapshot included. Recorded by the sampling thread, read by the HTTP threads (under the
/// sampling service's lock).
struct CycleTimes {
    /// The buckets' upper bounds, seconds (`+Inf` is the count).
    static let bounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    /// Minutes the longest cycle is remembered for.
    static let recentMinutes = 10

    /// Cycles by bucket, not cumulative: the first bound each fits under (past the last: none).
    private var buckets = [Int](repeating: 0, count: CycleTimes.bounds.count)
    private var count = 0
    private var sum = 0.0
    /// The longest cycle of each recent minute, by minute number (monotonic seconds / 60).
    private var longest: [(minute: Int, seconds: Double)] = []

    /// Records one cycle of `seconds` that ended at `monotonic` seconds.
    mutating func record(_ seconds: Double, at monotonic: Double) {
        let seconds = max(0, seconds)
        if let bucket = CycleTimes.bounds.firstIndex(where: { seconds <= $0 }) { buckets[bucket] += 1 }
        count += 1
        sum += seconds
        let minute = Int(monotonic / 60)
        if let last = longest.last, last.minute == minute {
            longest[longest.count - 1].seconds = max(last.seconds, seconds)
        } else {
            longest.append((minute, seconds))
        }
        longest.removeAll { $0.minute <= minute - CycleTimes.recentMinutes }
    }

    /// The longest cycle of the last ten minutes at `monotonic` (nil: none ended in them).
    func longestRecent(at monotonic: Double) -> Double? {
        let minute = Int(monotonic / 60)
        return longest.filter { $0.minute > minute - CycleTimes.recentMinutes }.map(\.seconds).max()
    }

    var histogram: DurationHistogram {
        var cumulative: [Int] = []
        var total = 0
        for bucket in buckets {
            total += bucket
            cumulative.append(total)
        }
        return DurationHistogram(bounds: CycleTimes.bounds, counts: cumulative, count: count, sum: sum)
    }
}
