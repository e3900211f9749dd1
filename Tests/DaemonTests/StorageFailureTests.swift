import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 22, D5: a state database that cannot be written is never a silent loss of events.
@Suite struct StorageFailureTests {
    /// Sets resmond's soft limit on file size (`RLIMIT_FSIZE`): at 0 every write to a regular
    /// file fails with EFBIG, as on a full disk, without privileges or a small file system.
    static func limitFileSize(_ daemon: DaemonHarness, _ limit: String) throws {
        let result = try Products.run("/usr/bin/prlimit", ["--pid", "\(daemon.process.pid)", "--fsize=\(limit):"])
        try #require(result.status == 0, "prlimit: \(result.error)")
    }

    static func statusText(_ daemon: DaemonHarness) -> String {
        ((try? daemon.client.send("GET", "/v1/status")).map { String(decoding: $0.body, as: UTF8.self) }) ?? ""
    }

    @Test func aFullDiskKeepsTheTransitionPendingUntilItsEventIsWritten() throws {
        let daemon = try DaemonHarness()
        _ = try daemon.client.push("app:test:level", value: 10)
        var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        spec.id = "level"
        _ = try daemon.client.createMonitors([spec])
        try daemon.waitForCycles(2)

        try StorageFailureTests.limitFileSize(daemon, "0")
        _ = try daemon.client.push("app:test:level", value: 60)
        #expect(
            daemon.eventually(timeout: 30) { StorageFailureTests.statusText(daemon).contains("\"storageError\"") },
            "the storage condition shows in /v1/status: \(StorageFailureTests.statusText(daemon))")
        try daemon.waitForCycles(3)
        #expect(try daemon.client.monitor("level").state.phase != "raised", "memory never runs ahead of the log")
        #expect(try daemon.client.events().events.isEmpty)
        // An API write that cannot be stored answers `storage` and changes nothing in memory.
        let stop = try daemon.client.send("POST", "/v1/monitors/level/stop")
        let text = String(decoding: stop.body, as: UTF8.self)
        #expect(stop.status == 507 && text.contains("\"storage\""), "\(stop.status) \(text)")
        #expect(try daemon.client.monitor("level").state.running)
        let failures = daemon.stderr.components(separatedBy: "cannot write to the state database").count - 1
        #expect(failures == 1, "logged once per change of the condition, not every cycle: \(daemon.stderr)")

        try StorageFailureTests.limitFileSize(daemon, "unlimited")
        #expect(daemon.eventually(timeout: 30) { (try? daemon.client.events().events.map(\.type)) == ["above"] })
        #expect(daemon.eventually(timeout: 30) { !StorageFailureTests.statusText(daemon).contains("\"storageError\"") })
        #expect(try daemon.client.monitor("level").state.phase == "raised")
        _ = try daemon.client.push("app:test:level", value: 1)
        #expect(daemon.eventually(timeout: 30) { (try? daemon.client.events().events.map(\.type)) == ["above", "canceled"] })
        let events = try daemon.client.events().events
        try #require(events.count == 2)
        #expect(events[1].cancels == events[0].id && events[1].id != events[1].cancels)
        #expect(daemon.process.exitCode == nil)
    }

    /// A raise that cannot be written waits in its monitor's outbox, and the monitor is not
    /// evaluated past it: a value that drops before the disk comes back is not a raise forgotten
    /// but a raise and its cancel, both logged, in order, each with its own reading's time.
    @Test func aRaiseDuringAnOutageIsLoggedWithItsCancelWhenTheValueDropsBeforeRecovery() throws {
        let daemon = try DaemonHarness()
        _ = try daemon.client.push("app:test:level", value: 10)
        var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        spec.id = "level"
        _ = try daemon.client.createMonitors([spec])
        try daemon.waitForCycles(2)

        try StorageFailureTests.limitFileSize(daemon, "0")
        _ = try daemon.client.push("app:test:level", value: 60)
        #expect(daemon.eventually(timeout: 30) { StorageFailureTests.statusText(daemon).contains("\"storageError\"") })
        try daemon.waitForCycles(3)
        #expect(try daemon.client.monitor("level").state.phase != "raised", "the visible state is the one in the log")
        _ = try daemon.client.push("app:test:level", value: 1)
        try daemon.waitForCycles(3)
        #expect(try daemon.client.events().events.isEmpty)

        try StorageFailureTests.limitFileSize(daemon, "unlimited")
        #expect(
            daemon.eventually(timeout: 30) { (try? daemon.client.events().events.map(\.type)) == ["above", "canceled"] },
            "\((try? daemon.client.events().events.map(\.type)) ?? [])")
        let events = try daemon.client.events().events
        try #require(events.count == 2)
        #expect(events[0].id < events[1].id && events[1].cancels == events[0].id)
        #expect(events[0].value == 60 && events[1].value == 1)
        #expect(events[0].time < events[1].time, "each with its own reading's time")
        #expect(try daemon.client.monitor("level").state.phase != "raised")
        #expect(daemon.process.exitCode == nil)
    }
}
