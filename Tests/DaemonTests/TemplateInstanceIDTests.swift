import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 22, attack 5, finding 4: a resource may hold a `.`, so an ordinary user could push a key
/// whose readable instance id (`tq.app.t_c.b.9292ade9fa9faf72`) was the hashed id a root
/// statistic (`app:t c:b`) would get; pushed first, it left root's statistic unwatched.
@Suite struct TemplateInstanceIDTests {
    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func aCraftedKeyDoesNotTakeRootsInstance() throws {
        let daemon = try DaemonHarness()
        for path in [daemon.directory.path, daemon.stateDirectory] { chmod(path, 0o755) }
        chmod(daemon.socket, 0o666)
        var template = MonitorSpec(target: .selection(MonitorSelection(select: "^app:t[ _]c", each: true)), condition: "above", value: 5)
        template.id = "tq"
        _ = try daemon.client.createMonitors([template])
        _ = try daemon.client.push("app:t c:a", value: 1)
        // The key whose plain id was the hashed id of root's `app:t c:b` (FNV-1a of `tq\0app:t c:b\0`).
        let crafted = "app:t_c.b:9292ade9fa9faf72"
        let push = try Products.run(
            "/usr/bin/setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", Products.path("resmon"), "--socket", daemon.socket, "push", crafted, "1"])
        #expect(push.status == 0, "\(push.error)")
        func instances() -> [MonitorInfo] { ((try? daemon.client.monitors()) ?? []).filter { $0.spec.template == "tq" } }
        #expect(daemon.eventually(timeout: 60) { instances().contains { $0.spec.target.description == crafted } })

        _ = try daemon.client.push("app:t c:b", value: 10)
        let watched = daemon.eventually(timeout: 60) {
            instances().contains { $0.spec.target.description == "app:t c:b" && $0.state.phase == "raised" }
        }
        let state = try daemon.client.monitor("tq").state
        #expect(watched, "root's statistic is watched and raises; the template says: \(state.warning ?? "nothing")")
        let all = instances()
        #expect(Set(all.map(\.spec.target.description)) == ["app:t c:a", crafted, "app:t c:b"])
        #expect(Set(all.map(\.id)).count == all.count)
        #expect(state.warning == nil, "\(state.warning ?? "")")
    }
}
