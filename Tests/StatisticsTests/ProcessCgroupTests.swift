import Foundation
import ResmonTestSupport
import Testing

@testable import Statistics

@Suite struct ProcessTests {
    @Test func aNameWithSpacesAndParenthesesParses() throws {
        let line = "12552 (a b) c) S 12549 12549 935 0 -1 4194304 134 0 7 0 250 50 0 0 20 0 3 0 272954 2990080 393 18446744073709551615 0"
        let bytes = Array(line.utf8)
        let parsed = ProcessSubsystem.parseStat(bytes.span)  // outside the macro, which cannot capture a Span
        let stat = try #require(parsed)
        #expect(stat.comm == "a b) c")
        #expect(stat.state == UInt8(ascii: "S"))
        #expect(stat.majorFaults == 7 && stat.userTicks == 250 && stat.systemTicks == 50)
        #expect(stat.threads == 3 && stat.startTime == 272954 && stat.vsize == 2990080 && stat.rssPages == 393)
        #expect(!stat.isKernelThread)
        let unclosed = Array("12 (x".utf8), short = Array("12 (x) S 1 2".utf8)
        let unclosedStat = ProcessSubsystem.parseStat(unclosed.span), shortStat = ProcessSubsystem.parseStat(short.span)
        #expect(unclosedStat == nil)
        #expect(shortStat == nil)
    }

    @Test func systemdUnitComesFromTheCgroupPath() {
        #expect(ProcessSubsystem.systemdUnit(cgroupFile: "0::/system.slice/nginx.service\n") == "nginx.service")
        #expect(ProcessSubsystem.systemdUnit(cgroupFile: "9:name=systemd:/user.slice/user-0.slice/session-3.scope\n4:memory:/\n0::/\n") == "session-3.scope")
        #expect(ProcessSubsystem.systemdUnit(cgroupFile: "0::/system.slice/docker-1.scope/inner\n") == "docker-1.scope")
        #expect(ProcessSubsystem.systemdUnit(cgroupFile: "0::/user.slice\n") == "user.slice")
        #expect(ProcessSubsystem.systemdUnit(cgroupFile: "0::/\n") == nil)
    }

    @Test func processesFromACapturedTree() throws {
        let host = try Host()
        let processes = ProcessSubsystem(paths: host.paths, table: host.table)
        var clock = 100.0
        processes.monotonicClock = { clock }
        try host.collect(processes, at: 100)
        // 4242 is a copy of /bin/sleep started as "a b) c"; 2 is kthreadd, a kernel thread.
        let rss = try #require(host.sample("process:4242:rss_bytes"))
        #expect(rss.value == Double(393 * Int(sysconf(Int32(_SC_PAGESIZE)))))
        #expect(rss.descriptor.labels["name"] == "a b) c")
        #expect(rss.descriptor.labels["cmdline"] == "/tmp/a b) c 1000")
        #expect(rss.descriptor.labels["user"] == "root")
        #expect(rss.descriptor.labels["unit"] == "nginx.service")
        #expect(host.value("process:4242:open_fds") == 3)
        #expect(host.value("process:4242:threads") == 1)
        #expect(host.value("process:4242:state") == 2)
        #expect(host.value("process:4242:vsize_bytes") == 2990080)
        #expect(host.sample("process:4242:read_bytes_total")?.total == 0)
        #expect(host.sample("process:2:rss_bytes") == nil)

        // 2 s later the process has used 1 s of CPU: on a machine of N CPUs that is 0.5 / N.
        var stat = try host.tree.read("proc/4242/stat")
        stat = stat.replacingOccurrences(of: " 134 0 0 0 0 0 0 0 20 ", with: " 134 0 0 0 60 40 0 0 20 ")
        try host.tree.write("proc/4242/stat", stat)
        clock = 102
        try host.collect(processes, at: 102)
        let cpus = Double(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let ratio = try #require(host.value("process:4242:cpu_ratio"))
        #expect(abs(ratio - 0.5 / cpus) < 1e-9)
        #expect(abs((host.value("process:4242:cpu_seconds_total") ?? 0) - 0.5) < 1e-9)  // 1 s over 2 s
    }

    @Test func aReusedPIDStartsFreshAndAnExitedOneGoes() throws {
        let host = try Host()
        let processes = ProcessSubsystem(paths: host.paths, table: host.table)
        try host.collect(processes, at: 100)
        let before = try #require(host.table.handle(for: "process:4242:cpu_seconds_total"))
        let stat = try host.tree.read("proc/4242/stat")
        try host.tree.write("proc/4242/stat", stat.replacingOccurrences(of: " 272954 ", with: " 999999 "))
        try host.collect(processes, at: 101)
        let after = try #require(host.table.handle(for: "process:4242:cpu_seconds_total"))
        #expect(before != after)
        #expect(host.sample("process:4242:cpu_seconds_total")?.value.isNaN == true)  // no rate across processes
        #expect(host.sample("process:4242:rss_bytes")?.descriptor.labels["start_time"] == "999999")

        try host.tree.remove("proc/4242")
        try host.collect(processes, at: 102)
        #expect(host.sample("process:4242:rss_bytes") == nil)
    }

    @Test func aProcessVanishingMidReadIsSkippedQuietly() throws {
        let host = try Host()
        try host.tree.write("proc/4243/stat", "")
        try host.tree.write("proc/4244/stat", "4244 (half")
        let processes = ProcessSubsystem(paths: host.paths, table: host.table)
        try host.collect(processes)
        #expect(host.sample("process:4243:rss_bytes") == nil)
        #expect(host.sample("process:4244:rss_bytes") == nil)
        #expect(host.sample("process:4242:rss_bytes") != nil)
    }
}

@Suite struct CgroupTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    func collector(_ version: String, table: SampleTable) -> CgroupSubsystem {
        CgroupSubsystem(
            paths: HostPaths(procRoot: CgroupTests.fixtures + "/host1/proc", sysRoot: CgroupTests.fixtures + "/cgroup-\(version)/sys"),
            table: table)
    }

