import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A raw HTTP/1.1 connection to resmond's Unix socket that asks for the event stream and reads
/// whatever arrives, without a thread: for many streams at once and for consumers that do not read.
final class RawStream {
    let descriptor: Int32
    var received: [UInt8] = []

    init(socket: String, query: String, headers: [String] = []) throws {
        descriptor = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            _ = socket.utf8CString.withUnsafeBytes { memcpy(raw.baseAddress!, $0.baseAddress!, min($0.count, raw.count)) }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            close(descriptor)
            throw DaemonHarness.NotReady(description: "connect: \(String(cString: strerror(errno)))")
        }
        let request =
            "GET /v1/events/stream?\(query) HTTP/1.1\r\nHost: localhost\r\n"
            + headers.map { $0 + "\r\n" }.joined() + "\r\n"
        _ = request.utf8CString.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count - 1) }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
    }

    deinit { close(descriptor) }

    /// Reads what is there now; false once the peer has closed.
    @discardableResult
    func drain() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = Glibc.read(descriptor, &buffer, buffer.count)
            if count > 0 { received += buffer[0..<count]; continue }
            return !(count == 0)
        }
    }

    /// Reads at most `count` bytes of what is there now, as a slow consumer does; false once the
    /// peer has closed.
    @discardableResult
    func read(atMost count: Int) -> Bool {
        var buffer = [UInt8](repeating: 0, count: count)
        let got = Glibc.read(descriptor, &buffer, count)
        if got > 0 { received += buffer[0..<got] }
        return !(got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
    }

    /// The body so far, without the response head and the chunked framing.
    var body: [UInt8] {
        guard
            let head = received.indices.first(where: { index in
                index + 3 < received.count && received[index...(index + 3)].elementsEqual([13, 10, 13, 10])
            })
        else { return [] }
        var body: [UInt8] = []
        var position = head + 4
        while position < received.count {
            guard let lineEnd = received[position...].firstIndex(of: 10) else { break }
            let sizeText = String(decoding: received[position..<lineEnd], as: UTF8.self).filter(\.isHexDigit)
            guard let size = Int(sizeText, radix: 16), size > 0 else { break }
            let start = lineEnd + 1
            let end = min(start + size, received.count)
            body += received[start..<end]
            position = end + 2
        }
        return body
    }

    var text: String { String(decoding: body, as: UTF8.self) }

    /// The `after` of the `event: overflow` notice, when one arrived.
    var overflowAfter: Int64? {
        guard let notice = text.range(of: "event: overflow\ndata: {\"after\":") else { return nil }
        return Int64(text[notice.upperBound...].prefix { $0.isNumber })
    }

    /// The `id:` lines received, in order.
    var ids: [Int64] {
        text.split(separator: "\n").compactMap { line in line.hasPrefix("id: ") ? Int64(line.dropFirst(4)) : nil }
    }
}

@Suite struct EventStreamTests {
    @Test func theParserHandlesChunksCutAnywhere() {
        let text = ": hello\r\nretry: 2000\r\n\r\nid: 7\ndata: {\"a\":\ndata: 1}\n\nevent: overflow\rdata: x\r\rid: 8\ndata:plain\n\n"
        let bytes = Array(text.utf8)
        let expected = [
            ServerSentEvent(id: "7", event: "message", data: "{\"a\":\n1}"),
            ServerSentEvent(id: "7", event: "overflow", data: "x"),
            ServerSentEvent(id: "8", event: "message", data: "plain")
        ]
        for cut in 0...bytes.count {
            var parser = ServerSentEventParser()
            var events = parser.feed(Array(bytes[..<cut]))
            events += parser.feed(Array(bytes[cut...]))
            #expect(events == expected, "cut at \(cut)")
        }
    }

    /// Monitors on one pushed statistic: each flip of the value logs one event per monitor.
    static func flipper(_ daemon: DaemonHarness, monitors: Int) throws {
        _ = try daemon.client.push("app:test:level", value: 0)
        let specs = (0..<monitors).map { index -> MonitorSpec in
            var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
            spec.id = "m\(index)"
            return spec
        }
        _ = try daemon.client.createMonitors(specs)
    }

    static func flip(_ daemon: DaemonHarness, to value: Double, expecting count: Int) throws {
        _ = try daemon.client.push("app:test:level", value: value)
        #expect(daemon.eventually { ((try? daemon.client.events(limit: 10_000).events.count) ?? 0) >= count })
    }

    @Test func aConsumerThatDisconnectsAndReconnectsReceivesEveryEventExactlyOnce() throws {
        let daemon = try DaemonHarness()
        try Self.flipper(daemon, monitors: 3)
        let received = ResmonTestSupport.Mutex<[Int64]>([])
        let done = DispatchSemaphore(value: 0)
        let finished = ResmonTestSupport.Mutex(false)
        // The consumer hangs up after every second event and resumes after the last id it saw.
        Thread.detachNewThread {
            var cursor: Int64 = 0
            while !finished.get() {
                var taken = 0
                _ = try? daemon.client.streamEvents(after: cursor, heartbeat: 0.5) { event in
                    received.set(received.get() + [event.id])
                    cursor = event.id
                    taken += 1
                    return taken < 2 && !finished.get()
                }
            }
            done.signal()
        }
        for flip in 1...6 {
            try Self.flip(daemon, to: flip % 2 == 1 ? 100 : 0, expecting: flip * 3)
        }
        let logged = try daemon.client.events(limit: 10_000).events.map(\.id)
        #expect(logged.count == 18)
        #expect(daemon.eventually { received.get().count >= logged.count })
        finished.set(true)
        _ = try daemon.client.push("app:test:level", value: 100)  // wakes a consumer waiting for its next event
        _ = done.wait(timeout: .now() + 10)
        #expect(Array(received.get().prefix(logged.count)) == logged)
    }

