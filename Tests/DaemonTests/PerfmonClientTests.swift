import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// What an unmodified perfmon reads from resmond's `/rrd_updates`: its default regexes searched
/// unanchored (Python's `re.search`) over every object's data-source names, consolidated per row.
struct PerfmonReading {
    /// perfmon's default `rrd_regex`es, for the host and for VMs, across its versions.
    static let defaultRegexes = [
        "cpu[0-9]+", "pif_eth[0-9]+_[rt]x", "vif_[0-9]+_[rt]x", "vbd_(xvd|hd)[a-z]+_(read|write)",
        "vbd_.+_(read|write)", "memory_internal_free", "memory"
    ]

    let reader: XportReader

    init(xml: [UInt8]) throws {
        reader = XportReader()
        let parser = XMLParser(data: Data(xml))
        parser.delegate = reader
        guard parser.parse() else { throw DaemonHarness.NotReady(description: "unparsable xport: \(String(decoding: xml, as: UTF8.self).prefix(300))") }
    }

    /// perfmon's `(_, objtype, uuid, paramname) = entry.split(':')`: nil when it would not unpack.
    static func split(_ entry: String) -> (type: String, uuid: String, name: String)? {
        let parts = entry.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        return (String(parts[1]), String(parts[2]), String(parts[3]))
    }

    /// The data-source names of one object type, as perfmon files them.
    func names(of type: String) -> [String] { reader.legend.compactMap(PerfmonReading.split).filter { $0.type == type }.map(\.name) }

    /// The columns of one object whose names `regex` finds, searched unanchored.
    func columns(type: String, uuid: String? = nil, searching regex: String) throws -> [Int] {
        let pattern = try Regex(regex)
        return reader.legend.indices.filter { index in
            guard let entry = PerfmonReading.split(reader.legend[index]), entry.type == type, uuid == nil || entry.uuid == uuid else { return false }
            return entry.name.contains(pattern)
        }
    }

    /// perfmon's `average` over the chosen columns in each row (its `get_value` reads a missing
    /// or unparsable value as 0.0); nil for rows with an unknown member.
    func average(_ columns: [Int]) -> [(time: Int, value: Double?)] {
        reader.rows.map { row in
            let values = columns.map { Double(row.values[$0]) ?? 0 }
            guard !columns.isEmpty, values.allSatisfy(\.isFinite) else { return (row.time, nil) }
            return (row.time, values.reduce(0, +) / Double(values.count))
        }
    }
}

@Suite struct PerfmonClientTests {
    /// Issue 15: resmon's own keys exported as `cpu_cpu0_iowait_ratio` made perfmon's `cpu[0-9]+`
    /// average 14 unrelated columns into cpu_usage (0.57 while both CPUs were at 0.998).
    @Test func perfmonsDefaultHostRegexesReadOnlyTheirXapiDataSources() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "none", "--step", "1"])
        let start = Int(Date().timeIntervalSince1970) - 30
        var reading: PerfmonReading?
        #expect(
            try daemon.eventually(timeout: 30) {
                let response = try daemon.client.send(
                    "GET", "/rrd_updates", query: [("start", "\(start)"), ("cf", "AVERAGE"), ("interval", "1"), ("host", "true")])
                guard response.status == 200 else { return false }
                let candidate = try PerfmonReading(xml: response.body)
                let cpus = try candidate.columns(type: "host", searching: "^cpu[0-9]+$")
                guard !cpus.isEmpty, candidate.average(cpus).filter({ $0.value != nil }).count >= 3 else { return false }
                reading = candidate
                return true
            })
        let perfmon = try #require(reading)
        // Every entry unpacks into perfmon's four fields.
        #expect(perfmon.reader.legend.allSatisfy { PerfmonReading.split($0) != nil })

        // Each default regex finds only the xapi data sources it was written for.
        let host = perfmon.names(of: "host")
        let xapiNames = try Regex("^(cpu[0-9]+|cpu_avg|memory_total_kib|memory_free_kib|loadavg|pif_.+_[rt]x)$")
        for regex in PerfmonReading.defaultRegexes {
            let pattern = try Regex(regex)
            let strays = host.filter { $0.contains(pattern) && !$0.contains(xapiNames) }
            #expect(strays.isEmpty, "\(regex) also finds \(strays)")
        }

        // cpu_usage as perfmon computes it equals the average of resmond's own per-CPU values.
        let cpuUsage = perfmon.average(try perfmon.columns(type: "host", searching: "cpu[0-9]+"))
        let cpuCount = try perfmon.columns(type: "host", searching: "^cpu[0-9]+$").count
        var own: [Int: [Double]] = [:]
        for cpu in 0..<cpuCount {
            let history = try daemon.client.history("cpu:cpu\(cpu):usage_ratio", start: start)
            for row in history.rows { if let value = row.v { own[row.t, default: []].append(value) } }
        }
        var compared = 0
        for row in cpuUsage {
            guard let value = row.value, let members = own[row.time], members.count == cpuCount else { continue }
            let expected = members.reduce(0, +) / Double(cpuCount)
            #expect(abs(value - expected) < 1e-3, "t=\(row.time): perfmon's cpu_usage \(value), resmond's CPUs average \(expected)")
            compared += 1
        }
        #expect(compared >= 3)

        // resmon's own keys are there for whoever asks for them.
        let native = try daemon.client.send("GET", "/rrd_updates", query: [("start", "\(start)"), ("interval", "1"), ("host", "true"), ("native", "true")])
        #expect(native.status == 200)
        let names = try PerfmonReading(xml: native.body).names(of: "host")
        #expect(names.contains("cpu_cpu0_iowait_ratio") && names.contains("cpu0"))
        let refused = try daemon.client.send("GET", "/rrd_updates", query: [("start", "\(start)"), ("host", "true"), ("native", "maybe")])
        #expect(refused.status == 400)
        #expect(String(decoding: refused.body, as: UTF8.self).contains("native: expected true or false"))
    }
}

