import Foundation
import ResmonAPI
import Statistics
import Testing
@testable import Monitoring

@Suite struct PerfmonImportTests {
    func table(withVarLog: Bool = false) -> SampleTable {
        let table = SampleTable()
        if withVarLog {
            _ = table.register(StatisticDescriptor(key: StatisticKey(parsing: "fs:/var/log:used_ratio")!, kind: .gauge, unit: "", help: ""))
        }
        return table
    }

    @Test func everyVariableBecomesTheDocumentedMonitor() throws {
        let xml = """
            <?xml version="1.0"?>
            <!-- perfmon, as xe host-param-set writes it -->
            <config>
              <variable><name value="cpu_usage"/><alarm_trigger_level value="0.5"/></variable>
              <variable><name value="network_usage"/><alarm_trigger_level value="1e8"/><alarm_trigger_period value="30"/></variable>
              <variable><name value="disk_usage"/><alarm_trigger_level value="5e7"/><alarm_priority value="2"/></variable>
              <variable><name value="fs_usage"/></variable>
              <variable><name value="log_fs_usage"/></variable>
              <variable><name value="mem_usage"/></variable>
              <variable><name value="memory_free_kib"/><alarm_trigger_level value="102400"/><alarm_auto_inhibit_period value="600"/></variable>
            </config>
            """
        let specs = try PerfmonImport.specs(xml: Array(xml.utf8), object: .host, step: 5, table: table(withVarLog: true))
        let byID = Dictionary(uniqueKeysWithValues: specs.map { ($0.id!, $0) })
        #expect(specs.count == 7)
        let cpu = try #require(byID["perfmon.host.cpu_usage"])
        #expect(cpu.target == .selection(MonitorSelection(select: "^cpu:cpu[0-9]+:usage_ratio$", aggregate: "average")))
        #expect(cpu.condition == "above" && cpu.value == 0.5 && cpu.samples == 12 && cpu.loggingRate == 3600 && cpu.severity == "info")
        let net = try #require(byID["perfmon.host.network_usage"])
        #expect(net.target == .selection(MonitorSelection(select: "^net:[^:]+:(receive|transmit)_bytes_total$", where: ["physical": "^true$"], aggregate: "sum")))
        #expect(net.samples == 6)
        #expect(byID["perfmon.host.disk_usage"]?.severity == "err")
        #expect(byID["perfmon.host.fs_usage"]?.target == .key("fs:/:used_ratio"))
        #expect(byID["perfmon.host.fs_usage"]?.value == 0.9 && byID["perfmon.host.fs_usage"]?.loggingRate == 604_800)
        #expect(byID["perfmon.host.log_fs_usage"]?.target == .key("fs:/var/log:used_ratio"))
        #expect(byID["perfmon.host.mem_usage"]?.target == .key("memory:host:used_ratio") && byID["perfmon.host.mem_usage"]?.value == 0.95)
        let free = try #require(byID["perfmon.host.memory_free_kib"])
        #expect(free.target == .key("memory:host:available_bytes") && free.condition == "below" && free.value == 102_400 * 1024)
        #expect(free.loggingRate == 600)

        // /var/log on the root file system: log_fs_usage has nothing of its own to watch.
        let plain = try PerfmonImport.specs(xml: Array(xml.utf8), object: .host, step: 5, table: table())
        #expect(!plain.contains { $0.id == "perfmon.host.log_fs_usage" })

        let cgroup = try PerfmonImport.specs(xml: Array("""
            <config><variable><name value="cpu_usage"/><alarm_trigger_level value="0.8"/></variable>
            <variable><name value="mem_usage"/></variable></config>
            """.utf8), object: .cgroup("/machine.slice/vm1.scope"), step: 5, table: table())
        #expect(cgroup.map(\.target) == [.key("cgroup:/machine.slice/vm1.scope:cpu_ratio"), .key("cgroup:/machine.slice/vm1.scope:memory_bytes")])
        #expect(cgroup[1].transform == "percent" && cgroup[1].value == 95)
    }

    @Test(arguments: [
        ("<config><variable><name value=\"cpu_usage\"/></variable></config>", "alarm_trigger_level has no default"),
        ("<config><variable><name value=\"warp_drive\"/><alarm_trigger_level value=\"1\"/></variable></config>", "no equivalent"),
        ("<config><variable><name value=\"fs_usage\"/><alarm_priority value=\"9\"/></variable></config>", "alarm_priority"),
        ("<config><variable><name value=\"fs_usage\"/><alarm_trigger_sense value=\"sideways\"/></variable></config>", "alarm_trigger_sense"),
        ("<settings/>", "root element"),
        ("<config><variable><name value=\"fs_usage\"/></variable>", "not closed"),
        ("<!DOCTYPE config [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><config><variable><name value=\"&xxe;\"/></variable></config>", "DTDs"),
        ("<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]><config>&lol2;</config>", "DTDs"),
        ("<config><variable><name value=\"&xxe;\"/></variable></config>", "unknown entity"),
        ("<config><?php system('x') ?></config>", "processing instructions"),
        (String(repeating: "<a>", count: 40) + String(repeating: "</a>", count: 40), "deeper than 16"),
    ])
    func hostileOrWrongDocumentsAreRefusedClearly(_ xml: String, _ expected: String) {
        do {
            _ = try PerfmonImport.specs(xml: Array(xml.utf8), object: .host, step: 5, table: table())
            Issue.record("accepted: \(xml)")
        } catch {
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    @Test func hugeDocumentsAreRefused() {
        let huge = "<config>" + String(repeating: "<!-- padding -->", count: 70_000) + "</config>"
        #expect(throws: PerfmonImport.ImportError.self) {
            _ = try PerfmonImport.specs(xml: Array(huge.utf8), object: .host, step: 5, table: table())
        }
    }
}

@Suite struct BacktestTests {
    @Test func aReplayFindsTheRaiseAndTheCancelItShould() throws {
        let descriptor = StatisticDescriptor(key: StatisticKey(parsing: "app:test:level")!, kind: .gauge, unit: "", help: "")
        let times = Array(stride(from: 1_800_000_000, to: 1_800_000_100, by: 5))
        let values = times.indices.map { $0 >= 5 && $0 < 10 ? 90.0 : 10.0 } // 25 s above 50
        var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        spec.samples = 2
        let events = try MonitorEngine.backtest(spec, series: [BacktestSeries(descriptor: descriptor, times: times, values: values)], step: 5).events
        #expect(events.map(\.type) == ["above", "canceled"])
        #expect(events.map(\.time) == [Double(times[6]), Double(times[11])]) // cancelSamples is samples: two below

        var template = spec
        template.target = .selection(MonitorSelection(select: "x", each: true))
        #expect(throws: MonitorError.self) { _ = try MonitorEngine.backtest(template, series: [BacktestSeries(descriptor: descriptor, times: times, values: values)], step: 5) }
    }
}
