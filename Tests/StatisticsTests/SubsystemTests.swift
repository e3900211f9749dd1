import Foundation
import ResmonTestSupport
import Testing

@testable import Statistics

/// The collectors on a /proc and /sys tree captured from a real Debian 12 host (Tests/StatisticsTests/Fixtures/host1),
/// copied so that each test can change files between two collections.
struct Host {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/host1").path

    let tree: FixtureTree
    let table = SampleTable()
    var paths: HostPaths { HostPaths(procRoot: tree.procRoot, sysRoot: tree.sysRoot) }

    init() throws { tree = try FixtureTree(copying: Host.fixture) }

    func collect(_ subsystem: any Subsystem, at monotonic: Double = 100) throws {
        var batch = SampleBatch()
        try subsystem.collect(into: &batch)
        table.apply(batch, time: 1_800_000_000 + monotonic, monotonicTime: monotonic)
    }

    func value(_ key: String) -> Double? { table.sample(forKey: key)?.value }
    func sample(_ key: String) -> Sample? { table.sample(forKey: key) }
}

@Suite struct CPUTests {
    @Test func firstReadingIsUnknownThenSharesComeFromTickDeltas() throws {
        let host = try Host()
        let cpu = CPUSubsystem(paths: host.paths, table: host.table)
        try host.collect(cpu, at: 100)
        #expect(host.value("cpu:total:usage_ratio")?.isNaN == true)
        #expect(host.value("cpu:host:online") == 2)
        #expect(host.sample("cpu:host:context_switches_total")?.total == 123307)
        #expect(host.sample("cpu:host:forks_total")?.total == 2652)

        // 100 ticks of user, 50 system, 250 idle, 100 iowait on the total line: busy 150 of 500.
        var stat = try host.tree.read("proc/stat")
        stat = stat.replacingOccurrences(of: "cpu  2050 0 1420 30127 766 0 46 2 0 0", with: "cpu  2150 0 1470 30377 866 0 46 2 0 0")
        stat = stat.replacingOccurrences(of: "ctxt 123307", with: "ctxt 123407")
        try host.tree.write("proc/stat", stat)
        try host.collect(cpu, at: 102)
        #expect(host.value("cpu:total:usage_ratio") == 0.3)
        #expect(host.value("cpu:total:user_ratio") == 0.2)
        #expect(host.value("cpu:total:system_ratio") == 0.1)
        #expect(host.value("cpu:total:iowait_ratio") == 0.2)
        #expect(host.value("cpu:cpu0:usage_ratio")?.isNaN == true)  // cpu0 did not move: no elapsed ticks
        #expect(host.value("cpu:host:context_switches_total") == 50)  // 100 switches in 2 s
        let busy = try #require(host.sample("cpu:total:busy_seconds_total"))
        #expect(abs(busy.total - (2150 + 1470 + 46 + 2) / 100.0) < 1e-9)
        #expect(abs(busy.value - 0.75) < 1e-9)  // 1.5 s of CPU in 2 s
        #expect(busy.descriptor.resolution == 0.01)
        #expect(host.sample("cpu:cpu1:usage_ratio")?.descriptor.labels == ["cpu": "cpu1"])
    }

    @Test func aCPUGoingOfflineIsRetired() throws {
        let host = try Host()
        let cpu = CPUSubsystem(paths: host.paths, table: host.table)
        try host.collect(cpu)
        #expect(host.sample("cpu:cpu1:usage_ratio") != nil)
        let stat = try host.tree.read("proc/stat").split(separator: "\n").filter { !$0.hasPrefix("cpu1 ") }.joined(separator: "\n")
        try host.tree.write("proc/stat", stat)
        try host.collect(cpu, at: 101)
        #expect(host.sample("cpu:cpu1:usage_ratio") == nil)
        #expect(host.value("cpu:host:online") == 1)
    }

    @Test func garbageInProcStatIsAnErrorNotACrash() throws {
        let host = try Host()
        try host.tree.write("proc/stat", "cpu0 x y\n\u{0}\u{1}garbage\ncpu 1 2\n")
        let cpu = CPUSubsystem(paths: host.paths, table: host.table)
        #expect(throws: SubsystemUnavailable.self) { try host.collect(cpu) }
    }
}

