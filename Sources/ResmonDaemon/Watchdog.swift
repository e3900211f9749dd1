import CShim
import ResmonSystem

#if canImport(Glibc)
    import Glibc
#endif

/// systemd's watchdog (`WatchdogSec=` in resmond.service): the sampling thread sends
/// `WATCHDOG=1` from its loop, so that a loop that hangs stops the pings and systemd restarts
/// resmond. Enabled as sd_watchdog_enabled(3) decides: `WATCHDOG_USEC` a positive number of
/// microseconds and `WATCHDOG_PID`, when set, resmond's own pid (a child that inherited the
/// variables must not ping for its parent).
final class Watchdog: Sendable {
    /// The longest systemd waits between pings, in seconds.
    let timeout: Double
    /// Monotonic second of the last ping sent.
    private let lastPing = Lock<Double?>(nil)

    init(timeout: Double) { self.timeout = timeout }

    /// The watchdog systemd asks for, or nil when it asks for none (or not of this process).
    static func fromEnvironment(
        microseconds: String? = getenv("WATCHDOG_USEC").map { String(cString: $0) },
        pid: String? = getenv("WATCHDOG_PID").map { String(cString: $0) },
        ownPID: pid_t = getpid()
    ) -> Watchdog? {
        guard let microseconds, let value = UInt64(microseconds), value > 0 else { return nil }
        if let pid, pid_t(pid) != ownPID { return nil }
        return Watchdog(timeout: Double(value) / 1e6)
    }

    /// Pings are due every half timeout (as systemd advises), leaving the other half for a
    /// cycle in progress.
    var interval: Double { timeout / 2 }

    /// When the next ping is due (monotonic seconds).
    func nextPing(now: Double) -> Double { lastPing.withLock { $0.map { $0 + interval } } ?? now }

    /// Sends `WATCHDOG=1` when a ping is due; at most one per interval.
    func pingIfDue(now: Double = Clock.monotonic()) {
        let due = lastPing.withLock { last in
            guard last.map({ now - $0 >= interval }) ?? true else { return false }
            last = now
            return true
        }
        if due { _ = rs_sd_notify("WATCHDOG=1") }
    }
}
