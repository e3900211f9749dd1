import Foundation
import ResmonSystem
import ResmonTestSupport
import Server
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A webhook receiver that takes 100 ms an event, recording each event's monitor in order.
final class SlowReceiver: @unchecked Sendable {
    let monitors = ResmonTestSupport.Mutex<[String]>([])
    private var server: HTTPServer?
    private(set) var port = 0

    struct Handler: HTTPHandler {
        let receiver: SlowReceiver
        func handle(_ request: HTTPRequest) -> HTTPResponse {
            usleep(100_000)  // the receiver's slowness
            let event = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any]
            let monitor = event?["monitorId"] as? String ?? "?"
            receiver.monitors.set(receiver.monitors.get() + [monitor])
            return HTTPResponse(status: 204, body: [])
        }
    }

    func start() throws {
        let (descriptor, bound) = try ListeningSocket.tcp(host: "127.0.0.1", port: 0)
        port = bound
        server = try HTTPServer(descriptor: descriptor, transport: .tcp, handler: Handler(receiver: self))
    }

    func stop() {
        server?.stop()
        server = nil
    }
}

/// Issue 22, fourth attack, new defect 4: sinks delivered first in, first out across uids, and
/// cancels did not count against a uid's storm limit, so one user at its limit (~49 events a
/// second with the cancels) kept a slow receiver busy and root's webhook events arrived 41 s,
/// 83 s and 125 s late. Each uid's events now wait in a queue of their own, served in turn.
@Suite struct SinkFairnessTests {
    @Test(.enabled(if: QuotaTests.canRun))
    func rootsEventIsNotQueuedBehindAnotherUidsBacklog() throws {
        let receiver = SlowReceiver()
        try receiver.start()
        defer { receiver.stop() }
        let daemon = try DaemonHarness(
            configuration: #"{"sinks": {"hook": {"type": "webhook", "url": "http://127.0.0.1:\#(receiver.port)/h"}}}"#)
        for path in [daemon.directory.path, daemon.stateDirectory] { chmod(path, 0o755) }
        chmod(daemon.socket, 0o666)

        // uid 65534 raises and cancels its own monitors as fast as it is answered.
        let flood = (0..<1500).map { n in
            let type = n % 2 == 0 ? "above" : "canceled"
            return #"POST /v1/events {"type": "\#(type)", "monitorId": "nb-\#(n / 2 % 20)", "message": "flood"}"#
        }
        let flooded = ResmonTestSupport.Mutex<[(status: Int, body: String)]>([])
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            flooded.set((try? QuotaTests.asNobody(daemon, flood)) ?? [])
            done.signal()
        }
        defer { done.wait() }
        // A backlog has formed: the receiver is busy with nobody's events.
        #expect(daemon.eventually(timeout: 60) { receiver.monitors.get().count >= 20 })
        let root = try daemon.client.send(
            "POST", "/v1/events", body: Array(#"{"type": "above", "monitorId": "root-app", "message": "root's"}"#.utf8))
        #expect(root.status == 201, "\(String(decoding: root.body, as: UTF8.self))")
        let before = receiver.monitors.get().count
        #expect(daemon.eventually(timeout: 300) { receiver.monitors.get().contains("root-app") })
        let seen = receiver.monitors.get()
        let ahead = (seen.firstIndex(of: "root-app") ?? seen.count) - before
        print("nobody's events delivered after root's was logged and before it: \(ahead)")
        #expect(ahead <= 10, "root's event waited behind \(ahead) of another uid's")
        done.wait()
        done.signal()
        let statuses = Dictionary(grouping: flooded.get(), by: \.status).mapValues(\.count)
        print("flood: \(statuses)")
        // What the sink delivered and dropped is in /metrics (and /v1/sinks).
        let metrics = try daemon.client.metrics()
        let lines = metrics.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("resmon_sink_delivered_events_total{sink=\"hook\",host=") }, "\(metrics.suffix(600))")
        #expect(lines.contains { $0.hasPrefix("resmon_sink_dropped_events_total{sink=\"hook\",host=") && $0.hasSuffix("} 0") })
        try daemon.waitForHealth()
    }
}
