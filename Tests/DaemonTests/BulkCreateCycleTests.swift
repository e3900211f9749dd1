import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

/// Issue 17, "No stall": creating monitors in bulk must not stop the sampling cycle. A
/// 5,000-monitor request held the engine's lock for its whole database write, so cycles waited
/// (489 ms at 1,000,000). Here 100,000 monitors go in through the socket, in requests of 5,000,
/// while another client reads `/v1/status`: cycles go on during the
/// creation, and every monitor is there after. No timing is asserted (the engine-level test,
/// BulkCreateLockTests, shows the write leaves the engine's lock free).
@Suite struct BulkCreateCycleTests {
    /// `/v1/status` read over and over on a thread of its own until stopped: the cycles it saw.
    final class StatusReader: @unchecked Sendable {
        private let client: ResmonClient
        private let seen = ResmonTestSupport.Mutex<[Int]>([])
        private let running = ResmonTestSupport.Mutex<Bool>(true)
        private let done = DispatchSemaphore(value: 0)

        init(socket: String) {
            client = ResmonClient(socketPath: socket, timeoutMilliseconds: 120_000)
            Thread { [self] in
                while running.get() {
                    if let cycles = try? client.status().cycles { seen.set(seen.get() + [cycles]) }
                    usleep(20_000)
                }
                done.signal()
            }.start()
        }

        var cycles: [Int] { seen.get() }

        func stop() {
            running.set(false)
            done.wait()
        }
    }

    @Test func cyclesGoOnWhile100000MonitorsAreCreated() throws {
        let daemon = try DaemonHarness()
        let client = ResmonClient(socketPath: daemon.socket, timeoutMilliseconds: 600_000)
        _ = try client.push("app:test:level", value: 10)
        _ = try client.push("app:test:count_total", value: 1, kind: "counter")
        try daemon.waitForCycles(2)
        let before = try client.status().cycles
        let reader = StatusReader(socket: daemon.socket)
        var created = 0
        var refusals: [String] = []
        // In requests of 5,000 (about 400 KB, under http.maxRequestBytes), the bench's mix.
        for (start, count) in (0..<20).map({ ($0 * 5_000, 5_000) }) {
            let specs = (start..<start + count).map { index -> MonitorSpec in
                switch index % 10 {
                case 0:
                    return MonitorSpec(target: "app:test:level", type: .watermark)
                case 1:
                    var spec = MonitorSpec(target: "app:test:count_total", type: .leakyBucket)
                    spec.bucketSize = 1e12
                    spec.fillValue = 1
                    return spec
                default:
                    return MonitorSpec(target: "app:test:level", condition: .above, value: 1e15 + Double(index))
                }
            }
            let answer = try client.send("POST", "/v1/monitors", body: Array(try JSONEncoder().encode(specs)))
            if answer.status == 201 {
                created += count
            } else {
                refusals.append("HTTP \(answer.status): \(String(decoding: answer.body.prefix(300), as: UTF8.self))")
            }
        }
        let seenDuring = reader.cycles
        reader.stop()
        #expect(refusals.isEmpty, "\(refusals)")
        #expect(created == 100_000)
        // The cycles went on while the monitors were being created: several were completed
        // between the first request and the last answer.
        let advanced = (seenDuring.max() ?? before) - before
        #expect(advanced >= 2, "cycles during the creation: \(seenDuring.first ?? -1) … \(seenDuring.last ?? -1) from \(before)")
        #expect(try client.monitors().count == 100_000)
        try daemon.waitForCycles(2)
        #expect(try client.health().status == "ok")
    }
}