extension PerfmonClientTests {
    /// cgroups are perfmon's VMs: its VM regexes find only the xapi names, and what a VM lacks is
    /// said in the answer rather than left for perfmon to read as 0.
    @Test func controlGroupsReadAsVMsAndSayWhatTheyLack() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "127.0.0.1:0", "--step", "1"])
        let start = Int(Date().timeIntervalSince1970) - 60
        var body: [UInt8] = []
        var reading: PerfmonReading?
        #expect(
            try daemon.eventually(timeout: 60) {
                let response = try daemon.client.send("GET", "/rrd_updates", query: [("start", "\(start)"), ("cf", "AVERAGE"), ("interval", "1")])
                guard response.status == 200 else { return false }
                let candidate = try PerfmonReading(xml: response.body)
                guard candidate.names(of: "vm").contains("cpu0") else { return false }
                body = response.body
                reading = candidate
                return true
            })
        let perfmon = try #require(reading)
        let vm = perfmon.names(of: "vm")
        #expect(vm.contains("cpu_avg") && vm.contains("memory"))
        let xapiNames = try Regex("^(cpu0|cpu_avg|memory|vbd_all_read|vbd_all_write|vif_0_rx|vif_0_tx)$")
        for regex in PerfmonReading.defaultRegexes {
            let strays = vm.filter { $0.contains(try! Regex(regex)) && !$0.contains(xapiNames) }
            #expect(strays.isEmpty, "\(regex) also finds \(strays)")
        }
        let uuid = try #require(perfmon.reader.legend.compactMap(PerfmonReading.split).first { $0.type == "vm" }?.uuid)
        let text = String(decoding: body, as: UTF8.self)
        #expect(text.contains("<!-- resmon: vm \(uuid) (cgroup /"))
        #expect(text.contains("has no vif_0_rx/tx (its processes share the host's network namespace, whose traffic is the host's pif_*)"))
        // A VM's block I/O is its one virtual disk, which perfmon's disk_usage sums; a VM whose
        // I/O is not archived yet says so instead.
        #expect(vm.contains("vbd_all_read") && vm.contains("vbd_all_write") || text.contains("vbd_all_read/write (no block I/O archived"))
        // Every form says it in a header too, one line however many VMs there are.
        let vms = Set(perfmon.reader.legend.compactMap(PerfmonReading.split).filter { $0.type == "vm" }.map(\.uuid)).count
        let listen = try #require(try daemon.client.status().listen)
        let curl = try Products.run("/usr/bin/curl", ["-si", "http://\(listen)/rrd_updates?start=\(start)&interval=1&json"])
        let header = try #require(curl.output.split(separator: "\r\n").first { $0.hasPrefix("X-Resmon-Missing: ") })
        #expect(header.contains("vms have no vif_0_rx/tx (its processes share the host's network namespace"), "\(header)")
        #expect(header.utf8.count < 2048)
    }
}