    func collect(_ subsystem: CgroupSubsystem, _ table: SampleTable, at time: Double) throws {
        var batch = SampleBatch()
        try subsystem.collect(into: &batch)
        table.apply(batch, time: time, monotonicTime: time)
    }

    @Test func versionOneControllers() throws {
        let table = SampleTable()
        let cgroups = collector("v1", table: table)
        try collect(cgroups, table, at: 1)
        let key = "cgroup:/system.slice/nginx.service:"
        #expect(table.sample(forKey: key + "cpu_seconds_total")?.total == 12.5)
        let memory = try #require(table.sample(forKey: key + "memory_bytes"))
        #expect(memory.value == 734003200)
        #expect(memory.descriptor.upperBound == 1073741824)
        #expect(memory.descriptor.labels == ["version": "1", "unit": "nginx.service"])
        #expect(table.sample(forKey: key + "memory_limit_bytes")?.value == 1073741824)
        #expect(table.sample(forKey: key + "read_bytes_total")?.total == 4196)
        #expect(table.sample(forKey: key + "written_bytes_total")?.total == 8192)
        #expect(table.sample(forKey: key + "pids")?.value == 12)
        // An unlimited group is bounded by the host's memory.
        #expect(table.sample(forKey: "cgroup:/:memory_limit_bytes")?.value == Double(24684096 * 1024))
        #expect(table.sample(forKey: key + "cpu_pressure_ratio") == nil)  // v1 has no per-group PSI
    }

    @Test func versionTwoFiles() throws {
        let table = SampleTable()
        let cgroups = collector("v2", table: table)
        try collect(cgroups, table, at: 1)
        let key = "cgroup:/system.slice/nginx.service:"
        #expect(table.sample(forKey: key + "cpu_seconds_total")?.total == 2.5)
        #expect(table.sample(forKey: key + "cpu_seconds_total")?.descriptor.resolution == 1e-6)
        #expect(table.sample(forKey: key + "memory_bytes")?.descriptor.upperBound == 1073741824)
        #expect(table.sample(forKey: key + "read_bytes_total")?.total == 4196)
        #expect(table.sample(forKey: key + "pids")?.value == 12)
        #expect(table.sample(forKey: key + "cpu_pressure_ratio")?.value == 0.02)
        #expect(table.sample(forKey: key + "io_pressure_ratio")?.value == 0.05)
        #expect(table.sample(forKey: "cgroup:/init.scope:memory_limit_bytes")?.value == Double(24684096 * 1024))
        #expect(table.sample(forKey: "cgroup:/:cpu_seconds_total")?.total == 9000)
        #expect(table.sample(forKey: "cgroup:/:memory_bytes")?.value == Double((24684096 - 24262400) * 1024))
        #expect(table.sample(forKey: "cgroup:/system.slice/nginx.service:memory_bytes")?.descriptor.labels["version"] == "2")
    }

