import ResmonAPI
import Testing

@testable import Monitoring

/// Issue 22, attack 4: a precondition followed whoever next created the id it names, another
/// ordinary user included. It follows only a monitor of its own owner's, or root's.
@Suite struct PreconditionOwnerTests {
    static func spec(_ id: String, dependsOn upstream: String? = nil) -> MonitorSpec {
        var spec = MonitorSpec(target: .key("app:a:v"), condition: "above", value: 5)
        spec.id = id
        if let upstream { spec.precondition = MonitorPrecondition(monitor: upstream) }
        return spec
    }

    @Test func aPreconditionNeverFollowsAnotherUsersMonitor() throws {
        let rig = try SelectionTests.Table()
        rig.put(key: "app:a:v", value: 10)
        _ = try rig.engine.create([Self.spec("up")], owner: 0)
        _ = try rig.engine.create([Self.spec("pin", dependsOn: "up")], owner: 1000)  // root's: followed
        try rig.engine.delete("up", caller: 0)
        // Another ordinary user takes the id, and its monitor is raised.
        _ = try rig.engine.create([Self.spec("up")], owner: 2000)
        rig.cycle()
        rig.cycle()
        #expect(rig.engine.monitor("up")?.state.phase == "raised")
        let pin = try #require(rig.engine.monitor("pin"))
        #expect(pin.state.phase == "clear", "uid 1000's dependent followed uid 2000's monitor")
        #expect(pin.state.warning?.contains("uid 2000") == true, "\(pin.state.warning ?? "no warning")")
        // Naming another ordinary user's monitor is refused outright.
        #expect(throws: MonitorError.self) { try rig.engine.create([Self.spec("pin2", dependsOn: "up")], owner: 1000) }
        // Its own owner's, and root's, still count.
        _ = try rig.engine.create([Self.spec("mine", dependsOn: "up")], owner: 2000)
        rig.cycle()
        #expect(rig.engine.monitor("mine")?.state.phase == "raised")
    }
}
