import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Event-stream consumers that read slowly (issue 22): each one that falls a buffer behind is
/// told so with `event: overflow` before its stream ends, and resumes from the log without a gap.
@Suite struct SlowConsumerTests {
    @Test func everySlowConsumerGetsTheOverflowNoticeAndResumesWithoutAGap() throws {
        // A storm on purpose: lift the storm limits.
        let daemon = try DaemonHarness(configuration: #"{"events": {"maxPerSecond": 100000}}"#)
        try EventStreamTests.flipper(daemon, monitors: 2000)
        let streams = try (0..<12).map { _ in try RawStream(socket: daemon.socket, query: "heartbeat=1") }
        #expect(
            daemon.eventually {
                streams.forEach { $0.drain() }
                return streams.allSatisfy { $0.text.contains("retry:") }
            })
        // 4,000 events of ~450 bytes: more than the socket and the stream's buffer hold.
        try EventStreamTests.flip(daemon, to: 100, expecting: 2000)
        try EventStreamTests.flip(daemon, to: 0, expecting: 4000)
        #expect(try daemon.client.health().status == "ok")
        // Half the consumers stall for longer than an idle connection is kept (15 s), then all
        // read 4 KiB every 20 ms: slow, but reading.
        let stalledUntil = Date().addingTimeInterval(20)
        var open = Array(repeating: true, count: streams.count)
        let ended = daemon.eventually(timeout: 120) {
            for (index, stream) in streams.enumerated() where open[index] {
                if index % 2 == 1 && Date() < stalledUntil { continue }
                open[index] = stream.read(atMost: 4096)
            }
            return !open.contains(true)
        }
        #expect(ended, "\(open.filter { $0 }.count) streams still open")
        for (index, stream) in streams.enumerated() {
            let ids = stream.ids
            guard let after = stream.overflowAfter else {
                Issue.record("stream \(index) ended without the overflow notice after \(ids.count) events")
                continue
            }
            // Every event up to the one the notice names, and none after it.
            #expect(ids == Array(1..<(after + 1)), "stream \(index): \(ids.count) events, notice after \(after)")
        }
        // A consumer resumes after the event its notice names and misses nothing.
        let seen = streams[1].ids
        let resumed = try RawStream(socket: daemon.socket, query: "", headers: ["Last-Event-ID: \(streams[1].overflowAfter ?? 0)"])
        #expect(
            daemon.eventually(timeout: 30) {
                resumed.drain(); return resumed.ids.last == 4000
            })
        #expect(seen + resumed.ids == Array(1...4000))
    }
}
