import Events
import Foundation
import ResmonAPI
import ResmonTestSupport
import Statistics
import Storage
import Testing

@testable import Monitoring

/// Aggregate and template targets over statistics that come and go.
@Suite struct SelectionTests {
    final class Table {
        let directory = TemporaryDirectory("resmon-selection")
        let table = SampleTable()
        var handles: [String: StatisticHandle] = [:]
        var database: StateDatabase
        var engine: MonitorEngine
        var time = 1_800_000_000.0
        var values: [String: Double] = [:]

        init() throws {
            database = try StateDatabase(path: directory.file("state.db"), migrations: MonitorStore.migrations)
            engine = MonitorEngine(database: database, table: table, step: 1, host: "test")
        }

        /// A process-like statistic `app:RESOURCE:rss` with a name label.
        func add(_ resource: String, name: String, value: Double) {
            let key = "app:\(resource):rss"
            handles[key] = table.register(
                StatisticDescriptor(
                    key: StatisticKey(parsing: key)!, kind: .gauge, unit: "bytes",
                    labels: ["name": name], help: "test"))
            values[key] = value
        }

        /// Any statistic, by its whole key.
        func put(key: String, value: Double, labels: [String: String] = [:]) {
            handles[key] = table.register(
                StatisticDescriptor(key: StatisticKey(parsing: key)!, kind: .gauge, unit: "bytes", labels: labels, help: "test"))
            values[key] = value
        }

        func retire(_ resource: String) {
            let key = "app:\(resource):rss"
            if let handle = handles.removeValue(forKey: key) { table.retire(handle) }
            values[key] = nil
        }

        func set(_ resource: String, _ value: Double) { values["app:\(resource):rss"] = value }

        /// One cycle: every live statistic read again, then evaluation.
        func cycle() {
            time += 1
            var batch = SampleBatch()
            for (key, handle) in handles { batch.record(handle, values[key] ?? .nan) }
            table.apply(batch, time: time, monotonicTime: time)
            engine.evaluate(now: time)
        }

        var events: [EventRecord] { (try? engine.eventStore.events(after: 0, limit: 1000)) ?? [] }

        func restart() throws {
            engine.saveAll()
            database = try StateDatabase(path: directory.file("state.db"), migrations: MonitorStore.migrations)
            engine = MonitorEngine(database: database, table: table, step: 1, host: "test")
            try engine.load()
        }
    }

    static func selection(_ aggregate: String?, each: Bool = false) -> MonitorTarget {
        .selection(MonitorSelection(select: "^app:[^:]+:rss$", where: ["name": "^nginx$"], aggregate: aggregate, each: each ? true : nil))
    }

    @Test func anAggregateFollowsItsMembersAsTheyComeAndGo() throws {
        let rig = try Table()
        rig.add("a", name: "nginx", value: 60)
        rig.add("b", name: "nginx", value: 50)
        rig.add("c", name: "postgres", value: 500)
        var spec = MonitorSpec(target: Self.selection("sum"), condition: "above", value: 100)
        spec.id = "nginx-total"
        let created = try rig.engine.create([spec], owner: 0)
        #expect(created[0].spec.name == #"sum(^app:[^:]+:rss${name=~"^nginx$"}) above 100"#)
        rig.cycle()
        #expect(rig.events.map(\.type) == ["above"] && rig.events[0].value == 110)
        #expect(rig.events[0].key == #"sum(^app:[^:]+:rss${name=~"^nginx$"})"#)
        rig.retire("b")  // a member goes: 60
        rig.cycle()
        #expect(rig.events.map(\.type) == ["above", "canceled"])
        rig.add("d", name: "nginx", value: 70)  // one comes: 130
        rig.cycle()
        #expect(rig.events.map(\.type) == ["above", "canceled", "above"])
        #expect(rig.engine.monitor("nginx-total")?.state.lastValue == 130)

        var count = MonitorSpec(target: Self.selection("count"), condition: "below", value: 1)
        count.id = "no-nginx"
        _ = try rig.engine.create([count], owner: 0)
        rig.retire("a")
        rig.retire("d")  // none left: a count of 0, the sum unknown
        rig.cycle()
        #expect(rig.events.filter { $0.monitorId == "no-nginx" }.map(\.type) == ["below"])
        #expect(rig.engine.monitor("nginx-total")?.state.lastValue == nil)
    }

