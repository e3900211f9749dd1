import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

/// Issue 18: a consumer creating a monitor on its own PID was refused ("no statistic
/// process:PID:vsize_bytes") until the process subsystem's next sample, up to 5 s later.
@Suite struct FreshProcessMonitorTests {
    @Test func aMonitorOnAFreshLiveProcessIsCreatedAtOnce() throws {
        // A step far longer than the test: the process subsystem samples only at the start, so
        // a process started after that is unknown to the table when the monitor is created.
        let daemon = try DaemonHarness(arguments: ["--listen", "none", "--step", "300"])
        let child = try ChildProcess("/bin/sleep", ["600"])
        defer { child.stop() }
        let key = "process:\(child.pid):vsize_bytes"
        var spec = MonitorSpec(target: key, condition: .above, value: 1)
        spec.monitoringRate = 300
        let created = try daemon.client.createMonitors([spec])
        #expect(created.first?.spec.target.key == key)

        // What is not a process statistic, or not a live process, is still refused.
        for refused in ["process:\(child.pid):bogus_bytes", "process:999999999:vsize_bytes", "process:abc:vsize_bytes"] {
            #expect(throws: ClientError.self, "\(refused)") {
                _ = try daemon.client.createMonitors([MonitorSpec(target: refused, condition: .above, value: 1)])
            }
        }
    }
}
