import Foundation
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 22 (retention): the log kept the newest `events.retentionCount` events of everyone
/// together, so an ordinary socket user whose monitors raise and cancel as fast as the storm
/// limits allow pushed root's events out of it. Each uid other than root keeps at most its
/// share; root's events go only for root's own count or age.
@Suite struct EventRetentionTests {
    @Test(.enabled(if: QuotaTests.canRun))
    func aNonRootUsersEventsNeverPushRootsOutOfTheLog() throws {
        let daemon = try DaemonHarness(configuration: #"{"events": {"retentionCount": 100}}"#)
        for path in [daemon.directory.path, daemon.stateDirectory] { chmod(path, 0o755) }
        chmod(daemon.socket, 0o666)

        // Root's monitor raises: the oldest event in the log.
        _ = try daemon.client.push("app:root:level", value: 10)
        let root = try daemon.client.send(
            "POST", "/v1/monitors", body: Array(#"{"id": "root-level", "target": "app:root:level", "condition": "above", "value": 5}"#.utf8))
        #expect(root.status == 201, "\(String(decoding: root.body, as: UTF8.self))")
        func events() -> [String] { ((try? daemon.client.events(limit: 1000).events) ?? []).map { $0.monitorId ?? "" } }
        #expect(daemon.eventually(timeout: 60) { events().contains("root-level") })

        // Uid 65534's 150 monitors raise and cancel: 300 events, three times the log's count.
        let specs = (0..<150).map { #"{"id": "nb\#($0)", "target": "app:nb:level", "condition": "above", "value": 5}"# }
        let created = try QuotaTests.asNobody(
            daemon, [#"PUT /v1/statistics/app:nb:level {"value": 1}"#, "POST /v1/monitors [\(specs.joined(separator: ","))]"])
        #expect(created.map(\.status) == [200, 201], "\(created)")
        try daemon.waitForCycles(2)
        _ = try QuotaTests.asNobody(daemon, [#"PUT /v1/statistics/app:nb:level {"value": 10}"#])
        #expect(daemon.eventually(timeout: 60) { events().filter { $0.hasPrefix("nb") }.count >= 150 })
        _ = try QuotaTests.asNobody(daemon, [#"PUT /v1/statistics/app:nb:level {"value": 1}"#])
        #expect(daemon.eventually(timeout: 60) { events().filter { $0.hasPrefix("nb") }.count >= 250 }, "\(events().count)")

        // Retention runs every 60 cycles (a minute at step 1): uid 65534 keeps its share (a tenth
        // of the count by default), root's event stays.
        #expect(daemon.eventually(timeout: 300) { events().count <= 100 }, "\(events().count) events")
        let kept = events()
        #expect(kept.contains("root-level"), "root's event was deleted for uid 65534's: \(kept.count) events kept")
        #expect(kept.filter { $0.hasPrefix("nb") }.count <= 10, "\(kept.filter { $0.hasPrefix("nb") }.count) of uid 65534's kept")
        try daemon.waitForHealth()
    }
}
