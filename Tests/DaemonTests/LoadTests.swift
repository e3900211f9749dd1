import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// resmond against real load from stress-ng, checked against /proc/stat read by the test itself.
/// Serialized, so that one test's load does not disturb the other's measurements.
@Suite(.serialized) struct LoadTests {
    /// Busy and total ticks of the aggregate line of /proc/stat, as `top` counts them.
    static func ticks() throws -> (busy: Double, total: Double) {
        let text = try String(contentsOfFile: "/proc/stat", encoding: .utf8)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return (0, 0) }
        let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        let total = fields.prefix(8).reduce(0, +)
        return (total - fields[3] - fields[4], total)
    }

    @Test func cpuUsageAgreesWithProcStatUnderStress() throws {
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        // A 2 s step: the few milliseconds between resmond's read and the test's weigh half as much.
        let daemon = try DaemonHarness(arguments: ["--listen", "none", "--step", "2"])
        let stress = try SpawnedGroup("/usr/bin/stress-ng", ["--cpu", "1", "--timeout", "60s", "--quiet"])
        defer { stress.stop() }
        // The load begins when stress-ng has forked its worker.
        #expect(daemon.eventually(timeout: 30) { stress.sessionMembers.count >= 2 })

        // Read /proc/stat right after each sample the daemon publishes, so both cover one interval.
        func nextSample(after time: Double) throws -> (value: Double, time: Double, ticks: (busy: Double, total: Double)) {
            let deadline = Date().addingTimeInterval(12)
            while Date() < deadline {
                let statistic = try daemon.client.statistic("cpu:total:usage_ratio")
                if let sampled = statistic.time, sampled > time, let value = statistic.value {
                    return (value, sampled, try LoadTests.ticks())
                }
                usleep(3_000)
            }
            throw DaemonHarness.NotReady(description: "no new sample within 10 s")
        }
        var previous = try nextSample(after: 0)
        for _ in 0..<3 {
            let current = try nextSample(after: previous.time)
            let expected = (current.ticks.busy - previous.ticks.busy) / (current.ticks.total - previous.ticks.total)
            #expect(abs(current.value - expected) <= 0.05, "resmond \(current.value), /proc/stat \(expected)")
            #expect(current.value >= 0.9 / cores, "stress-ng's busy core is not seen: \(current.value)")
            previous = current
        }
    }
}
