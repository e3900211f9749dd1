import ResmonSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The CPU the API's requests use: all of it — every thread that has answered a request, the
/// HTTP servers' workers, with libmicrohttpd's reading, parsing and sending — which the CPU
/// self-limit leaves out of resmond's steady load (a client's requests are its own work, not
/// the load the monitors put on the host), and each requester's other than root, averaged over about `window` seconds, which
/// bounds it: past `limits.requesterCPUPercent` of a core its requests are refused with 429
/// `quota` until its average is back under. A non-root user's churn of creates and deletes, or a
/// TCP loop of reads without the token, once counted toward the limit that refused root's new
/// monitors with 503 (for 146 s after the churn stopped; issue 22, fourth attack); now it
/// refuses only that requester's own requests. Root's requests are not bounded here.
public final class RequestWork: Sendable {
    /// The average's time constant, seconds: what "recently" means for a requester.
    public static let window = 10.0
    /// The most requesters tracked; past it those whose average has decayed away are forgotten.
    static let trackedRequesters = 4096

    private struct Usage {
        var seconds = 0.0
        var at = 0.0

        /// The CPU seconds used, decayed to `now`.
        func decayed(to now: Double) -> Double { seconds * exp(-max(0, now - at) / RequestWork.window) }
    }

    private struct Ledger {
        /// The CPU clock of each thread that has answered a request, by its pthread_t.
        var workers: [UInt: clockid_t] = [:]
        var byRequester: [Requester: Usage] = [:]
    }

    private let ledger = Lock(Ledger())
    private let percent: @Sendable () -> Double

    /// `percent`: what one requester other than root may use, percent of one core (read at each
    /// request, so that a reload applies at once).
    public init(percent: @escaping @Sendable () -> Double) {
        self.percent = percent
    }

    /// CPU seconds the threads that answer requests have used since they started. A worker that
    /// has ended no longer counts (the self-limit takes a drop as no request work that period).
    public var totalSeconds: Double {
        ledger.withLock { ledger in
            ledger.workers.values.reduce(0.0) { total, clock in
                var time = timespec()
                return clock_gettime(clock, &time) == 0 ? total + Double(time.tv_sec) + Double(time.tv_nsec) / 1e9 : total
            }
        }
    }

    /// Counts the calling thread, which answers requests, as request work from now on.
    func enlist() {
        let thread = pthread_self()
        ledger.withLock { ledger in
            guard ledger.workers[UInt(thread)] == nil else { return }
            var clock = clockid_t()
            if pthread_getcpuclockid(thread, &clock) == 0 { ledger.workers[UInt(thread)] = clock }
        }
    }

    /// Why `requester`'s next request is refused (its recent requests used more than its share)
    /// and in how many seconds it may try again, or nil.
    func refusal(_ requester: Requester, now: Double = Clock.monotonic()) -> (message: String, retryAfter: Int)? {
        if requester == .root { return nil }
        let share = percent()
        let allowed = share / 100 * RequestWork.window
        guard let used = ledger.withLock({ $0.byRequester[requester]?.decayed(to: now) }), used > allowed else { return nil }
        // Back under once the average has decayed to the allowance: used · e^(−t/window) = allowed.
        let wait = Int(max(1, (RequestWork.window * log(used / allowed)).rounded(.up)))
        let message =
            "\(requester)'s requests used \(Int(used * 1000)) ms of CPU in about the last \(Int(RequestWork.window)) s, "
            + "more than the \(Int(allowed * 1000)) ms one requester other than root may (limits.requesterCPUPercent \(share) % "
            + "of a core): try again in \(wait) s, and make fewer or cheaper requests"
        return (message, wait)
    }

    /// Adds `seconds` of CPU a request of `requester` used.
    func charge(_ requester: Requester, _ seconds: Double, now: Double = Clock.monotonic()) {
        let seconds = max(0, seconds)
        guard requester != .root else { return }
        ledger.withLock { ledger in
            var usage = ledger.byRequester[requester] ?? Usage()
            usage.seconds = usage.decayed(to: now) + seconds
            usage.at = now
            if ledger.byRequester[requester] == nil && ledger.byRequester.count >= RequestWork.trackedRequesters {
                ledger.byRequester = ledger.byRequester.filter { $0.value.decayed(to: now) > 0.001 }
            }
            ledger.byRequester[requester] = usage
        }
    }
}