    @Test func noCgroupFileSystemIsUnavailable() throws {
        let table = SampleTable()
        let empty = TemporaryDirectory("resmon-nocgroup")
        let cgroups = CgroupSubsystem(paths: HostPaths(procRoot: "/proc", sysRoot: empty.path), table: table)
        #expect(throws: SubsystemUnavailable.self) { try collect(cgroups, table, at: 1) }
    }
}

@Suite struct SelectorAndPushTests {
    func descriptor(_ key: String, _ labels: [String: String]) -> StatisticDescriptor {
        StatisticDescriptor(key: StatisticKey(parsing: key)!, kind: .gauge, unit: "bytes", labels: labels, help: "")
    }

    @Test func labelMatchers() throws {
        let nginx = descriptor("process:10:rss_bytes", ["name": "nginx", "user": "www-data"])
        #expect(try Selector(where: ["name=nginx"]).matches(nginx))
        #expect(try Selector(where: ["name~^ngi", "user!=root"]).matches(nginx))
        #expect(try !Selector(where: ["name!~ngi"]).matches(nginx))
        #expect(try Selector(match: "rss", where: ["statistic=rss_bytes", "resource=10", "subsystem~^proc"]).matches(nginx))
        #expect(try !Selector(where: ["unit=x"]).matches(nginx))
        #expect(try Selector(where: ["unit="]).matches(nginx))  // absent matches as empty
    }

    @Test(arguments: ["name", "=x", "na me=x", "name~(", "name!x"])
    func badMatchersAreRefused(_ text: String) {
        #expect(throws: SelectorError.self) { try Selector(where: [text]) }
    }

    @Test func pushedValuesRoundTripAndExpire() throws {
        let table = SampleTable()
        let pushed = PushedStatistics(table: table, expireSeconds: 10)
        let key = try #require(StatisticKey(parsing: "app:shop:orders_total"))
        try pushed.push(key, value: 5, kind: .counter, unit: "orders", monotonicTime: 100)
        try pushed.push(key, value: 25, kind: .counter, unit: "orders", monotonicTime: 104)
        #expect(table.sample(forKey: key.text)?.value == 5)  // 20 orders in 4 s
        #expect(throws: PushedStatistics.Refusal.kindConflict(key: key.text, existing: .counter)) {
            try pushed.push(key, value: 1, kind: .gauge, unit: "", monotonicTime: 105)
        }
        pushed.expire(monotonicTime: 113)
        #expect(table.sample(forKey: key.text) != nil)
        pushed.expire(monotonicTime: 115)
        #expect(table.sample(forKey: key.text) == nil)
    }

    @Test func aPushedStatisticBelongsToItsFirstPusherUntilItGoes() throws {
        let table = SampleTable()
        let pushed = PushedStatistics(table: table, expireSeconds: 10)
        let key = try #require(StatisticKey(parsing: "app:queue:depth"))
        try pushed.push(key, value: 1, kind: .gauge, unit: "", caller: 1000, monotonicTime: 100)
        #expect(throws: PushedStatistics.Refusal.notOwner(key: key.text, owner: 1000)) {
            try pushed.push(key, value: 2, kind: .gauge, unit: "", caller: 1001, monotonicTime: 101)
        }
        #expect(throws: PushedStatistics.Refusal.notOwner(key: key.text, owner: 1000)) { try pushed.remove(key, caller: 1001) }
        try pushed.push(key, value: 3, kind: .gauge, unit: "", caller: 0, monotonicTime: 102)  // root may
        try pushed.push(key, value: 4, kind: .gauge, unit: "", caller: 1000, monotonicTime: 103)  // still 1000's
        #expect(table.sample(forKey: key.text)?.value == 4)
        pushed.expire(monotonicTime: 114)
        try pushed.push(key, value: 5, kind: .gauge, unit: "", caller: 1001, monotonicTime: 115)  // expired: free again
        #expect(try pushed.remove(key, caller: 1001))
        #expect(try !pushed.remove(key, caller: 1001))
    }

    @Test func garbageIsRefused() throws {
        let pushed = PushedStatistics(table: SampleTable())
        let gauge = try #require(StatisticKey(parsing: "app:x:depth"))
        #expect(throws: PushedStatistics.Refusal.self) { try pushed.push(gauge, value: .nan, kind: .gauge, unit: "") }
        #expect(throws: PushedStatistics.Refusal.self) { try pushed.push(gauge, value: 1, kind: .gauge, unit: "Bytes!") }
        #expect(throws: PushedStatistics.Refusal.self) { try pushed.push(gauge, value: 1, kind: .counter, unit: "") }
        #expect(throws: PushedStatistics.Refusal.self) { try pushed.push(StatisticKey(parsing: "cpu:x:y")!, value: 1, kind: .gauge, unit: "") }
        #expect(throws: PushedStatistics.Refusal.self) { try pushed.push(StatisticKey(parsing: "app:x:y_total")!, value: -1, kind: .counter, unit: "") }
    }

    @Test func aFasterPeriodCanBeRequestedAndWithdrawn() throws {
        let host = try Host()
        let collector = Collector(
            subsystems: [LoadSubsystem(paths: host.paths, table: host.table)], table: host.table,
            step: 1, settings: ["load": SubsystemSettings(period: 10)])
        collector.requestPeriod(2, for: "load", by: "monitor-1")
        for time in stride(from: 100.0, through: 110, by: 1) { collector.collect(time: time, monotonicTime: time) }
        #expect(collector.statuses()[0].periodSeconds == 2)
        #expect(collector.statuses()[0].collections == 6)
        collector.withdrawPeriodRequest(by: "monitor-1")
        for time in stride(from: 111.0, through: 130, by: 1) { collector.collect(time: time, monotonicTime: time) }
        #expect(collector.statuses()[0].periodSeconds == 10)
        #expect(collector.statuses()[0].collections == 8)
    }
}

