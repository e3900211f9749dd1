import Foundation
import ResmonTestSupport
import Testing

@testable import ResmonDaemon

#if canImport(Glibc)
    import Glibc
#endif

/// systemd restarts a resmond whose sampling loop hangs: the loop pings `WATCHDOG=1` every
/// half `WATCHDOG_USEC`, whatever the step.
@Suite struct WatchdogTests {
    @Test func theWatchdogIsOnAsSdWatchdogEnabledSays() throws {
        #expect(Watchdog.fromEnvironment(microseconds: nil, pid: nil, ownPID: 7) == nil)
        #expect(Watchdog.fromEnvironment(microseconds: "0", pid: nil, ownPID: 7) == nil)
        #expect(Watchdog.fromEnvironment(microseconds: "-5", pid: nil, ownPID: 7) == nil)
        #expect(Watchdog.fromEnvironment(microseconds: "30s", pid: nil, ownPID: 7) == nil)
        #expect(Watchdog.fromEnvironment(microseconds: "30000000", pid: "8", ownPID: 7) == nil, "another process's watchdog")
        #expect(Watchdog.fromEnvironment(microseconds: "30000000", pid: "x", ownPID: 7) == nil)
        let own = try #require(Watchdog.fromEnvironment(microseconds: "30000000", pid: "7", ownPID: 7))
        #expect(own.timeout == 30)
        #expect(own.interval == 15)
        #expect(Watchdog.fromEnvironment(microseconds: "30000000", pid: nil, ownPID: 7)?.timeout == 30)
    }

    @Test func aPingIsDueOncePerInterval() {
        let watchdog = Watchdog(timeout: 10)
        #expect(watchdog.nextPing(now: 100) == 100, "the first is due at once")
        watchdog.pingIfDue(now: 100)
        #expect(watchdog.nextPing(now: 101) == 105)
        watchdog.pingIfDue(now: 104)
        #expect(watchdog.nextPing(now: 104) == 105, "not sent before it is due")
        watchdog.pingIfDue(now: 105.5)
        #expect(watchdog.nextPing(now: 106) == 110.5)
    }

    @Test func resmondPingsFromItsLoopBetweenSteps() throws {
        let directory = TemporaryDirectory("resmon-watchdog")
        let path = directory.file("notify.sock")
        let receiver = try DatagramReceiver(path: path)
        // A minute's step: the pings (every half second) cannot wait for the cycles.
        let daemon = try DaemonHarness(
            arguments: ["--listen", "none", "--step", "60"],
            environment: ["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"])
        var messages: [String] = []
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && messages.filter({ $0 == "WATCHDOG=1" }).count < 3 {
            if let message = receiver.receive(timeout: 5) { messages.append(message) }
        }
        let ready = try #require(messages.firstIndex { $0.contains("READY=1") }, "\(messages)")
        #expect(messages[ready...].filter { $0 == "WATCHDOG=1" }.count >= 2, "\(messages)")
        #expect(messages.filter { $0 == "WATCHDOG=1" }.count >= 3, "\(messages)")
        #expect(try daemon.client.status().cycles <= 2, "the pings came between cycles")
    }
}
