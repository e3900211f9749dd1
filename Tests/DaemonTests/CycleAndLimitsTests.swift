import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

@testable import ResmonDaemon

/// Issue 17: resmond shows how long its sampling and evaluation cycles take (a Prometheus
/// histogram in /metrics, the longest recent cycle in /v1/status), and its self-limits judge
/// its steady state: a bulk creation does not refuse its own next batch, and the memory limit
/// says what uses the memory.
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
        #expect(buckets.last?.hasPrefix("resmon_cycle_duration_seconds_bucket{le=\"+Inf\",host=") == true)
        let total = lines.first { $0.hasPrefix("resmon_cycle_duration_seconds_count{host=") }?.split(separator: " ").last.flatMap { Int($0) }
        #expect(total == counts.last && (total ?? 0) >= 3)
        #expect(lines.contains { $0.hasPrefix("resmon_cycle_duration_seconds_sum{host=") })
        let promtool = try Products.run("/usr/bin/promtool", ["check", "metrics"], input: text)
        #expect(promtool.status == 0, "promtool: \(promtool.output) \(promtool.error)")
    }

    @Test func theMemoryLimitSaysWhatUsesTheMemory() throws {
        let daemon = try DaemonHarness(configuration: #"{"limits": {"memoryMB": 1, "cpuPercent": 1600, "selfMonitoringSeconds": 1}}"#)
        #expect(daemon.eventually(timeout: 30) { (try? daemon.client.status().busy) == true })
        let reason = try #require(try daemon.client.status().busyReason)
        #expect(reason.contains("RSS") && reason.contains("monitors") && reason.contains("history") && reason.contains("statistics"), "\(reason)")
        #expect(try daemon.client.status().limits?.memoryUse?.contains("monitors") == true)
    }

    /// The limiter fed periods rather than timed: 15 s periods at 1 % of a core, the steady load,
    /// then the period a bulk creation of 30,000 monitors ran in (8.9 % in the issue).
    @Test func aCreateBurstDoesNotRefuseTheNextBatch() {
        var load = SteadyLoad()
        for _ in 0..<8 { _ = load.record(cpuSeconds: 0.15, requestSeconds: 0, elapsed: 15) }
        // The creation's own work, counted as the API's requests: left out.
        #expect(load.record(cpuSeconds: 1.335, requestSeconds: 1.185, elapsed: 15) < 5)
        // Even the work the creation leaves to other threads (its first evaluation, the writes)
        // is one period in a minute's average.
        #expect(load.record(cpuSeconds: 1.335, requestSeconds: 0, elapsed: 15) < 5)
        for _ in 0..<4 { _ = load.record(cpuSeconds: 0.15, requestSeconds: 0, elapsed: 15) }
        #expect((load.percent ?? 100) < 2)
    }

    @Test func aLoadThatLastsCrossesTheCPULimit() {
        var load = SteadyLoad()
        var crossed = false
        for _ in 0..<20 where load.record(cpuSeconds: 1.5, requestSeconds: 0, elapsed: 15) > 5 { crossed = true }
        #expect(crossed && (load.percent ?? 0) > 9)
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