@Suite struct MemoryLoadPressureTests {
    @Test func memoryComesFromMeminfoInBytes() throws {
        let host = try Host()
        try host.collect(MemorySubsystem(paths: host.paths, table: host.table))
        #expect(host.value("memory:host:total_bytes") == Double(24684096 * 1024))
        #expect(host.value("memory:host:available_bytes") == Double(24262400 * 1024))
        #expect(host.value("memory:host:used_bytes") == Double((24684096 - 24262400) * 1024))
        let ratio = try #require(host.value("memory:host:used_ratio"))
        #expect(abs(ratio - Double(24684096 - 24262400) / 24684096) < 1e-12)
        #expect(host.value("memory:host:swap_used_ratio") == 0)
        #expect(host.sample("memory:host:major_faults_total")?.total == 970)
        #expect(host.sample("memory:host:available_bytes")?.descriptor.upperBound == Double(24684096 * 1024))
    }

    @Test func memoryWithoutMemAvailableIsEstimated() throws {
        let host = try Host()
        try host.tree.write("proc/meminfo", "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n")
        try host.collect(MemorySubsystem(paths: host.paths, table: host.table))
        #expect(host.value("memory:host:available_bytes") == Double(400 * 1024))
    }

    @Test func loadAverages() throws {
        let host = try Host()
        try host.collect(LoadSubsystem(paths: host.paths, table: host.table))
        #expect(host.value("load:host:load1") == 0.35)
        #expect(host.value("load:host:load15") == 0.03)
        #expect(host.value("load:host:runnable") == 1)
        #expect(host.value("load:host:tasks") == 79)
    }

    @Test func pressureAveragesAreRatiosAndTotalsSeconds() throws {
        let host = try Host()
        try host.collect(PressureSubsystem(paths: host.paths, table: host.table))
        #expect(host.value("pressure:cpu:some_avg10_ratio") == 0.0361)
        #expect(host.sample("pressure:cpu:some_stall_seconds_total")?.total == 2.482148)
        #expect(host.sample("pressure:cpu:some_stall_seconds_total")?.descriptor.resolution == 1e-6)
        #expect(host.value("pressure:io:full_avg300_ratio") != nil)
    }

    @Test func missingPressureMakesTheSubsystemUnavailableWithAReason() throws {
        let host = try Host()
        try host.tree.remove("proc/pressure")
        let collector = Collector(
            subsystems: [
                PressureSubsystem(paths: host.paths, table: host.table),
                LoadSubsystem(paths: host.paths, table: host.table)
            ],
            table: host.table, step: 1)
        collector.collect(time: 1, monotonicTime: 1)
        let statuses = Dictionary(uniqueKeysWithValues: collector.statuses().map { ($0.name, $0) })
        #expect(statuses["pressure"]?.state == .unavailable)
        #expect(statuses["pressure"]?.reason?.contains("pressure stall information is not available") == true)
        #expect(statuses["pressure"]?.reason?.contains("CONFIG_PSI") == true)
        #expect(statuses["load"]?.state == .available)
        #expect(host.value("load:host:load1") == 0.35)
    }

    @Test func aSubsystemRecoversWhenItsFileReturns() throws {
        let host = try Host()
        let saved = try host.tree.read("proc/loadavg")
        try host.tree.write("proc/loadavg", "not a load average\n")
        let collector = Collector(subsystems: [LoadSubsystem(paths: host.paths, table: host.table)], table: host.table, step: 1)
        collector.collect(time: 1, monotonicTime: 1)
        #expect(collector.statuses()[0].state == .unavailable)
        #expect(collector.statuses()[0].failures == 1)
        try host.tree.write("proc/loadavg", saved)
        collector.collect(time: 2, monotonicTime: 2)
        #expect(collector.statuses()[0].state == .available)
        #expect(host.value("load:host:load5") == 0.11)
    }
}

@Suite struct DiskNetFileSystemTests {
    @Test func disksAreWholeDevicesWithoutLoopAndRam() throws {
        let host = try Host()
        try host.collect(DiskSubsystem(paths: host.paths, table: host.table))
        #expect(host.sample("disk:vda:reads_total")?.total == 25725)
        #expect(host.sample("disk:vda:read_bytes_total")?.total == Double(2946754 * 512))
        #expect(host.sample("disk:vda:io_time_seconds_total")?.total == 8.908)
        #expect(host.sample("disk:zram0:reads_total") != nil)
        #expect(host.sample("disk:loop0:reads_total") == nil)
        #expect(host.sample("disk:vda:reads_total")?.descriptor.labels == ["device": "vda"])
    }

