import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// resmond end to end: the real binary on a temporary state directory, through its socket.
@Suite struct DaemonTests {
    @Test func servesStatusSubsystemsAndStatisticsOverItsSocket() throws {
        let daemon = try DaemonHarness()
        let status = try daemon.client.status()
        #expect(status.version == ResmonVersion.current)
        #expect(status.stepSeconds == 1)
        #expect(status.socket == daemon.socket)
        #expect(status.listen == nil)
        #expect(status.statistics > 20)

        let subsystems = try daemon.client.subsystems()
        #expect(Set(subsystems.map(\.name)).isSuperset(of: ["cpu", "memory", "load", "pressure", "disk", "net", "fs"]))
        #expect(subsystems.first { $0.name == "memory" }?.state == "available")

        let memory = try daemon.client.statistic("memory:host:total_bytes")
        #expect(memory.kind == "gauge" && memory.unit == "bytes")
        #expect((memory.value ?? 0) > 0)
        let root = try daemon.client.statistic("fs:/:used_ratio")
        #expect(root.upperBound == 1)
        #expect(root.labels["mount"] == "/")

        let cpu = try daemon.client.statistics(matching: "^cpu:total:")
        #expect(!cpu.isEmpty && cpu.allSatisfy { $0.key.hasPrefix("cpu:total:") })
        let busy = try #require(cpu.first { $0.key == "cpu:total:busy_seconds_total" })
        #expect(busy.kind == "counter" && (busy.total ?? 0) > 0)

        #expect(try daemon.client.statistics(matching: "no-such-thing").isEmpty)
    }

    @Test func errorsAreJSONWithStableCodes() throws {
        let daemon = try DaemonHarness()
        func expectError(
            _ method: String, _ path: String, query: [(String, String)] = [], body: [UInt8]? = nil,
            status: Int, code: APIErrorCode
        ) throws {
            let response = try daemon.client.send(method, path, query: query, body: body)
            #expect(response.status == status, "\(method) \(path)")
            let failure = try JSONDecoder().decode(ErrorResponse.self, from: Data(response.body))
            #expect(failure.error.code == code, "\(method) \(path)")
            #expect(!failure.error.message.isEmpty)
        }
        try expectError("GET", "/v1/statistics/cpu:nope:usage_ratio", status: 404, code: .unknownStatistic)
        try expectError("GET", "/v1/statistics/not-a-key", status: 400, code: .invalidKey)
        try expectError("GET", "/v1/statistics", query: [("match", "(")], status: 400, code: .invalidRegex)
        try expectError("GET", "/v1/statistics", query: [("mtch", "cpu")], status: 400, code: .badRequest)
        try expectError("GET", "/v2/anything", status: 404, code: .notFound)
        try expectError("DELETE", "/v1/status", status: 405, code: .methodNotAllowed)
        try expectError("POST", "/v1/statistics", body: Array(repeating: 0x61, count: 2 << 20), status: 413, code: .payloadTooLarge)
        #expect(try daemon.client.health().status == "ok")
    }

    @Test func cliShowsTablesJSONAndMeaningfulExitCodes() throws {
        let daemon = try DaemonHarness()
        let resmon = Products.path("resmon")
        let environment = ["RESMON_SOCKET": daemon.socket]

        let stats = try Products.run(resmon, ["stats", "^memory:host:(total|used)_bytes$"], environment: environment)
        #expect(stats.status == 0)
        let lines = stats.output.split(separator: "\n")
        #expect(lines.first?.hasPrefix("KEY") == true)
        #expect(lines.count == 3)
        #expect(stats.output.contains("memory:host:total_bytes") && stats.output.contains("GiB") && stats.output.contains("gauge"))

        let get = try Products.run(resmon, ["--json", "get", "load:host:load1"], environment: environment)
        #expect(get.status == 0)
        let statistic = try JSONDecoder().decode(StatisticInfo.self, from: Data(get.output.utf8))
        #expect(statistic.key == "load:host:load1")

        let status = try Products.run(resmon, ["status", "--socket", daemon.socket])
        #expect(status.status == 0 && status.output.contains("statistics"))

        let watch = try Products.run(resmon, ["watch", "cpu:total:usage_ratio", "--count", "2", "--interval", "0.2", "--json"], environment: environment)
        #expect(watch.status == 0)
        #expect(watch.output.split(separator: "\n").count == 2)

        let unknown = try Products.run(resmon, ["get", "cpu:nope:usage_ratio"], environment: environment)
        #expect(unknown.status == 1)
        #expect(unknown.error.contains("no statistic cpu:nope:usage_ratio"))

        let absent = try Products.run(resmon, ["status"], environment: ["RESMON_SOCKET": daemon.directory.file("nothing.sock")])
        #expect(absent.status == 2)
        #expect(absent.error.contains("no resmond answers"))

        #expect(try Products.run(resmon, ["frobnicate"], environment: environment).status == 64)
        #expect(try Products.run(resmon, ["get", "--help"]).output.contains("Usage: resmon get"))
    }

