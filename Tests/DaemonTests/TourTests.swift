import Foundation
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// README.md's five-minute tour, run as written, line by line and in order, against a real
/// resmond: a tour that does not work is the first thing a new user meets.
@Suite struct TourTests {
    /// The shell lines of the tour: the first ```sh block after "## A five-minute tour".
    static func tourLines() throws -> [String] {
        let readme = try String(contentsOfFile: Products.packageRoot() + "/README.md", encoding: .utf8)
        guard let tour = readme.range(of: "## A five-minute tour"),
            let start = readme.range(of: "```sh\n", range: tour.upperBound..<readme.endIndex),
            let end = readme.range(of: "\n```", range: start.upperBound..<readme.endIndex)
        else { return [] }
        return readme[start.upperBound..<end.lowerBound].split(separator: "\n").map(String.init)
    }

    @Test(
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus-node-exporter")
                && FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool")))
    func theReadmeTourWorksAsWritten() throws {
        let lines = try Self.tourLines()
        try #require(lines.count >= 20, "the tour was not found in README.md")
        let root = Products.packageRoot()
        // A debug build is several times larger and slower than the release build the tour runs
        // (`make run`), on a machine busy with other tests, so the self-limits are raised here;
        // docs/PERFORMANCE.md has the release figures against the default limits.
        let daemon = try DaemonHarness(
            arguments: ["--listen", "127.0.0.1:0", "--step", "1"],
            configuration: #"{"limits": {"memoryMB": 512, "cpuPercent": 1600}}"#, defaultMonitors: true)
        let listen = try #require(try daemon.client.status().listen)
        let work = TemporaryDirectory("resmon-tour")
        // node_exporter as the tour expects it, but on a free port: examples/plugins/node.json
        // with that port.
        let port = try freePort()
        let exporter = try SpawnedGroup("/usr/bin/prometheus-node-exporter", ["--web.listen-address=127.0.0.1:\(port)"])
        defer { exporter.stop() }
        let node = try String(contentsOfFile: root + "/examples/plugins/node.json", encoding: .utf8)
        try #require(node.contains("127.0.0.1:9100"))
        try work.write("node.json", node.replacingOccurrences(of: "127.0.0.1:9100", with: "127.0.0.1:\(port)"))

        // The places the tour names that a test cannot use as they are: the daemon's own
        // directories, socket (also as $RESMON_SOCKET, where the CLI looks before the default)
        // and port, and the example files by absolute path.
        let substitutions = [
            ("examples/plugins/node.json", work.file("node.json")), ("examples/", root + "/examples/"),
            ("/var/lib/resmon/resmond.sock", daemon.socket), ("/etc/resmon", daemon.configDirectory),
            ("127.0.0.1:9465", listen)
        ]
        let path = (Products.path("resmon") as NSString).deletingLastPathComponent + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        // Commands that run until Ctrl-C: stopped after a few seconds, still running then.
        let untilInterrupted = ["--follow", "resmon watch", "curl -sN"]
        for line in lines where !line.hasPrefix("export PATH=") {
            let command = substitutions.reduce(line) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
            if command.contains("promtool") {
                // The tour's plug-in step has had its first scrape.
                #expect(
                    daemon.eventually(timeout: 60) { ((try? daemon.client.statistics(matching: "^node:"))?.count ?? 0) > 100 },
                    "node_exporter's statistics")
            }
            let forever = untilInterrupted.contains { line.contains($0) }
            let script = "cd \(work.path) && " + (forever ? "timeout -s INT 4 " + command : command)
            let result = try Products.run(
                "/bin/bash", ["-o", "pipefail", "-c", script], environment: ["PATH": path, "RESMON_SOCKET": daemon.socket], timeout: 120)
            if forever {
                #expect([124, 130].contains(result.status) || result.status == 0, "\(line)\n\(result.error)")
            } else {
                #expect(result.status == 0, "\(line)\nexit \(result.status)\n\(result.output)\n\(result.error)")
            }
        }
        #expect(try daemon.client.health().status == "ok")
        // What the tour did is there: its monitors, the plug-in, and the perfmon import.
        let monitors = try daemon.client.monitors().map(\.spec.target.description)
        #expect(monitors.contains("cpu:total:usage_ratio"))
        #expect(try daemon.client.subsystems().contains { $0.name == "node" && $0.state == "available" })
        #expect(try daemon.client.monitors().contains { $0.id == "perfmon.host.cpu_usage" })
        #expect(FileManager.default.fileExists(atPath: work.file("load.rrd")), "rrdtool restored the export")
    }
}