    @Test func aWrappedThirtyTwoBitMillisecondCounterCountsOn() throws {
        let host = try Host()
        let disk = DiskSubsystem(paths: host.paths, table: host.table)
        let line = " 254       0 vda 1 0 8 0 1 0 8 0 0 %@ 0 0 0 0 0 0 0\n"
        try host.tree.write("proc/diskstats", line.replacingOccurrences(of: "%@", with: "4294967000"))
        try host.collect(disk, at: 10)
        try host.tree.write("proc/diskstats", line.replacingOccurrences(of: "%@", with: "704"))
        try host.collect(disk, at: 11)
        let busy = try #require(host.sample("disk:vda:io_time_seconds_total"))
        #expect(abs(busy.increase - 1.0) < 1e-6)  // 296 ms before the wrap + 704 ms after
        #expect(abs(busy.value - 1.0) < 1e-6)
    }

    @Test func interfacesCarryTrafficAndWhetherTheyArePhysical() throws {
        let host = try Host()
        try host.collect(NetSubsystem(paths: host.paths, table: host.table))
        #expect(host.sample("net:eth0:receive_bytes_total")?.total == 38576338)
        #expect(host.sample("net:eth0:transmit_packets_total")?.total == 392)
        #expect(host.sample("net:eth0:receive_bytes_total")?.descriptor.labels == ["interface": "eth0", "physical": "true"])
        #expect(host.sample("net:lo:receive_bytes_total")?.descriptor.labels["physical"] == "false")
    }

    @Test func aCounterThatGoesBackwardsIsAResetNotAHugeRate() throws {
        let host = try Host()
        let net = NetSubsystem(paths: host.paths, table: host.table)
        try host.collect(net, at: 10)
        let dev = try host.tree.read("proc/net/dev")
        try host.tree.write("proc/net/dev", dev.replacingOccurrences(of: "eth0: 38576338", with: "eth0: 1000"))
        try host.collect(net, at: 15)
        let reset = try #require(host.sample("net:eth0:receive_bytes_total"))
        #expect(reset.total == 1000)
        #expect(reset.value.isNaN)
        try host.tree.write("proc/net/dev", dev.replacingOccurrences(of: "eth0: 38576338", with: "eth0: 6000"))
        try host.collect(net, at: 20)
        #expect(host.value("net:eth0:receive_bytes_total") == 1000)  // 5000 bytes in 5 s
    }

    @Test func mountTableKeepsRealFileSystemsOnly() throws {
        let text =
            try String(contentsOfFile: Host.fixture + "/proc/self/mounts", encoding: .utf8)
            + "/dev/sdb1 /mnt/my\\040disk ext4 rw 0 0\n/dev/sdc1 /data xfs rw 0 0\n/dev/sdd1 /data btrfs rw 0 0\n"
        let bytes = Array(text.utf8)
        let mounts = FileSystemSubsystem.realMounts(in: bytes.span)
        #expect(mounts.map(\.path) == ["/", "/mnt/my disk", "/data"])
        #expect(mounts.first { $0.path == "/data" }?.type == "btrfs")
    }

    @Test func fileSystemsAreMeasuredWithStatvfs() throws {
        let host = try Host()
        try host.tree.write("proc/self/mounts", "/dev/root / ext4 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\n")
        try host.collect(FileSystemSubsystem(paths: host.paths, table: host.table))
        let size = try #require(host.value("fs:/:size_bytes"))
        let used = try #require(host.value("fs:/:used_bytes"))
        #expect(size > 0 && used > 0 && used < size)
        #expect(host.sample("fs:/:used_bytes")?.descriptor.upperBound == size)
        let ratio = try #require(host.value("fs:/:used_ratio"))
        #expect(ratio > 0 && ratio < 1)
        #expect(host.sample("fs:/:size_bytes")?.descriptor.labels == ["mount": "/", "device": "/dev/root", "fstype": "ext4"])
        #expect(host.sample("fs:/tmp:size_bytes") == nil)
    }
}

@Suite struct CollectorScheduleTests {
    @Test func subsystemsRunOnTheirOwnPeriodsAndTheFirstBoundaryIsNotSkipped() throws {
        let host = try Host()
        let collector = Collector(
            subsystems: [
                LoadSubsystem(paths: host.paths, table: host.table),
                MemorySubsystem(paths: host.paths, table: host.table)
            ],
            table: host.table, step: 5, settings: ["memory": SubsystemSettings(period: 12)])
        // Start-up 0.7 s into a step, then every boundary: 4.3 s after start, then 5 s apart.
        for time in [100.7, 105.0, 110.0, 115.0, 120.0] { collector.collect(time: time, monotonicTime: time) }
        let statuses = Dictionary(uniqueKeysWithValues: collector.statuses().map { ($0.name, $0) })
        #expect(statuses["load"]?.collections == 5)
        #expect(statuses["memory"]?.periodSeconds == 15)  // rounded up to a multiple of the step
        #expect(statuses["memory"]?.collections == 2)  // at 100.7 and 115
    }
}
