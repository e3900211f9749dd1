import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 21's fleet: three hosts (network namespaces, each with its own resmond, state and
/// identity), one real Prometheus scraping all three through file_sd, one real Alertmanager
/// receiving from all three. docs/FLEET.md walks through it.
@Suite(.serialized) struct FleetTests {
    static let tools = ["/usr/bin/prometheus", "/usr/bin/prometheus-alertmanager"]
    static let enabled = FleetNetwork.available && tools.allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }

    /// One host of the fleet: its resmond in its namespace, on its own directories.
    final class Host {
        let number: Int
        let directory = TemporaryDirectory("resmon-fleet")
        let executable: String
        let configuration: String
        var daemon: DaemonHarness?

        init(_ number: Int, network: FleetNetwork, alertmanager: Alertmanager) throws {
            self.number = number
            executable = try network.resmond(for: number, in: directory)
            configuration = """
                {"host": "fleet-\(number)", "labels": {"dc": "dc\(number)", "fleet": "test"},
                 "http": {"listen": "\(network.address(of: number)):9465", "insecure": true},
                 "sinks": {"am": {"type": "alertmanager", "url": "http://\(alertmanager.host):\(alertmanager.port)",
                                  "resendSeconds": 1, "maxBackoffSeconds": 1}}}
                """
            try start()
        }

        var client: ResmonClient {
            get throws {
                guard let daemon else { throw DaemonHarness.NotReady(description: "fleet-\(number) is stopped") }
                return daemon.client
            }
        }

        func start() throws {
            daemon = try DaemonHarness(
                arguments: ["--step", "1"], configuration: configuration, directory: directory, executable: executable)
        }

        /// A clean stop (SIGTERM), as an operator's `systemctl stop`.
        func stop() {
            daemon?.signal(SIGTERM)
            _ = daemon?.waitForExit(timeout: 30)
            daemon = nil
        }
    }

    @Test(
        .enabled(
            if: FleetTests.enabled,
            "needs root (ip netns, veth, a bridge) and Debian's prometheus and prometheus-alertmanager; CI runs as root"))
    func threeHostsScrapedByPrometheusAlertingThroughAlertmanager() throws {
        let network = try FleetNetwork(hosts: 3)
        defer { network.remove() }
        let alertmanager = try Alertmanager(host: network.bridgeAddress)
        let hosts = try (1...3).map { try Host($0, network: network, alertmanager: alertmanager) }
        defer { for host in hosts { host.stop() } }
        for host in hosts {
            _ = try host.client.push("app:test:level", value: 0)
            var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
            spec.id = "queue-depth"
            spec.labels = ["team": "storage"]
            _ = try host.client.createMonitors([spec])
        }
        let targets = (1...3).map { "\"\(network.address(of: $0)):9465\"" }.joined(separator: ", ")
        let prometheus = try PrometheusServer(
            configuration: """
                global: {scrape_interval: 1s, evaluation_interval: 1s}
                scrape_configs:
                  - job_name: resmond
                    file_sd_configs: [{files: [targets.json], refresh_interval: 1s}]
                """,
            files: ["targets.json": #"[{"targets": [\#(targets)], "labels": {"fleet": "test"}}]"#])
        func up() -> [String: Double] {
            var result: [String: Double] = [:]
            for sample in prometheus.query(#"up{job="resmond"}"#) ?? [] { result[sample.metric["instance"] ?? ""] = sample.number }
            return result
        }
        let everyone = Dictionary(uniqueKeysWithValues: (1...3).map { ("\(network.address(of: $0)):9465", 1.0) })
        #expect(hosts[0].daemon?.eventually(timeout: 90) { up() == everyone } == true, "up is 1 for each: \(up())")

        // Each host's series carry its identity: `host` on every series, the fleet labels on
        // resmon_host_info, and the scraped instance is the host's address.
        var info: [PrometheusServer.Sample] = []
        #expect(
            hosts[0].daemon?.eventually(timeout: 60) {
                info = prometheus.query("resmon_host_info") ?? []
                return info.count == 3
            } == true, "resmon_host_info from each: \(info.map(\.metric))")
        for number in 1...3 {
            let labels = info.first { $0.metric["host"] == "fleet-\(number)" }?.metric
            #expect(labels?["dc"] == "dc\(number)" && labels?["instance"] == "\(network.address(of: number)):9465", "\(labels ?? [:])")
        }
        let busy = prometheus.query("resmon_busy") ?? []
        #expect(Set(busy.compactMap { $0.metric["host"] }) == ["fleet-1", "fleet-2", "fleet-3"], "\(busy.map(\.metric))")
        #expect(
            busy.allSatisfy { sample in
                sample.metric["instance"]
                    == sample.metric["host"].flatMap { host in
                        Int(host.dropFirst("fleet-".count)).map { "\(network.address(of: $0)):9465" }
                    }
            })

        // A monitor raised on host 2 only reaches Alertmanager with host 2's labels, and resolves.
        func alerts(_ host: String) -> [Alertmanager.Alert] {
            (alertmanager.alerts() ?? []).filter { $0.labels["monitor"] == "queue-depth" && $0.labels["host"] == host && $0.status.state == "active" }
        }
        _ = try hosts[1].client.push("app:test:level", value: 75)
        var raised: Alertmanager.Alert?
        #expect(
            hosts[1].daemon?.eventually(timeout: 60) {
                raised = alerts("fleet-2").first
                return raised != nil
            } == true, "host 2's alert in Alertmanager")
        #expect(raised?.labels["dc"] == "dc2" && raised?.labels["fleet"] == "test" && raised?.labels["team"] == "storage")
        #expect(alerts("fleet-1").isEmpty && alerts("fleet-3").isEmpty)
        _ = try hosts[1].client.push("app:test:level", value: 1)
        #expect(hosts[1].daemon?.eventually(timeout: 60) { alerts("fleet-2").isEmpty } == true, "host 2's alert resolves")

        // Host 3 raises, then stops: Prometheus sees it down, the others keep delivering.
        _ = try hosts[2].client.push("app:test:level", value: 80)
        #expect(hosts[2].daemon?.eventually(timeout: 60) { alerts("fleet-3").count == 1 } == true, "host 3's alert")
        hosts[2].stop()
        var stopped = everyone
        stopped["\(network.address(of: 3)):9465"] = 0
        #expect(hosts[0].daemon?.eventually(timeout: 60) { up() == stopped } == true, "up == 0 for host 3 only: \(up())")
        _ = try hosts[0].client.push("app:test:level", value: 90)
        #expect(hosts[0].daemon?.eventually(timeout: 60) { alerts("fleet-1").count == 1 } == true, "host 1 still delivers")

        // Host 3 back: its monitor is still raised, and Alertmanager holds one alert for it, not two.
        try hosts[2].start()
        #expect(try hosts[2].client.monitor("queue-depth").state.phase == "raised")
        #expect(hosts[0].daemon?.eventually(timeout: 60) { up() == everyone } == true, "host 3 up again: \(up())")
        // Re-sent from the firing alerts resmond keeps in its state: the same labels, so the same alert.
        var third: [Alertmanager.Alert] = []
        #expect(
            hosts[2].daemon?.eventually(timeout: 60) {
                third = (alertmanager.alerts() ?? []).filter { $0.labels["monitor"] == "queue-depth" && $0.labels["host"] == "fleet-3" }
                return third.count == 1 && third.first?.status.state == "active"
            } == true, "one alert for host 3: \(third.map(\.labels))")
        try hosts[2].daemon?.waitForCycles(3)
        #expect(alertmanager.alerts()?.filter { $0.labels["monitor"] == "queue-depth" && $0.labels["host"] == "fleet-3" }.count == 1)
    }
}

