import Events
import Foundation
import ResmonAPI
import ResmonTestSupport
import Statistics
import Storage
import Testing

@testable import Monitoring

/// Issue 22, attack 4, new defect 3: a template made one instance per resource, so of several
/// statistics of one resource only one was watched, and resources whose names sanitised alike
/// (`t c`, `t_c`) shared one instance — an ordinary user's push could take a root statistic's.
@Suite struct TemplateInstanceTests {
    typealias Rig = SelectionTests.Table

    static func template(_ id: String, _ select: String, value: Double = 5) -> MonitorSpec {
        var spec = MonitorSpec(target: .selection(MonitorSelection(select: select, each: true)), condition: "above", value: value)
        spec.id = id
        return spec
    }

    @Test func everySelectedStatisticGetsItsOwnInstance() throws {
        let rig = try Rig()
        rig.put(key: "app:tc:a", value: 1)
        rig.put(key: "app:tc:b", value: 10)
        _ = try rig.engine.create([Self.template("tc", "^app:tc:[ab]$")], owner: 0)
        rig.cycle()
        let instances = rig.engine.list().filter { $0.spec.template == "tc" }
        #expect(instances.count == 2)
        #expect(Set(instances.map(\.spec.target.description)) == ["app:tc:a", "app:tc:b"])
        #expect(rig.engine.monitor("tc")?.state.members == 2)
        // b (10, above 5) is watched and raises.
        #expect(rig.events.map(\.key) == ["app:tc:b"])
    }

    @Test func resourcesThatSanitiseAlikeGetDistinctInstances() throws {
        let rig = try Rig()
        rig.put(key: "app:t c:a", value: 10)
        rig.put(key: "app:t_c:a", value: 10)
        rig.put(key: "app:t.c:a", value: 10)
        _ = try rig.engine.create([Self.template("tc", "^app:t.?c:a$")], owner: 0)
        rig.cycle()
        let instances = rig.engine.list().filter { $0.spec.template == "tc" }
        #expect(instances.count == 3)
        #expect(Set(instances.map(\.id)).count == 3)
        #expect(Set(rig.events.compactMap(\.key)) == ["app:t c:a", "app:t_c:a", "app:t.c:a"])
        for instance in instances { #expect(instance.id.utf8.count <= 64 && instance.id.hasPrefix("tc.")) }
    }

    @Test func instanceIDsAreInjectiveOverKeyAndStart() {
        func id(_ key: String, start: String? = nil, template: String = "t") -> String {
            let descriptor = StatisticDescriptor(
                key: StatisticKey(parsing: key)!, kind: .gauge, unit: "", labels: start.map { ["start_time": $0] } ?? [:], help: "")
            return MonitorEngine.instanceID(template: template, descriptor: descriptor)
        }
        let ids = [
            id("app:a b:v"), id("app:a_b:v"), id("app:a.b:v"), id("app:a:v"), id("app:a:w"), id("cpu:a:v"),
            id("process:12:v", start: "3"), id("process:12-3:v"), id("process:12:v", start: "4"),
            id("app:" + String(repeating: "x", count: 80) + ":v"), id("app:" + String(repeating: "x", count: 81) + ":v")
        ]
        #expect(Set(ids).count == ids.count, "\(ids)")
        #expect(ids.allSatisfy { $0.utf8.count <= 64 })
    }

    /// An id another monitor holds is refused for the instance, and the template says so in
    /// its state rather than leaving the statistic silently unwatched.
    @Test func aStatisticLeftWithoutInstanceIsSaidInTheTemplatesState() throws {
        let rig = try Rig()
        rig.put(key: "app:x:v", value: 10)
        rig.put(key: "app:y:v", value: 10)
        let taken = MonitorEngine.instanceID(
            template: "tc", descriptor: StatisticDescriptor(key: StatisticKey(parsing: "app:x:v")!, kind: .gauge, unit: "", help: ""))
        var squatter = MonitorSpec(target: .key("app:y:v"), condition: "above", value: 1000)
        squatter.id = taken
        _ = try rig.engine.create([squatter], owner: 0)
        _ = try rig.engine.create([Self.template("tc", "^app:[xy]:v$")], owner: 0)
        rig.cycle()
        let state = try #require(rig.engine.monitor("tc")?.state)
        #expect(state.members == 1)
        let warning = try #require(state.warning)
        #expect(warning.contains("app:x:v") && warning.contains(taken), "\(warning)")
    }

    /// A raised instance saved under its pre-upgrade id (`<template>.<resource>`) comes back
    /// raised under its new id, without a second raise, and the old row is forgotten.
    @Test func aPreUpgradeInstancesStateIsCarriedOver() throws {
        let rig = try Rig()
        rig.put(key: "app:web:rss", value: 10)
        _ = try rig.engine.create([Self.template("tc", "^app:web:rss$")], owner: 0)
        rig.cycle()
        let id = try #require(rig.engine.list().first { $0.spec.template == "tc" }?.id)
        #expect(rig.engine.monitor(id)?.state.phase == "raised")
        try rig.restart()
        // As an older resmond stored it.
        try rig.database.withDatabase { try $0.execute("UPDATE instance_state SET id = 'tc.web' WHERE id = ?", [.text(id)]) }
        try rig.restart()
        rig.cycle()
        #expect(rig.engine.monitor(id)?.state.phase == "raised")
        #expect(rig.events.map(\.type) == ["above"], "no second raise")
        let rows = try rig.database.withDatabase { try $0.execute("SELECT id FROM instance_state") }.compactMap { $0.first?.text }
        #expect(rows == [id])
        rig.set("web", 1)
        rig.cycle()
        #expect(rig.events.map(\.type) == ["above", "canceled"], "its logged raise still gets its cancel")
    }
}
