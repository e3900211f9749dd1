import Foundation
import ResmonTestSupport
import Statistics
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A plug-in's output is bounded before it costs memory: files by their size before they are
/// read, series per plug-in and in all, archives as configured; a plug-in over a limit or past
/// its timeout says so in `/v1/subsystems` and the log.
@Suite struct PluginLimitTests {
    static func series(_ prefix: String, _ count: Int) -> String {
        (0..<count).map { "\(prefix){n=\"\($0)\"} \($0)\n" }.joined()
    }

    @Test func filesAreCheckedBeforeTheyAreReadAndSeriesAreBoundedPerPluginAndInAll() throws {
        let directory = TemporaryDirectory("resmon-plugin-limits")
        for name in ["fifo", "sparse", "many", "first", "second"] { mkdir(directory.file(name), 0o755) }
        // A FIFO no one writes: opened without O_NONBLOCK it blocks the run for ever.
        #expect(mkfifo(directory.file("fifo/a.prom"), 0o644) == 0)
        try directory.write("fifo/b.prom", "good_value 1\n")
        // 64 MB of holes: checked by size, never read.
        let sparse = open(directory.file("sparse/big.prom"), O_WRONLY | O_CREAT, 0o644)
        #expect(ftruncate(sparse, 64 << 20) == 0)
        close(sparse)
        try directory.write("many/a.prom", Self.series("many_value", 500))
        try directory.write("first/a.prom", Self.series("first_value", 100))
        try directory.write("second/a.prom", Self.series("second_value", 100))
        for name in ["fifo", "sparse", "first", "second"] {
            try directory.write("config/subsystems.d/\(name).json", #"{"kind": "textfile", "path": "\#(directory.file(name))", "interval": 1}"#)
        }
        try directory.write(
            "config/subsystems.d/many.json", #"{"kind": "textfile", "path": "\#(directory.file("many"))", "interval": 1, "maxSeries": 100}"#)
        let stuck = try PluginTests.script(directory, "stuck.sh", "exec sleep 60")
        try directory.write("config/subsystems.d/stuck.json", #"{"kind": "exec", "command": ["\#(stuck)"], "interval": 1, "timeout": 1}"#)
        let daemon = try DaemonHarness(configuration: #"{"registry": {"maxSeries": 150}}"#, directory: directory)
        func status(_ name: String) -> (state: String, reason: String) {
            let found = ((try? daemon.client.subsystems()) ?? []).first { $0.name == name }
            return (found?.state ?? "", (found?.reason ?? "") + " " + (found?.lastError ?? ""))
        }
        #expect(daemon.eventually(timeout: 20) { (try? daemon.client.statistic("fifo:_:good_value").value) == 1 }, "\(status("fifo"))")
        #expect(status("fifo").reason.contains("a.prom is not a regular file"), "\(status("fifo"))")
        #expect(daemon.eventually(timeout: 20) { status("sparse").state == "over-limit" }, "\(status("sparse"))")
        #expect(status("sparse").reason.contains("67108864 bytes"), "\(status("sparse"))")
        #expect(daemon.eventually(timeout: 20) { status("many").state == "over-limit" }, "\(status("many"))")
        #expect(status("many").reason.contains("maxSeries 100"), "\(status("many"))")
        #expect((try? daemon.client.statistic("many:n=0:many_value")) == nil)
        // 100 and 100 series against 150 in all: whichever comes second is refused.
        #expect(
            daemon.eventually(timeout: 20) { [status("first").state, status("second").state].sorted() == ["available", "over-limit"] },
            "\(status("first")) \(status("second"))")
        let refused = status("first").state == "over-limit" ? "first" : "second"
        #expect(status(refused).reason.contains("registry.maxSeries 150"), "\(status(refused))")
        #expect(daemon.eventually(timeout: 20) { status("stuck").state == "stuck" }, "\(status("stuck"))")
        #expect(status("stuck").reason.contains("ran past its timeout"), "\(status("stuck"))")
        #expect(daemon.eventually(timeout: 30) { daemon.stderr.contains("subsystem many is over-limit") }, "logged")
        #expect(try daemon.client.health().status == "ok")
    }

    @Test func archivePatternsMatchWholeStatisticNames() {
        let plugin = PluginConfiguration(
            name: "node", kind: .scrape(url: "http://127.0.0.1:9100/metrics"), interval: 5, timeout: 5, maxBytes: 1 << 20,
            archive: ["node_load*", "*_bytes_total", "exact", "a*b*c"])
        #expect(plugin.archives("node_load1") && plugin.archives("node_load"))
        #expect(plugin.archives("node_disk_read_bytes_total") && plugin.archives("exact") && plugin.archives("axxbyyc"))
        #expect(!plugin.archives("node_cpu_seconds_total") && !plugin.archives("exactly") && !plugin.archives("xnode_load1"))
        #expect(!plugin.archives("axxbyy"))
        let none = PluginConfiguration(name: "n", kind: .textfile(directory: "/x"), interval: 5, timeout: 5, maxBytes: 1024, archive: [])
        #expect(!none.archives("anything"))
    }

    @Test func onlyTheStatisticsAPluginArchivesKeepHistory() throws {
        let directory = TemporaryDirectory("resmon-plugin-archive")
        mkdir(directory.file("textfiles"), 0o755)
        try directory.write("textfiles/a.prom", "kept_value 1\ndropped_value 2\n")
        try directory.write(
            "config/subsystems.d/batch.json",
            #"{"kind": "textfile", "path": "\#(directory.file("textfiles"))", "interval": 1, "archive": ["kept_*"]}"#)
        mkdir(directory.file("capped"), 0o755)
        try directory.write("capped/a.prom", Self.series("capped_value", 20))
        try directory.write("config/subsystems.d/capped.json", #"{"kind": "textfile", "path": "\#(directory.file("capped"))", "interval": 1}"#)
        let daemon = try DaemonHarness(configuration: #"{"history": {"maxPluginStatistics": 11}}"#, directory: directory)
        #expect(daemon.eventually(timeout: 20) { (try? daemon.client.statistic("batch:_:dropped_value").value) == 2 })
        #expect(daemon.eventually(timeout: 20) { (try? daemon.client.statistic("capped:n=19:capped_value").value) == 19 })
        try daemon.waitForCycles(3)
        #expect((try? daemon.client.history("batch:_:kept_value")) != nil, "archived: it matches the plug-in's archive")
        #expect((try? daemon.client.history("batch:_:dropped_value")) == nil, "not archived: it matches no pattern")
        let archived = (0..<20).filter { (try? daemon.client.history("capped:n=\($0):capped_value")) != nil }
        #expect(archived.count == 10, "history.maxPluginStatistics 11, one taken by batch: \(archived)")
    }
}
