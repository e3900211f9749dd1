import Dispatch
import FoundationEssentials
import ResmonClient
import ResmonSystem
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A user's traffic to resmond, on a thread of its own until stopped: `/v1/status` once a second
/// (as `resmon status` in a watch, or a dashboard, asks it) and `/metrics` every 15 s (as
/// Prometheus scrapes it). What the status said is kept, for the cycle figures.
final class UserTraffic: Sendable {
    struct Reading: Sendable {
        /// Monotonic seconds when the answer came.
        var time: Double
        var cycles: Int
        var lastCycleCPUSeconds: Double?
        var longestCycleSeconds: Double?
    }

    /// The fields of `/v1/status` read here. `longestCycleSeconds` (the longest recent
    /// sampling cycle, wall time) is optional: a resmond without it is measured from outside.
    private struct Status: Decodable {
        var cycles: Int
        var lastSampleCPUSeconds: Double?
        var longestCycleSeconds: Double?
    }

    private let readingsSoFar = Mutex<[Reading]>([])
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    init(client: ResmonClient) {
        DispatchQueue(label: "resmon-bench.traffic").async { [self] in
            var next = Clock.monotonic()
            var nextScrape = next
            while !stopping.load(ordering: .acquiring) {
                if let answer = try? client.send("GET", "/v1/status"), answer.status == 200,
                    let status = try? JSONDecoder().decode(Status.self, from: Data(answer.body))
                {
                    let reading = Reading(
                        time: Clock.monotonic(), cycles: status.cycles, lastCycleCPUSeconds: status.lastSampleCPUSeconds,
                        longestCycleSeconds: status.longestCycleSeconds)
                    readingsSoFar.withLock { $0.append(reading) }
                }
                if Clock.monotonic() >= nextScrape {
                    nextScrape += 15
                    _ = try? client.metrics()
                }
                // Once a second; after an answer slower than that, a second from now, not a burst.
                next += 1
                if next < Clock.monotonic() { next = Clock.monotonic() + 1 }
                let wait = next - Clock.monotonic()
                if wait > 0 { usleep(UInt32(wait * 1e6)) }
            }
            finished.signal()
        }
    }

    /// Ends the traffic and waits for its last request.
    func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        finished.wait()
    }

    /// The status readings taken since `time` (monotonic seconds).
    func readings(since time: Double) -> [Reading] {
        readingsSoFar.withLock { $0.filter { $0.time >= time } }
    }
}
