import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

/// Issue 22, attack 4, new defect 3, as the attack saw it: a template over `^cpu:cpu0:` made one
/// instance (`cz.cpu0`) for its six statistics, and an ordinary user's `app:t_c:a` took the
/// instance root's `app:t c:a` would have had.
@Suite struct TemplateInstanceDaemonTests {
    @Test(.enabled(if: QuotaTests.canRun))
    func everyStatisticGetsAnInstanceWhoeverPushedANamesake() throws {
        let daemon = try DaemonHarness()
        for path in [daemon.directory.path, daemon.stateDirectory] { chmod(path, 0o755) }
        chmod(daemon.socket, 0o666)
        try daemon.waitForCycles(2)
        let cpu0 = try daemon.client.statistics().filter { $0.key.hasPrefix("cpu:cpu0:") }.count
        try #require(cpu0 > 1)
        var cz = MonitorSpec(target: .selection(MonitorSelection(select: "^cpu:cpu0:", each: true)), condition: "above", value: -1)
        cz.id = "cz"
        _ = try daemon.client.createMonitors([cz])

        _ = try daemon.client.push("app:t c:a", value: 10)
        let pushed = try QuotaTests.asNobody(daemon, [#"PUT /v1/statistics/app:t_c:a {"value": 10}"#])
        #expect(pushed.first?.status == 200, "\(pushed)")
        var tc = MonitorSpec(target: .selection(MonitorSelection(select: "^app:t.?c:a$", each: true)), condition: "above", value: 5)
        tc.id = "tc"
        _ = try daemon.client.createMonitors([tc])

        #expect(daemon.eventually(timeout: 60) { (try? daemon.client.monitor("cz").state.members) == cpu0 })
        #expect(
            daemon.eventually(timeout: 60) {
                let watched = (try? daemon.client.monitors().filter { $0.spec.template == "tc" }.map(\.spec.target.description)) ?? []
                return Set(watched) == ["app:t c:a", "app:t_c:a"]
            })
        #expect(daemon.eventually(timeout: 60) { (try? daemon.client.monitor("tc").state.members) == 2 })
        try daemon.waitForHealth()
    }
}