    @Test func followingAcrossRestartsAndKillNineMissesAndRepeatsNothing() throws {
        let directory = TemporaryDirectory("resmon-stream-restart")
        var daemon: DaemonHarness? = try DaemonHarness(directory: directory)
        try Self.flipper(daemon!, monitors: 2)
        let client = daemon!.client
        let received = ResmonTestSupport.Mutex<[Int64]>([])
        let stop = ResmonTestSupport.Mutex(false)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            try? client.followEvents(
                after: 0, heartbeat: 0.5,
                onEvent: { event in
                    received.set(received.get() + [event.id])
                    return !stop.get()
                })
            done.signal()
        }
        var expected = 0
        for (round, signal) in [SIGTERM, SIGKILL, SIGTERM].enumerated() {
            expected += 2
            try Self.flip(daemon!, to: round % 2 == 0 ? 100 : 0, expecting: expected)
            #expect(daemon!.eventually { received.get().count >= expected }, "before \(signal)")
            daemon!.signal(signal)
            _ = daemon!.waitForExit(timeout: 5)
            daemon = nil
            // Events logged while nobody streams are caught up on reconnection.
            daemon = try DaemonHarness(directory: directory)
        }
        expected += 2
        try Self.flip(daemon!, to: 0, expecting: expected)
        let logged = try daemon!.client.events(limit: 10_000).events.map(\.id)
        #expect(daemon!.eventually(timeout: 15) { received.get().count >= logged.count })
        stop.set(true)
        _ = try daemon!.client.push("app:test:level", value: 100)
        _ = done.wait(timeout: .now() + 10)
        #expect(Array(received.get().prefix(logged.count)) == logged)
        #expect(Set(received.get()).count == received.get().count, "no event twice")
    }

    @Test func aThousandConcurrentStreamsEachReceiveTheEvent() throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let daemon = try DaemonHarness()
        try Self.flipper(daemon, monitors: 1)
        let streams = try (0..<1000).map { _ in try RawStream(socket: daemon.socket, query: "heartbeat=1") }
        #expect(
            daemon.eventually {
                streams.forEach { $0.drain() }
                return streams.allSatisfy { $0.text.contains("retry: 2000") }
            })
        try Self.flip(daemon, to: 100, expecting: 1)
        let id = try daemon.client.events().events[0].id
        #expect(
            daemon.eventually(timeout: 20) {
                streams.forEach { $0.drain() }
                return streams.allSatisfy { $0.ids == [id] }
            }, "\(streams.filter { $0.ids != [id] }.count) streams lack the event")
        #expect(
            daemon.eventually {
                streams.allSatisfy {
                    $0.drain(); return $0.text.contains(": heartbeat")
                }
            })
        #expect(try daemon.client.health().status == "ok")
    }

    @Test func aConsumerThatStopsReadingOverflowsAndResumesFromTheLog() throws {
        // A storm on purpose: lift the storm limits.
        let daemon = try DaemonHarness(configuration: #"{"events": {"maxPerSecond": 100000}}"#)
        try Self.flipper(daemon, monitors: 2000)
        let stalled = try RawStream(socket: daemon.socket, query: "")
        #expect(
            daemon.eventually {
                stalled.drain(); return stalled.text.contains("retry:")
            })
        // 4,000 events of ~450 bytes: more than the socket and the stream's buffer hold.
        try Self.flip(daemon, to: 100, expecting: 2000)
        try Self.flip(daemon, to: 0, expecting: 4000)
        #expect(try daemon.client.health().status == "ok")  // the engine never waited for the consumer
        var open = true
        #expect(
            daemon.eventually {
                open = stalled.drain(); return !open
            })
        // What the server had not taken to send when the consumer fell behind is dropped: the
        // notice names the last event the consumer received, and it resumes from there.
        let after = try #require(stalled.overflowAfter, "no overflow notice")
        let seen = stalled.ids
        #expect(seen.count < 4000 && after == seen.last ?? 0)
        let resumed = try RawStream(socket: daemon.socket, query: "", headers: ["Last-Event-ID: \(after)"])
        #expect(
            daemon.eventually {
                resumed.drain(); return resumed.ids.last == 4000
            })
        let all = seen + resumed.ids
        #expect(all == Array(1...4000), "\(all.count) ids; first wrong at \(all.indices.first { all[$0] != Int64($0 + 1) } ?? -1)")
    }

    @Test func badStreamRequestsAreRefusedClearly() throws {
        let daemon = try DaemonHarness()
        let filter = try daemon.client.send("GET", "/v1/events/stream", query: [("filter", "severity >= loud")])
        #expect(filter.status == 400 && String(decoding: filter.body, as: UTF8.self).contains("at position 13"))
        let after = try daemon.client.send("GET", "/v1/events/stream", headers: ["Last-Event-ID: soon"])
        #expect(after.status == 400 && String(decoding: after.body, as: UTF8.self).contains("Last-Event-ID"))
        #expect(try daemon.client.send("POST", "/v1/events/stream").status == 405)
        do {
            _ = try daemon.client.streamEvents(after: 0, filter: "nonsense ~") { _ in true }
            Issue.record("a bad filter must throw")
        } catch {
            guard case .api(400, _, _) = error else { Issue.record("\(error)"); return }
        }
    }
}
