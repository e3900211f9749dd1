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

    /// Issue 22, attack 5, finding 4: a resource may hold a `.`, so the readable id of
    /// `app:t_c.b:9292ade9fa9faf72` was the hashed id of `app:t c:b`. Hostile keys — spaces,
    /// dots, underscores, dashes, start times, keys long enough to be hashed — and for each the
    /// key whose readable id would spell its id, all get distinct ids.
    @Test func instanceIDsAreInjectiveOverHostileKeys() throws {
        func descriptor(_ key: String, start: String? = nil) -> StatisticDescriptor? {
            StatisticKey(parsing: key).map {
                StatisticDescriptor(key: $0, kind: .gauge, unit: "", labels: start.map { ["start_time": $0] } ?? [:], help: "")
            }
        }
        var candidates: [StatisticDescriptor] = []
        let letters = ["a", "_", ".", " ", "-", "/", "é", "%"]
        var resources = letters
        for first in letters { for second in letters { resources += [first + second, first + "1" + second] } }
        resources += ["t c.b", "t_c.b", "t.c.b", String(repeating: "x", count: 60), String(repeating: "x", count: 61) + ".y"]
        for resource in resources {
            for statistic in ["v", "v_w", "9292ade9fa9faf72"] {
                let key = StatisticKey(subsystem: "app", resource: resource, statistic: statistic).text
                candidates += [descriptor(key), descriptor(key, start: "3"), descriptor(key, start: "3.v")].compactMap { $0 }
            }
        }
        candidates += ["app:t c:b", "app:t_c.b:9292ade9fa9faf72", "process:12-3:v", "process:12:v"].compactMap { descriptor($0) }
        // For each id, the key whose readable form would be it: `tq.<sub>.<resource…>.<statistic>`.
        for id in candidates.map({ MonitorEngine.instanceID(template: "tq", descriptor: $0) }) {
            let parts = id.dropFirst("tq.".count).split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count >= 3 else { continue }
            let key = StatisticKey(subsystem: String(parts[0]), resource: parts.dropFirst().dropLast().joined(separator: "."), statistic: String(parts.last!))
            if let crafted = descriptor(key.text) { candidates.append(crafted) }
        }
        var owners: [String: String] = [:]
        var collisions: [String] = []
        for candidate in candidates {
            let identity = candidate.key.text + "\u{0}" + (candidate.labels["start_time"] ?? "")
            let id = MonitorEngine.instanceID(template: "tq", descriptor: candidate)
            #expect(id.utf8.count <= 64 && id.allSatisfy(MonitorEngine.idCharacter), "\(id)")
            if let other = owners.updateValue(identity, forKey: id), other != identity { collisions.append("\(id): \(other) and \(identity)") }
        }
        #expect(collisions.count == 0, "\(collisions.prefix(3))")
        let root = try #require(descriptor("app:t c:b"))
        let crafted = try #require(descriptor("app:t_c.b:9292ade9fa9faf72"))
        #expect(MonitorEngine.instanceID(template: "tq", descriptor: root) != MonitorEngine.instanceID(template: "tq", descriptor: crafted))
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

    /// State saved under the id the fourth attack's fix gave (`tc.app.web.1.rss`, readable with
    /// the `.` in its resource) comes back under the hashed id that statistic has now.
    @Test func aStateSavedUnderAnFNVIDIsCarriedOver() throws {
        let rig = try Rig()
        rig.put(key: "app:web.1:rss", value: 10)
        _ = try rig.engine.create([Self.template("tc", "^app:web")], owner: 0)
        rig.cycle()
        let id = try #require(rig.engine.list().first { $0.spec.template == "tc" }?.id)
        #expect(id.hasPrefix("tc.app.web.1.rss--"), "\(id)")
        try rig.restart()
        try rig.database.withDatabase { try $0.execute("UPDATE instance_state SET id = 'tc.app.web.1.rss' WHERE id = ?", [.text(id)]) }
        try rig.restart()
        rig.cycle()
        #expect(rig.engine.monitor(id)?.state.phase == "raised")
        #expect(rig.events.map(\.type) == ["above"], "no second raise")
        let rows = try rig.database.withDatabase { try $0.execute("SELECT id FROM instance_state") }.compactMap { $0.first?.text }
        #expect(rows == [id])
    }

    @Test func sha256MatchesFIPSVectors() {
        func hex(_ text: String) -> String { SHA256.digest(text.utf8).map { String(format: "%02x", $0) }.joined() }
        #expect(hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(String(repeating: "a", count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
        #expect(
            hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}
