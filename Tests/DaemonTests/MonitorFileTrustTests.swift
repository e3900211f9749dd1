import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

@testable import ResmonDaemon

#if canImport(Glibc)
    import Glibc
#endif

/// `monitors.d` is refused what the API and `subsystems.d` refuse: a file another user may
/// write (its monitors would be root's), and a dependency cycle.
@Suite struct MonitorFileTrustTests {
    static let entry = #"{"level": {"target": "app:test:level", "condition": "above", "value": 50}}"#

    @Test(.enabled(if: getuid() == 0))
    func aFileAnotherUserOwnsOrMayWriteIsRefused() throws {
        let directory = TemporaryDirectory("resmon-monitor-trust")
        for name in ["roots", "nobodys", "groupwritable", "worldwritable"] {
            try directory.write("config/monitors.d/\(name).json", Self.entry)
        }
        #expect(chown(directory.file("config/monitors.d/nobodys.json"), 65534, 65534) == 0)
        chmod(directory.file("config/monitors.d/groupwritable.json"), 0o664)
        chmod(directory.file("config/monitors.d/worldwritable.json"), 0o646)
        let (monitors, problems) = MonitorFileReader.read(configDirectory: directory.file("config"))
        #expect(monitors.map(\.id) == ["roots.level"])
        #expect(
            problems == [
                "monitors.d/groupwritable.json: must be owned by root and writable by nobody else (mode 0664)",
                "monitors.d/nobodys.json: must be owned by root and writable by nobody else (owned by uid 65534)",
                "monitors.d/worldwritable.json: must be owned by root and writable by nobody else (mode 0646)"
            ])
    }

    @Test(.enabled(if: getuid() == 0))
    func theDaemonLogsAndSkipsAnUntrustedFile() throws {
        let directory = TemporaryDirectory("resmon-monitor-trust-daemon")
        try directory.write("config/monitors.d/nobodys.json", Self.entry)
        #expect(chown(directory.file("config/monitors.d/nobodys.json"), 65534, 65534) == 0)
        let daemon = try DaemonHarness(directory: directory)
        #expect(daemon.eventually { daemon.stderr.contains("monitors.d/nobodys.json: must be owned by root") }, "\(daemon.stderr)")
        #expect(try daemon.client.monitors().isEmpty)
    }

    @Test func aDependencyCycleAmongFilesIsRefusedAsTheAPIRefusesIt() throws {
        let directory = TemporaryDirectory("resmon-monitor-cycle")
        try directory.write(
            "config/monitors.d/cycle.json",
            """
            {"a": {"target": "app:test:level", "condition": "above", "value": 50, "precondition": {"monitor": "cycle.b"}},
             "b": {"target": "app:test:level", "condition": "above", "value": 60, "precondition": {"monitor": "cycle.a"}},
             "fine": {"target": "app:test:level", "condition": "above", "value": 70}}
            """)
        let daemon = try DaemonHarness(directory: directory)
        _ = try daemon.client.push("app:test:level", value: 10)
        #expect(try daemon.client.monitors().map(\.id) == ["cycle.fine"])
        let logged = "monitors.d/cycle.json: cycle.a: precondition.monitor: cycle.a → cycle.b … comes back to cycle.a: dependency cycles are refused"
        #expect(daemon.eventually { daemon.stderr.contains(logged) }, "\(daemon.stderr)")

        // The API refuses the same cycle with the same words.
        var first = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        first.id = "x"
        first.precondition = MonitorPrecondition(monitor: "y")
        var second = MonitorSpec(target: "app:test:level", condition: "above", value: 60)
        second.id = "y"
        second.precondition = MonitorPrecondition(monitor: "x")
        #expect {
            _ = try daemon.client.createMonitors([first, second])
        } throws: { error in
            "\(error)".contains("precondition.monitor: x → y … comes back to x: dependency cycles are refused")
        }

        // A cycle through a monitor of the API is refused too, on reload.
        var api = MonitorSpec(target: "app:test:level", condition: "above", value: 80)
        api.id = "api"
        api.precondition = MonitorPrecondition(monitor: "cycle.fine")
        _ = try daemon.client.createMonitors([api])
        try directory.write(
            "config/monitors.d/cycle.json",
            #"{"fine": {"target": "app:test:level", "condition": "above", "value": 70, "precondition": {"monitor": "api"}}}"#)
        daemon.signal(SIGHUP)
        #expect(
            daemon.eventually {
                daemon.stderr.contains("monitors.d/cycle.json: cycle.fine: precondition.monitor: cycle.fine → api … comes back to cycle.fine")
            },
            "\(daemon.stderr.suffix(1500))")
        #expect(try daemon.client.monitor("cycle.fine").spec.precondition == nil, "the refused change leaves the monitor as it was")
    }
}
