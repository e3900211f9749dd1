import Foundation
import ResmonAPI
import ResmonTestSupport
import Statistics
import Storage
import Testing

@testable import Monitoring

/// Attack round 4, item 6: cgroups /atk.x and /atk_x both made perfmon.cgroup_atk_x.*, and the
/// second import silently replaced the first's monitors.
@Suite struct PerfmonIDTests {
    static let cpu = Array(#"<config><variable><name value="cpu_usage"/><alarm_trigger_level value="0.5"/></variable></config>"#.utf8)

    func engine() throws -> (MonitorEngine, TemporaryDirectory) {
        let directory = TemporaryDirectory("resmon-perfmon-ids")
        let table = SampleTable()
        for path in ["/atk.x", "/atk_x"] {
            _ = table.register(StatisticDescriptor(key: StatisticKey(parsing: "cgroup:\(path):cpu_ratio")!, kind: .gauge, unit: "", help: ""))
        }
        let database = try StateDatabase(path: directory.file("state.db"), migrations: MonitorStore.migrations)
        return (MonitorEngine(database: database, table: table, step: 5, host: "test"), directory)
    }

    @Test func twoCgroupsWhoseNamesSanitiseAlikeKeepTheirOwnMonitors() throws {
        let (engine, directory) = try engine()
        _ = directory
        for path in ["/atk.x", "/atk_x"] {
            let variables = try PerfmonImport.variables(xml: Self.cpu, object: .cgroup(path), step: 5, table: engine.table)
            let answer = try engine.importPerfmon(variables, object: .cgroup(path), caller: 0)
            #expect(answer.variables.map(\.outcome) == ["created"], "\(path): \(answer.variables.map(\.outcome))")
        }
        let targets = engine.list().filter { $0.id.hasPrefix("perfmon.") }.map { $0.spec.target.description }.sorted()
        #expect(targets == ["cgroup:/atk.x:cpu_ratio", "cgroup:/atk_x:cpu_ratio"], "\(engine.list().map(\.id))")
    }

    @Test func scopesAreOneToOne() {
        let paths = ["/atk.x", "/atk_x", "/atk/x", "/atk-x", "/atk-2ex", "/a", "/é"]
        let scopes = paths.map { PerfmonImport.scope(.cgroup($0)) }
        #expect(Set(scopes).count == paths.count, "\(scopes)")
        #expect(PerfmonImport.scope(.cgroup("/machine.slice/vm1.scope")) == "cgroup_machine-2eslice_vm1-2escope")
        let long = PerfmonImport.scope(.cgroup("/machine.slice/" + String(repeating: "a", count: 80) + ".scope"))
        #expect(long.utf8.count == 40 && long.contains("--"), "\(long)")
        #expect(scopes.allSatisfy { $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_-".contains($0)) } }, "\(scopes)")
    }

    @Test func anotherObjectsMonitorsUnderTheSameIdsAreRefusedNotReplaced() throws {
        let (engine, directory) = try engine()
        _ = directory
        let variables = try PerfmonImport.variables(xml: Self.cpu, object: .cgroup("/atk.x"), step: 5, table: engine.table)
        var squatter = variables[0].spec
        squatter.labels = ["perfmon_variable": "cpu_usage", "perfmon_object": "cgroup:/elsewhere"]
        _ = try engine.create([squatter], owner: 0)
        #expect {
            _ = try engine.importPerfmon(variables, object: .cgroup("/atk.x"), caller: 0)
        } throws: { error in
            (error as? MonitorError)?.kind == .conflict && "\(error)".contains("cgroup:/elsewhere")
        }
    }

    @Test func twoVariablesThatMakeOneIdAreRefused() throws {
        let xml = Array(
            #"<config><variable><name value="a.b"/><alarm_trigger_level value="1"/><rrd_regex value="^memory:host:used_bytes$"/></variable><variable><name value="a_b"/><alarm_trigger_level value="1"/><rrd_regex value="^memory:host:used_bytes$"/></variable></config>"#
                .utf8)
        #expect {
            _ = try PerfmonImport.variables(xml: xml, object: .host, step: 5, table: SampleTable())
        } throws: { error in
            "\(error)".contains("variables a.b and a_b both make monitor perfmon.host.a_b")
        }
    }
}