extension CgroupTests {
    /// A container's group (its processes in a network namespace of their own) counts that
    /// namespace's traffic; a group in the host's namespace has no network statistics at all.
    @Test func aGroupInItsOwnNetworkNamespaceCountsItsTraffic() throws {
        let tree = TemporaryDirectory("resmon-cgroup-net")
        for (source, name) in [(CgroupTests.fixtures + "/host1/proc", "proc"), (CgroupTests.fixtures + "/cgroup-v2/sys", "sys")] {
            #expect(try Products.run("/bin/cp", ["-r", source, tree.file(name)]).status == 0)
        }
        try tree.write("sys/fs/cgroup/machine.slice/vm1.scope/cgroup.procs", "4242\n4243\n")
        try tree.write("sys/fs/cgroup/system.slice/nginx.service/cgroup.procs", "77\n")
        for (pid, namespace) in [("self", "net:[4026531833]"), ("77", "net:[4026531833]"), ("4242", "net:[4026532999]")] {
            try FileManager.default.createDirectory(atPath: tree.file("proc/\(pid)/ns"), withIntermediateDirectories: true)
            #expect(symlink(namespace, tree.file("proc/\(pid)/ns/net")) == 0)
        }
        try tree.write(
            "proc/4242/net/dev",
            """
            Inter-|   Receive                                                |  Transmit
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
                lo:  999999     10    0    0    0     0          0         0   999999      10    0    0    0     0       0          0
              eth0: 1000        5    0    0    0     0          0         0     2000      7    0    0    0     0       0          0
              eth1:  500        2    0    0    0     0          0         0      250      1    0    0    0     0       0          0

            """)
        let table = SampleTable()
        let cgroups = CgroupSubsystem(paths: HostPaths(procRoot: tree.file("proc"), sysRoot: tree.file("sys")), table: table)
        try collect(cgroups, table, at: 1)
        let vm = "cgroup:/machine.slice/vm1.scope:"
        #expect(table.sample(forKey: vm + "network_receive_bytes_total")?.total == 1500, "lo is left out")
        #expect(table.sample(forKey: vm + "network_transmit_bytes_total")?.total == 2250)
        #expect(table.sample(forKey: vm + "network_receive_bytes_total")?.descriptor.labels["unit"] == "vm1.scope")
        #expect(table.sample(forKey: "cgroup:/system.slice/nginx.service:network_receive_bytes_total") == nil, "the host's namespace")
        #expect(table.sample(forKey: "cgroup:/system.slice/nginx.service:memory_bytes") != nil)
    }
}
