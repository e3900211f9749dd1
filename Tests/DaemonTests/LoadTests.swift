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
        sleep(1)

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

    /// Issue 7's end to end: a monitor raised by stress-ng reaches `resmon events --follow`, a
    /// webhook receiver and the real Alertmanager, and resolves in all three when the load stops.
    @Test func aCPUMonitorRaisedUnderStressReachesEveryConsumerAndResolves() throws {
        let receiver = WebhookReceiver()
        try receiver.start()
        defer { receiver.stop() }
        let alertmanager = try Alertmanager()
        let daemon = try DaemonHarness(arguments: ["--listen", "none", "--step", "1"], configuration: """
            {"sinks": {"hook": {"type": "webhook", "url": "http://127.0.0.1:\(receiver.port)/"},
                       "am": {"type": "alertmanager", "url": "http://127.0.0.1:\(alertmanager.port)", "resendSeconds": 2, "maxBackoffSeconds": 1}}}
            """)
        let followed = daemon.directory.file("follow.out")
        FileManager.default.createFile(atPath: followed, contents: nil)
        let follow = Process()
        follow.executableURL = URL(fileURLWithPath: Products.path("resmon"))
        follow.arguments = ["--socket", daemon.socket, "events", "--follow", "--json"]
        follow.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: followed))
        follow.standardError = FileHandle.nullDevice
        try follow.run()
        defer {
            kill(follow.processIdentifier, SIGKILL)
            follow.waitUntilExit()
        }
        func streamed() -> [EventRecord] {
            ((try? String(contentsOfFile: followed, encoding: .utf8)) ?? "").split(separator: "\n")
                .compactMap { try? JSONDecoder().decode(EventRecord.self, from: Data($0.utf8)) }
        }

        var spec = MonitorSpec(target: "cpu:total:usage_ratio", condition: "above", value: 0.8)
        spec.id = "cpu-busy"
        spec.samples = 2
        spec.cancelValue = 0.5
        spec.cancelSamples = 2
        _ = try daemon.client.createMonitors([spec])
        let stress = try SpawnedGroup("/usr/bin/stress-ng", ["--cpu", "2", "--timeout", "60s", "--quiet"])
        // Two periods of load plus a period of slack.
        #expect(daemon.eventually(timeout: 6) { (try? daemon.client.events().events.contains { $0.type == "above" }) == true })
        #expect(daemon.eventually(timeout: 3) { streamed().map(\.type) == ["above"] }, "resmon events --follow")
        #expect(daemon.eventually(timeout: 5) { receiver.ids.count == 1 }, "the webhook")
        #expect(daemon.eventually(timeout: 15) {
            alertmanager.alerts()?.contains { $0.labels["monitor"] == "cpu-busy" && $0.status.state == "active" } == true
        }, "Alertmanager shows it firing")
        stress.stop()
        #expect(daemon.eventually(timeout: 8) { (try? daemon.client.events().events.contains { $0.type == "canceled" }) == true })
        let events = try daemon.client.events().events
        #expect(events.map(\.type) == ["above", "canceled"])
        #expect(events[0].monitorId == "cpu-busy" && events[0].code == 501 && (events[0].value ?? 0) > 0.8)
        #expect(events[1].cancels == events[0].id)
        #expect(daemon.eventually(timeout: 3) { streamed().map(\.id) == events.map(\.id) }, "resmon events --follow")
        #expect(daemon.eventually(timeout: 5) { receiver.ids == events.map(\.id) }, "the webhook")
        #expect(daemon.eventually(timeout: 15) {
            alertmanager.alerts().map { alerts in !alerts.contains { $0.labels["monitor"] == "cpu-busy" && $0.status.state == "active" } } == true
        }, "Alertmanager shows it resolved")
    }
}