extension PerfmonClientTests {
    func importPerfmon(_ daemon: DaemonHarness, _ variables: String) throws -> (status: Int, answer: PerfmonImportResponse) {
        let response = try daemon.client.send(
            "POST", "/v1/monitors/import/perfmon", query: [("object", "host")],
            body: Array("<config>\(variables)</config>".utf8))
        let answer = try JSONDecoder().decode(PerfmonImportResponse.self, from: Data(response.body))
        return (response.status, answer)
    }

    /// Issue 15: importing again for the same object answered 409; perfmon's refresh replaces the
    /// configuration, and a variable that did not change keeps its state.
    @Test func reimportingRefreshesAsPerfmonDoes() throws {
        let daemon = try DaemonHarness()
        let cpu = #"<variable><name value="cpu_usage"/><alarm_trigger_level value="0.95"/></variable>"#
        let fs = #"<variable><name value="fs_usage"/></variable>"#
        let first = try importPerfmon(daemon, cpu + fs)
        #expect(first.status == 201)
        #expect(first.answer.variables.map(\.outcome) == ["created", "created"])
        #expect(
            daemon.eventually(timeout: 30) {
                (try? daemon.client.monitor("perfmon.host.cpu_usage").state.lastEvaluated) != nil
                    && (try? daemon.client.monitor("perfmon.host.fs_usage").state.lastEvaluated) != nil
            })
        let fsBefore = try daemon.client.monitor("perfmon.host.fs_usage")
        let cpuBefore = try daemon.client.monitor("perfmon.host.cpu_usage")

        // The same configuration again: nothing changes, state included.
        let same = try importPerfmon(daemon, cpu + fs)
        #expect(same.status == 200)
        #expect(same.answer.variables.map(\.outcome) == ["unchanged", "unchanged"])
        #expect(try daemon.client.monitor("perfmon.host.cpu_usage").createdAt == cpuBefore.createdAt)

        // cpu_usage changes (replaced, afresh), fs_usage does not (kept), and a new variable comes.
        let changed = #"<variable><name value="cpu_usage"/><alarm_trigger_level value="0.5"/></variable>"#
        let net = #"<variable><name value="network_usage"/><alarm_trigger_level value="1e9"/><rrd_regex value="pif_nosuchnic_rx"/></variable>"#
        let refreshed = try importPerfmon(daemon, changed + fs + net)
        #expect(refreshed.status == 201)
        #expect(refreshed.answer.variables.map(\.outcome) == ["replaced", "unchanged", "created"])
        #expect(try daemon.client.monitor("perfmon.host.cpu_usage").spec.value == 0.5)
        let fsAfter = try daemon.client.monitor("perfmon.host.fs_usage")
        #expect(fsAfter.createdAt == fsBefore.createdAt && fsAfter.state.lastEvaluated != nil)

        // A regex that matches nothing is said in the answer, on the monitor, and by the CLI.
        let expected =
            #"rrd_regex "pif_nosuchnic_rx" matches no data source of the host (the names /rrd_updates serves, such as cpu0, memory, pif_eth0_rx) now: the monitor stays unknown until one appears"#
        let report = try #require(refreshed.answer.variables.first { $0.name == "network_usage" })
        #expect(report.statistics.isEmpty && report.warning == expected)
        let monitor = try daemon.client.monitor("perfmon.host.network_usage")
        #expect(monitor.state.members == 0)
        #expect(
            monitor.state.warning
                == #"sum(^(cpu|memory|load|net):{xapi_name=~"pif_nosuchnic_rx"}) selects no statistic now: it stays unknown until one appears (GET /v1/statistics lists them)"#
        )
        let shown = try Products.run(Products.path("resmon"), ["monitor", "show", "perfmon.host.network_usage"], environment: ["RESMON_SOCKET": daemon.socket])
        #expect(shown.status == 0 && shown.output.contains("selects no statistic now"), "\(shown.output) \(shown.error)")
        #expect(try daemon.client.monitor("perfmon.host.cpu_usage").state.warning == nil)

        // A variable no longer configured goes, as perfmon drops it.
        let last = try importPerfmon(daemon, changed)
        #expect(last.status == 200 && last.answer.removed == ["perfmon.host.fs_usage", "perfmon.host.network_usage"])
        #expect(try daemon.client.monitors().map(\.id).filter { $0.hasPrefix("perfmon.") } == ["perfmon.host.cpu_usage"])
    }
}
