import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 22, D5 beyond the evaluation: a monitors.d reload and a template's instances that
/// change while the state database refuses writes change memory only with their events.
@Suite struct StorageFailureReloadTests {
    static func eventTypes(_ daemon: DaemonHarness) -> [String]? {
        try? daemon.client.events().events.map(\.type.rawValue)
    }

    @Test func aReloadThatCannotBeWrittenAnswersStorageAndIsRetriedUntilItsCancelIsLogged() throws {
        let directory = TemporaryDirectory("resmon-reload-full")
        try directory.write("config/monitors.d/app.json", #"{"level": {"target": "app:test:level", "condition": "above", "value": 50}}"#)
        let daemon = try DaemonHarness(directory: directory)
        _ = try daemon.client.push("app:test:level", value: 60)
        #expect(daemon.eventually(timeout: 30) { StorageFailureReloadTests.eventTypes(daemon) == ["above"] })

        try StorageFailureTests.limitFileSize(daemon, "0")
        try directory.write("config/monitors.d/app.json", "{}")
        let reload = try daemon.client.send("POST", "/v1/reload")
        let text = String(decoding: reload.body, as: UTF8.self)
        #expect(reload.status == 507 && text.contains("\"storage\""), "\(reload.status) \(text)")
        // Memory never runs ahead of the log: the monitor stays until its cancel is written.
        #expect(try daemon.client.monitor("app.level").state.phase == "raised")
        try daemon.waitForCycles(3)
        #expect(try daemon.client.monitors().contains { $0.id == "app.level" })

        // Retried at the next cycles, without another reload, once the disk allows.
        try StorageFailureTests.limitFileSize(daemon, "unlimited")
        #expect(daemon.eventually(timeout: 30) { StorageFailureReloadTests.eventTypes(daemon) == ["above", "canceled"] })
        #expect(daemon.eventually(timeout: 30) { (try? daemon.client.monitors().contains { $0.id == "app.level" }) == false })
        let events = try daemon.client.events().events
        try #require(events.count == 2)
        #expect(events[1].cancels == events[0].id && events[1].monitorId == "app.level")
        #expect(daemon.process.exitCode == nil)
    }

    @Test func anInstanceRetiresOnlyWithItsCancel() throws {
        let daemon = try DaemonHarness()
        _ = try daemon.client.push("app:tmpl:level", value: 60)
        var spec = MonitorSpec(target: .selection(MonitorSelection(select: "^app:tmpl:level$", each: true)), condition: "above", value: 50)
        spec.id = "t"
        _ = try daemon.client.createMonitors([spec])
        #expect(daemon.eventually(timeout: 30) { StorageFailureReloadTests.eventTypes(daemon) == ["above"] })
        let instance = try #require(try daemon.client.monitors().first { $0.spec.template == "t" }?.id)

        try StorageFailureTests.limitFileSize(daemon, "0")
        let deleted = try daemon.client.send("DELETE", "/v1/statistics/app:tmpl:level")
        #expect(deleted.status == 204, "\(deleted.status)")
        #expect(
            daemon.eventually(timeout: 30) { StorageFailureTests.statusText(daemon).contains("\"storageError\"") },
            "the retirement's cancel could not be written: \(StorageFailureTests.statusText(daemon))")
        try daemon.waitForCycles(3)
        #expect(try daemon.client.monitor(instance).state.phase == "raised", "the instance stays until its cancel is written")

        try StorageFailureTests.limitFileSize(daemon, "unlimited")
        #expect(daemon.eventually(timeout: 30) { StorageFailureReloadTests.eventTypes(daemon) == ["above", "canceled"] })
        #expect(daemon.eventually(timeout: 30) { (try? daemon.client.monitors().contains { $0.id == instance }) == false })
        let events = try daemon.client.events().events
        try #require(events.count == 2)
        #expect(events[1].cancels == events[0].id && events[1].monitorId == instance)
        #expect(daemon.process.exitCode == nil)
    }

    /// A file template's instances carry its `source`: a reload must not take them for file
    /// monitors that no file declares.
    @Test func aFileTemplatesInstancesSurviveAReload() throws {
        let directory = TemporaryDirectory("resmon-reload-template")
        try directory.write(
            "config/monitors.d/app.json",
            #"{"each": {"target": {"select": "^app:tmpl:level$", "each": true}, "condition": "above", "value": 50}}"#)
        let daemon = try DaemonHarness(directory: directory)
        _ = try daemon.client.push("app:tmpl:level", value: 60)
        #expect(daemon.eventually(timeout: 30) { StorageFailureReloadTests.eventTypes(daemon) == ["above"] })
        let reload = try daemon.client.send("POST", "/v1/reload")
        #expect(reload.status == 200, "\(reload.status) \(String(decoding: reload.body, as: UTF8.self))")
        try daemon.waitForCycles(3)
        #expect(StorageFailureReloadTests.eventTypes(daemon) == ["above"], "no cancel: the instance stays")
        #expect(try daemon.client.monitors().contains { $0.spec.template == "app.each" && $0.state.phase == "raised" })
    }
}