    @Test func aTemplateMakesOneMonitorPerStatisticAndRetiresThemWithTheirResource() throws {
        let rig = try Table()
        rig.add("101", name: "nginx", value: 100)
        rig.add("102", name: "nginx", value: 400)
        rig.add("103", name: "postgres", value: 900)
        var spec = MonitorSpec(target: Self.selection(nil, each: true), condition: "above", value: 300)
        spec.id = "nginx-rss"
        spec.labels = ["team": "web"]
        _ = try rig.engine.create([spec], owner: 0)
        rig.cycle()
        let ids = Set(rig.engine.list().map(\.id))
        #expect(ids == ["nginx-rss", "nginx-rss.app.101.rss", "nginx-rss.app.102.rss"])
        #expect(rig.events.map(\.monitorId) == ["nginx-rss.app.102.rss"])
        #expect(rig.events[0].labels == ["name": "nginx", "team": "web", "uid": "0"], "resmond adds the owner's uid")
        #expect(rig.engine.monitor("nginx-rss.app.102.rss")?.spec.template == "nginx-rss")
        #expect(throws: MonitorError.self) { try rig.engine.delete("nginx-rss.app.102.rss", caller: 0) }

        try rig.restart()  // instances come back raised, and do not fire again
        rig.cycle()
        #expect(rig.engine.monitor("nginx-rss.app.102.rss")?.state.phase == "raised")
        #expect(rig.events.count == 1)

        rig.retire("102")  // the raised instance's resource goes: cancelled
        rig.add("104", name: "nginx", value: 500)
        rig.cycle()
        #expect(rig.events.map(\.type) == ["above", "canceled", "above"])
        #expect(rig.events.map(\.monitorId) == ["nginx-rss.app.102.rss", "nginx-rss.app.102.rss", "nginx-rss.app.104.rss"])
        #expect(Set(rig.engine.list().map(\.id)) == ["nginx-rss", "nginx-rss.app.101.rss", "nginx-rss.app.104.rss"])

        _ = try rig.engine.perform(.stop, on: "nginx-rss", caller: 0)  // actions reach every instance
        #expect(rig.engine.list().allSatisfy { !$0.state.running })
        try rig.engine.delete("nginx-rss", caller: 0)  // deleting the template retires them (raised: cancelled)
        #expect(rig.engine.list().isEmpty)
        #expect(rig.events.map(\.type).suffix(1) == ["canceled"])
    }

    @Test func instanceIDsAreStableAcrossRuns() {
        // A literal, not a second call: a per-process hash seed would pass a same-process check.
        let descriptor = StatisticDescriptor(
            key: StatisticKey(parsing: "cgroup:/process_api/1ed3cd7f1f103e8f2ab466cd24ecbbf9:memory_bytes")!,
            kind: .gauge, unit: "bytes", help: "")
        #expect(
            MonitorEngine.instanceID(template: "defaults.cgroup-memory", descriptor: descriptor)
                == "defaults.cgroup-memory.cgroup._process_api_1ed--6c5901fac8b3fcbf")
        let process = StatisticDescriptor(
            key: StatisticKey(parsing: "process:4242:rss_bytes")!, kind: .gauge, unit: "bytes",
            labels: ["start_time": "987654"], help: "")
        #expect(MonitorEngine.instanceID(template: "nginx-rss", descriptor: process) == "nginx-rss.process.4242-987654.rss_bytes")
    }

    @Test func selectionsAreValidated() throws {
        let rig = try Table()
        func refusal(_ target: MonitorTarget, type: MonitorType? = nil) -> String {
            var spec = MonitorSpec(target: target, condition: "above", value: 1)
            spec.type = type
            do {
                _ = try rig.engine.create([spec], owner: 0)
                return ""
            } catch {
                return error.message
            }
        }
        #expect(refusal(.selection(MonitorSelection(select: "(", aggregate: "sum"))).contains("match"))
        #expect(refusal(.selection(MonitorSelection(select: "x", aggregate: "median"))).contains("aggregate"))
        #expect(refusal(.selection(MonitorSelection(select: "x", aggregate: "sum", each: true))).contains("template"))
        #expect(refusal(.selection(MonitorSelection(select: "x", where: ["bad label": "y"], aggregate: "sum"))).contains("label"))
        let decoded = try JSONDecoder().decode(
            MonitorSpec.self, from: Data(#"{"target": {"select": "x", "aggregate": "sum"}, "condition": "above", "value": 1}"#.utf8))
        #expect(decoded.target == .selection(MonitorSelection(select: "x", aggregate: "sum")))
        #expect(throws: (any Error).self) {
            try JSONDecoder().decode(MonitorSpec.self, from: Data(#"{"target": {"select": "x", "sum": true}, "condition": "above", "value": 1}"#.utf8))
        }
    }
}