extension FleetTests {
    /// A fleet test killed before its `defer` leaves its namespaces and links; the next one
    /// removes those of processes that are gone, and no one else's.
    @Test(.enabled(if: FleetNetwork.available, "needs root (ip netns)"))
    func aStaleFleetIsSweptAway() throws {
        // Above the kernel's largest pid (4194304): no such process.
        let gone = 4_194_309
        let mine = "resmon-test-\(getpid())-9"
        defer {
            for name in ["resmon-test-\(gone)-1", mine] { _ = try? Products.run(FleetNetwork.ip, ["netns", "delete", name]) }
            _ = try? Products.run(FleetNetwork.ip, ["link", "delete", "rsbr\(gone)"])
        }
        for name in ["resmon-test-\(gone)-1", mine] { #expect(try Products.run(FleetNetwork.ip, ["netns", "add", name]).status == 0) }
        #expect(try Products.run(FleetNetwork.ip, ["link", "add", "rsbr\(gone)", "type", "bridge"]).status == 0)
        FleetNetwork.sweep()
        let namespaces = try Products.run(FleetNetwork.ip, ["netns", "list"]).output
        #expect(!namespaces.contains("resmon-test-\(gone)-1") && namespaces.contains(mine), "\(namespaces)")
        #expect(try Products.run(FleetNetwork.ip, ["link", "show", "rsbr\(gone)"]).status != 0)
    }
}
