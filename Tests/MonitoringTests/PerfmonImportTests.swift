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
        #expect(
            net.target == .selection(MonitorSelection(select: "^net:[^:]+:(receive|transmit)_bytes_total$", where: ["physical": "^true$"], aggregate: "sum")))
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

        let cgroup = try PerfmonImport.specs(
            xml: Array(
                """
                <config><variable><name value="cpu_usage"/><alarm_trigger_level value="0.8"/></variable>
                <variable><name value="mem_usage"/></variable>
                <variable><name value="network_usage"/><alarm_trigger_level value="1e6"/></variable></config>
                """.utf8), object: .cgroup("/machine.slice/vm1.scope"), step: 5, table: table())
        try #require(cgroup.count == 3)
        #expect(
            cgroup.map(\.target) == [
                .key("cgroup:/machine.slice/vm1.scope:cpu_ratio"), .key("cgroup:/machine.slice/vm1.scope:memory_bytes"),
                .selection(
                    MonitorSelection(
                        select: "^cgroup:/machine\\.slice/vm1\\.scope:network_(receive|transmit)_bytes_total$",
                        aggregate: "sum"))
            ])
        #expect(cgroup[1].transform == "percent" && cgroup[1].value == 95)
    }

    @Test(arguments: [
        ("<config><variable><name value=\"cpu_usage\"/></variable></config>", "variable cpu_usage: alarm_trigger_level has no default; give one"),
        (
            "<config><variable><name value=\"warp_drive\"/><alarm_trigger_level value=\"1\"/></variable></config>",
            "variable warp_drive: resmon has no equivalent for the host (known: cpu_usage, network_usage, disk_usage, fs_usage, log_fs_usage, mem_usage, memory_free_kib); give an rrd_regex over the data-source names /rrd_updates serves (cpu0, pif_eth0_rx, memory), or over resmon statistic keys (with a ':')"
        ),
        (
            "<config><variable><name value=\"fs_usage\"/><alarm_priority value=\"9\"/></variable></config>",
            "variable fs_usage: alarm_priority is 1 to 5, not \"9\""
        ),
        (
            "<config><variable><name value=\"fs_usage\"/><alarm_trigger_sense value=\"sideways\"/></variable></config>",
            "variable fs_usage: alarm_trigger_sense is high or low, not \"sideways\""
        ),
        ("<settings/>", "perfmon XML: the root element is <settings>, expected <config>"),
        ("<config><variable><name value=\"fs_usage\"/></variable>", "perfmon XML: at byte 54: <config> is not closed"),
        (
            "<!DOCTYPE config [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><config><variable><name value=\"&xxe;\"/></variable></config>",
            "perfmon XML: at byte 1: DTDs and entity declarations are not accepted"
        ),
        (
            "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]><config>&lol2;</config>",
            "perfmon XML: at byte 1: DTDs and entity declarations are not accepted"
        ),
        ("<config><variable><name value=\"&xxe;\"/></variable></config>", "perfmon XML: at byte 32: unknown entity &xxe; (only the five predefined ones)"),
        ("<config><?php system('x') ?></config>", "perfmon XML: at byte 9: declarations and processing instructions are not accepted inside elements"),
        (String(repeating: "<a>", count: 40) + String(repeating: "</a>", count: 40), "perfmon XML: at byte 49: elements nest deeper than 16")
    ])
    func hostileOrWrongDocumentsAreRefusedClearly(_ xml: String, _ expected: String) {
        do {
            _ = try PerfmonImport.specs(xml: Array(xml.utf8), object: .host, step: 5, table: table())
            Issue.record("accepted: \(xml)")
        } catch {
            #expect(error.message == expected)
        }
    }

    @Test func hugeDocumentsAreRefused() {
        let huge = "<config>" + String(repeating: "<!-- padding -->", count: 70_000) + "</config>"
        let error = #expect(throws: PerfmonImport.ImportError.self) {
            _ = try PerfmonImport.specs(xml: Array(huge.utf8), object: .host, step: 5, table: table())
        }
        #expect(error?.message == "perfmon XML: at byte 1: the document is larger than 1 MiB")
    }

    /// Periods perfmon files give in seconds become sample counts: checked before `Int(…)`
    /// (issue 22: 1e300 trapped resmond).
    @Test(arguments: [
        ("alarm_trigger_period", "1e300", "longer than 100000 samples of 5 s"), ("alarm_trigger_period", "1e19", "longer than 100000 samples"),
        ("alarm_trigger_period", "500001", "longer than 100000 samples"), ("alarm_trigger_period", "-1", "is negative"),
        ("alarm_auto_inhibit_period", "-1e300", "is negative"), ("alarm_trigger_period", "nan", "is not a number"),
        ("alarm_auto_inhibit_period", "1e300", "longer than 31622400 s"), ("alarm_auto_inhibit_period", "31622401", "longer than 31622400 s")
    ])
    func periodsOutOfRangeAreRefusedByName(tag: String, value: String, expected: String) {
        let xml = #"<config><variable><name value="cpu_usage"/><alarm_trigger_level value="0.5"/><\#(tag) value="\#(value)"/></variable></config>"#
        let error = #expect(throws: PerfmonImport.ImportError.self) {
            _ = try PerfmonImport.specs(xml: Array(xml.utf8), object: .host, step: 5, table: table())
        }
        #expect(error?.message.contains("cpu_usage: \(tag)") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains(expected) == true, "\(error?.message ?? "")")
    }

    @Test func theLongestPeriodIsTheMostSamples() throws {
        let xml = #"<config><variable><name value="cpu_usage"/><alarm_trigger_level value="0.5"/><alarm_trigger_period value="500000"/></variable></config>"#
        let specs = try PerfmonImport.specs(xml: Array(xml.utf8), object: .host, step: 5, table: table())
        #expect(specs.first?.samples == 100_000)
    }

    /// A host with two CPUs (and a third offline one's iowait), an interface and the root file system.
    func hostTable() -> SampleTable {
        let table = SampleTable()
        for key in [
            "cpu:cpu0:usage_ratio", "cpu:cpu1:usage_ratio", "cpu:cpu0:iowait_ratio", "cpu:total:usage_ratio",
            "memory:host:available_bytes", "memory:host:total_bytes", "net:eth0:receive_bytes_total",
            "net:eth0:transmit_bytes_total", "fs:/:used_ratio", "cgroup:/vm1.scope:cpu_ratio", "cgroup:/vm1.scope:memory_bytes"
        ] {
            _ = table.register(StatisticDescriptor(key: StatisticKey(parsing: key)!, kind: .gauge, unit: "", help: ""))
        }
        return table
    }

    func variables(_ body: String, object: PerfmonImport.Object = .host) throws -> [String: PerfmonImport.Variable] {
        let found = try PerfmonImport.variables(xml: Array("<config>\(body)</config>".utf8), object: object, step: 5, table: hostTable())
        return Dictionary(uniqueKeysWithValues: found.map { ($0.name, $0) })
    }

    /// Issue 15: a user's rrd_regex was ignored on the variables resmon knows.
    @Test func aUsersRRDRegexIsSearchedOverTheXapiNamesOnEveryVariable() throws {
        let found = try variables(
            """
            <variable><name value="cpu_usage"/><alarm_trigger_level value="0.5"/><rrd_regex value="cpu[0-9]+"/></variable>
            <variable><name value="network_usage"/><alarm_trigger_level value="1e6"/><rrd_regex value="pif_eth0_rx"/></variable>
            <variable><name value="free"/><alarm_trigger_level value="1024"/><alarm_trigger_sense value="low"/><rrd_regex value="memory_free"/></variable>
            <variable><name value="keys"/><alarm_trigger_level value="0.9"/><rrd_regex value="^cpu:total:usage_ratio$"/></variable>
            """)
        // Unanchored as perfmon searches, but over the names /rrd_updates serves: cpu0 and cpu1,
        // not cpu:cpu0:iowait_ratio (whose key also holds "cpu0").
        let cpu = try #require(found["cpu_usage"])
        #expect(cpu.spec.target == .selection(MonitorSelection(select: "^(cpu|memory|load|net):", where: ["xapi_name": "cpu[0-9]+"], aggregate: "average")))
        #expect(cpu.statistics == ["cpu:cpu0:usage_ratio", "cpu:cpu1:usage_ratio"] && cpu.warning == nil)
        #expect(found["network_usage"]?.statistics == ["net:eth0:receive_bytes_total"])
        // memory_free_kib is in KiB: the level is too.
        let free = try #require(found["free"])
        #expect(free.statistics == ["memory:host:available_bytes"] && free.spec.value == 1024 * 1024 && free.spec.condition == "below")
        // A regex with a ':' can only mean resmon's keys.
        #expect(found["keys"]?.spec.target == .selection(MonitorSelection(select: "^cpu:total:usage_ratio$", aggregate: "sum")))
        #expect(found["keys"]?.statistics == ["cpu:total:usage_ratio"])

        let vm = try variables(
            """
            <variable><name value="cpu_usage"/><alarm_trigger_level value="0.5"/><rrd_regex value="cpu[0-9]+"/></variable>
            <variable><name value="memory"/><alarm_trigger_level value="1e9"/><rrd_regex value="^memory$"/></variable>
            """, object: .cgroup("/vm1.scope"))
        #expect(vm["cpu_usage"]?.statistics == ["cgroup:/vm1.scope:cpu_ratio"])
        #expect(vm["memory"]?.statistics == ["cgroup:/vm1.scope:memory_bytes"])
    }

    @Test func aRegexThatMatchesNothingIsSaidSo() throws {
        let found = try variables(
            """
            <variable><name value="network_usage"/><alarm_trigger_level value="1e6"/><rrd_regex value="pif_eth[0-9]+_[rt]x_nope"/></variable>
            """)
        let net = try #require(found["network_usage"])
        #expect(net.statistics.isEmpty)
        #expect(
            net.warning
                == "rrd_regex \"pif_eth[0-9]+_[rt]x_nope\" matches no data source of the host (the names /rrd_updates serves, such as cpu0, memory, pif_eth0_rx) now: the monitor stays unknown until one appears"
        )
    }

    @Test(arguments: ["max", "min", "sum", "average"])
    func consolidationFunctionsPerfmonKnows(_ function: String) throws {
        let found = try variables(
            """
            <variable><name value="cpu_usage"/><alarm_trigger_level value="0.5"/><consolidation_fn value="\(function)"/></variable>
            <variable><name value="mem_usage"/><consolidation_fn value="\(function)"/></variable>
            """)
        #expect(found["cpu_usage"]?.spec.target == .selection(MonitorSelection(select: "^cpu:cpu[0-9]+:usage_ratio$", aggregate: function)))
        // Over one statistic every function is that statistic.
        #expect(found["mem_usage"]?.spec.target == .key("memory:host:used_ratio"))
    }

    @Test func anExplicitGetPercentFSUsageIsTheRootFileSystem() throws {
        let found = try variables(
            """
            <variable><name value="root"/><alarm_trigger_level value="0.8"/><consolidation_fn value="get_percent_fs_usage"/></variable>
            <variable><name value="fs_usage"/><consolidation_fn value="get_percent_fs_usage"/><rrd_regex value="__DUMMY__"/></variable>
            """, object: .cgroup("/vm1.scope"))
        let root = try #require(found["root"])
        #expect(root.spec.target == .key("fs:/:used_ratio") && root.spec.value == 0.8 && root.statistics == ["fs:/:used_ratio"] && root.warning == nil)
        let fs = try #require(found["fs_usage"])
        #expect(fs.spec.target == .key("fs:/:used_ratio") && fs.spec.value == 0.9 && fs.spec.loggingRate == 604_800)
        #expect(fs.warning == "rrd_regex is not used with consolidation_fn get_percent_fs_usage (as in perfmon): the root file system's used ratio is")
    }

    @Test(arguments: [
        (
            "<variable><name value=\"cpu_usage\"/><alarm_trigger_level value=\"1\"/><consolidation_fn value=\"median\"/></variable>",
            "variable cpu_usage: consolidation_fn \"median\" is not supported (sum, average, max, min or get_percent_fs_usage)"
        ),
        (
            "<variable><name value=\"x\"/><alarm_trigger_level value=\"1\"/><rrd_regex value=\"cpu[\"/></variable>",
            "variable x: rrd_regex \"cpu[\" does not compile: missing ]: ["
        )
    ])
    func badConsolidationsAndRegexesAreRefusedByName(_ body: String, _ expected: String) {
        let error = #expect(throws: PerfmonImport.ImportError.self) { _ = try variables(body) }
        #expect(error?.message == expected)
    }
}

@Suite struct BacktestTests {
    @Test func aReplayFindsTheRaiseAndTheCancelItShould() throws {
        let descriptor = StatisticDescriptor(key: StatisticKey(parsing: "app:test:level")!, kind: .gauge, unit: "", help: "")
        let times = Array(stride(from: 1_800_000_000, to: 1_800_000_100, by: 5))
        let values = times.indices.map { $0 >= 5 && $0 < 10 ? 90.0 : 10.0 }  // 25 s above 50
        var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        spec.samples = 2
        let events = try MonitorEngine.backtest(spec, series: [BacktestSeries(descriptor: descriptor, times: times, values: values)], step: 5).events
        #expect(events.map(\.type) == ["above", "canceled"])
        #expect(events.map(\.time) == [Double(times[6]), Double(times[11])])  // cancelSamples is samples: two below

        var template = spec
        template.target = .selection(MonitorSelection(select: "x", each: true))
        #expect(throws: MonitorError.self) {
            _ = try MonitorEngine.backtest(template, series: [BacktestSeries(descriptor: descriptor, times: times, values: values)], step: 5)
        }
    }
}
