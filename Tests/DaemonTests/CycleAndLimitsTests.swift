import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

@testable import ResmonDaemon

/// Issue 17: resmond shows how long its sampling and evaluation cycles take (a Prometheus
/// histogram in /metrics, the longest recent cycle in /v1/status).
@Suite struct CycleAndLimitsTests {
    @Test func metricsExportTheCycleDurationsAsAHistogramAndStatusTheLongest() throws {
        let daemon = try DaemonHarness()
        try daemon.waitForCycles(3)
        let status = try daemon.client.status()
        let longest = try #require(status.longestCycleSeconds)
        #expect(longest > 0)
        let text = try daemon.client.metrics()
        #expect(text.contains("# TYPE resmon_cycle_duration_seconds histogram"))
        let lines = text.split(separator: "\n").filter { $0.hasPrefix("resmon_cycle_duration_seconds") }
        let buckets = lines.filter { $0.hasPrefix("resmon_cycle_duration_seconds_bucket{le=") }
        #expect(buckets.count == CycleTimes.bounds.count + 1)
        let counts = buckets.compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }
        try #require(counts.count == buckets.count)
        #expect(zip(counts, counts.dropFirst()).allSatisfy { $0 <= $1 }, "buckets are cumulative: \(counts)")
        #expect(buckets.last?.hasPrefix("resmon_cycle_duration_seconds_bucket{le=\"+Inf\"}") == true)
        let total = lines.first { $0.hasPrefix("resmon_cycle_duration_seconds_count ") }?.split(separator: " ").last.flatMap { Int($0) }
        #expect(total == counts.last && (total ?? 0) >= 3)
        #expect(lines.contains { $0.hasPrefix("resmon_cycle_duration_seconds_sum ") })
        let promtool = try Products.run("/usr/bin/promtool", ["check", "metrics"], input: text)
        #expect(promtool.status == 0, "promtool: \(promtool.output) \(promtool.error)")
    }

    @Test func theLongestRecentCycleForgetsCyclesOlderThanTenMinutes() {
        var times = CycleTimes()
        times.record(0.5, at: 1000)
        times.record(0.002, at: 1010)
        #expect(times.longestRecent(at: 1020) == 0.5)
        times.record(0.003, at: 1000 + 11 * 60)
        #expect(times.longestRecent(at: 1000 + 11 * 60) == 0.003)
        let histogram = times.histogram
        #expect(histogram.count == 3 && histogram.counts.last == 3)
        #expect(histogram.counts[CycleTimes.bounds.firstIndex(of: 0.0025)!] == 1)
    }
}