    @Test func metricsPassPromtool() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "127.0.0.1:0", "--step", "1"])
        let listen = try #require(try daemon.client.status().listen)
        #expect(listen.hasPrefix("127.0.0.1:"))
        let text = try daemon.client.metrics()
        #expect(text.contains("# TYPE resmon_net_receive_bytes_total counter"))
        #expect(text.contains("# TYPE resmon_memory_available_bytes gauge"))
        #expect(text.contains("resmon_fs_used_ratio{resource=\"/\""))
        let promtool = try Products.run("/usr/bin/promtool", ["check", "metrics"], input: text)
        #expect(promtool.status == 0, "promtool: \(promtool.output) \(promtool.error)")

        // The same over loopback TCP, which Prometheus scrapes.
        let curl = try Products.run("/usr/bin/curl", ["-sf", "http://\(listen)/metrics"])
        #expect(curl.status == 0 && curl.output.contains("resmon_build_info"))
    }

    @Test func aThousandMalformedRequestsLeaveItServing() throws {
        let daemon = try DaemonHarness()
        var generator = SystemRandomNumberGenerator()
        let samples: [[UInt8]] = [
            Array("GARBAGE\r\n\r\n".utf8), Array("GET\r\n\r\n".utf8), Array("GET / HTTP/9.9\r\n\r\n".utf8),
            Array("POST /v1/statistics HTTP/1.1\r\nContent-Length: -5\r\n\r\n".utf8),
            Array("GET /v1/statistics/%zz HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8),
            Array("GET /v1/statistics?match=%28%28%28 HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8),
            Array(("GET /" + String(repeating: "a", count: 70_000) + " HTTP/1.1\r\n\r\n").utf8),
            Array("POST /v1/status HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".utf8)
        ]
        for index in 0..<1000 {
            var bytes = samples[index % samples.count]
            if index % 3 == 0 { bytes = (0..<Int.random(in: 1...512, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) } }
            try sendRaw(bytes, to: daemon.socket)
        }
        #expect(try daemon.client.health().status == "ok")
        #expect(try daemon.client.statistic("memory:host:total_bytes").value != nil)
    }

    /// Every service stops within its own deadline (resmond says which did not): how long the
    /// whole stop takes is the machine's, not asserted (on a loaded CI machine it is not 2 s).
    @Test func sigtermStopsCleanlyEachServiceWithinItsDeadline() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "none", "--step", "5"])
        daemon.signal(SIGTERM)
        let status = daemon.waitForExit(timeout: 60)
        #expect(status == 0, "resmond: \(daemon.stderr)")
        #expect(!daemon.stderr.contains("did not stop within"), "\(daemon.stderr)")
        #expect(daemon.stderr.contains("stopped after"), "\(daemon.stderr)")
        #expect(!FileManager.default.fileExists(atPath: daemon.socket))
    }

    @Test func aSecondDaemonOnTheSameStateDirectoryExitsOne() throws {
        let first = try DaemonHarness()
        let second = try Products.run(
            Products.path("resmond"),
            ["--state-dir", first.stateDirectory, "--config-dir", first.configDirectory, "--listen", "none"],
            timeout: 10)
        #expect(second.status == 1)
        #expect(second.error.contains("another resmond (pid \(first.process.pid)) is already running"))
        #expect(try first.client.health().status == "ok")
    }

    @Test func cyclesEndsTheDaemonAfterNSamples() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "none", "--step", "1", "--cycles", "2"], waitUntilReady: false)
        #expect(daemon.waitForExit(timeout: 10) == 0, "resmond: \(daemon.stderr)")
        #expect(daemon.stderr.contains("stopped after 2 sampling cycles"))
    }

    @Test func sigusr1WritesAStateDump() throws {
        let daemon = try DaemonHarness()
        daemon.signal(SIGUSR1)
        let path = daemon.stateDirectory + "/resmond-dump.json"
        #expect(daemon.eventually { FileManager.default.fileExists(atPath: path) })
        let dump = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
        let statistics = (dump?["statistics"] as? [String: Any])?["statistics"] as? [Any]
        #expect((statistics?.count ?? 0) > 20)
        #expect((dump?["status"] as? [String: Any])?["version"] as? String == ResmonVersion.current)
        daemon.signal(SIGTTOU)
        #expect(daemon.eventually { daemon.stderr.components(separatedBy: "state dump written").count == 3 })
    }

    /// After its first self-monitoring period resmond gives back the pages only start-up used.
    /// It runs from a copy of the binary that no other test's daemon maps, since the kernel keeps
    /// pages another process maps too.
    @Test func resmondGivesBackItsStartUpPagesAndKeepsServing() throws {
        let directory = TemporaryDirectory("resmond-pages")
        let copy = directory.file("resmond-copy")
        try Products.copyExecutable(Products.path("resmond"), to: copy)
        // Limits a loaded machine and a debug build cannot trip: the test is about the pages.
        let daemon = try DaemonHarness(
            configuration: #"{"limits": {"selfMonitoringSeconds": 1, "cpuPercent": 1600, "memoryMB": 4096}}"#,
            directory: directory, executable: copy)
        #expect(daemon.eventually(timeout: 20) { daemon.stderr.contains("released start-up pages") }, "resmond: \(daemon.stderr)")
        // "…: RSS 17.9 MiB → 7.8 MiB": less resident after than before.
        let line = daemon.stderr.split(separator: "\n").first { $0.contains("released start-up pages") } ?? ""
        let figures = line.split(separator: "RSS ").last?.split(separator: " ").compactMap { Double($0) } ?? []
        #expect(figures.count == 2 && figures[1] < figures[0], "\(line)")
        // The pages it needs fault back in: it samples, answers and evaluates as before.
        _ = try daemon.client.push("app:pages:level", value: 10)
        var spec = MonitorSpec(target: "app:pages:level", condition: "above", value: 50)
        spec.id = "after-release"
        _ = try daemon.client.createMonitors([spec])
        _ = try daemon.client.push("app:pages:level", value: 60)
        #expect(daemon.eventually { (try? daemon.client.events().events.map(\.monitorId)) == ["after-release"] })
        #expect(try daemon.client.metrics().split(separator: "\n").contains { $0.hasPrefix("resmon_busy{host=") && $0.hasSuffix("} 0") })
        _ = try daemon.client.statistic("load:host:load1")
        #expect(daemon.stderr.components(separatedBy: "released start-up pages").count == 2, "once only")
    }

    @Test func releasingStartUpPagesCanBeTurnedOff() throws {
        let daemon = try DaemonHarness(configuration: #"{"limits": {"selfMonitoringSeconds": 1, "releaseStartupPages": false}}"#)
        #expect(daemon.eventually(timeout: 30) { daemon.stderr.contains("start-up pages kept") }, "\(daemon.stderr)")
        #expect(!daemon.stderr.contains("released start-up pages"))
    }

    @Test func sighupReloadsAndABadFileIsRefused() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "none"], configuration: #"{"step": 1}"#)
        #expect(try daemon.client.status().stepSeconds == 1)
        try daemon.directory.write("config/resmond.json", #"{"step": 2, "collect": {"subsystems": {"disk": {"enabled": false}}}}"#)
        daemon.signal(SIGHUP)
        #expect(try daemon.eventually { try daemon.client.status().stepSeconds == 2 })
        #expect(try daemon.eventually { try daemon.client.subsystems().first { $0.name == "disk" }?.state == "disabled" })
        #expect(try daemon.client.statistics(matching: "^disk:").isEmpty)

        try daemon.directory.write("config/resmond.json", #"{"step": "fast"}"#)
        daemon.signal(SIGTTIN)
        #expect(daemon.eventually { daemon.stderr.contains("reload refused") })
        #expect(daemon.stderr.contains("resmond.json: key step: expected a whole number"))
        #expect(try daemon.client.status().stepSeconds == 2)
    }

    @Test func tellsSystemdItIsReady() throws {
        let directory = TemporaryDirectory("resmon-notify")
        let path = directory.file("notify.sock")
        let receiver = try DatagramReceiver(path: path)
        let daemon = try DaemonHarness(environment: ["NOTIFY_SOCKET": path])
        let message = receiver.receive(timeout: 5)
        #expect(message?.contains("READY=1") == true)
        withExtendedLifetime(daemon) {}
    }

    @Test func aHostWithoutPressureStallInformationStillServes() throws {
        let fixture = try FixtureTree(copying: Products.packageRoot() + "/Tests/StatisticsTests/Fixtures/host1")
        try fixture.remove("proc/pressure")
        let daemon = try DaemonHarness(
            configuration: """
                {"collect": {"procRoot": "\(fixture.procRoot)", "sysRoot": "\(fixture.sysRoot)"}}
                """)
        let pressure = try #require(try daemon.client.subsystems().first { $0.name == "pressure" })
        #expect(pressure.state == "unavailable")
        #expect(pressure.reason?.contains("pressure stall information is not available") == true)
        #expect(try daemon.client.statistic("memory:host:total_bytes").value == Double(24684096 * 1024))
        #expect(daemon.stderr.contains("subsystem pressure is unavailable"))
    }
}

/// Writes bytes to a Unix socket and reads whatever comes back, ignoring errors.
func sendRaw(_ bytes: [UInt8], to path: String) throws {
    let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return }
    defer { close(descriptor) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        let utf8 = Array(path.utf8)
        raw.copyBytes(from: utf8.prefix(raw.count - 1))
    }
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
    var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
    setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    _ = bytes.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    shutdown(descriptor, Int32(SHUT_WR))
    var buffer = [UInt8](repeating: 0, count: 4096)
    while recv(descriptor, &buffer, buffer.count, 0) > 0 {}
}

/// A Unix datagram socket standing in for systemd's notify socket.
final class DatagramReceiver {
    let descriptor: Int32

    init(path: String) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: Array(path.utf8).prefix(raw.count - 1)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
    }

    deinit { close(descriptor) }

    func receive(timeout: Int) -> String? {
        var timeout = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : nil
    }
}
