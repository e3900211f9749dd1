import Foundation
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Event streams take their own bounded share of a listener (issue 22, third attack, N3): 64
/// streams from 127.0.0.1 filled the address's connections, and a stream, an answer in progress,
/// is never closed to make room, so /healthz got an empty reply until the streams went.
@Suite struct StreamShareTests {
    /// A stream request from `source`: its answer's head (status line and headers), read until
    /// the blank line, the server closing, or 20 s.
    final class StreamClient {
        let connection: Trickler
        private(set) var head = ""

        init(port: Int, source: String) throws {
            connection = try Trickler(
                port: port, source: source, start: "GET /v1/events/stream HTTP/1.1\r\nHost: localhost\r\n\r\n")
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                let count = recv(connection.descriptor, &buffer, buffer.count, 0)
                if count > 0 {
                    received += buffer[0..<count]
                    if String(decoding: received, as: UTF8.self).contains("\r\n\r\n") { break }
                    continue
                }
                if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) { break }
                usleep(20_000)  // polling a non-blocking socket, not a synchronisation
            }
            head = String(decoding: received, as: UTF8.self)
        }

        var isStream: Bool { head.hasPrefix("HTTP/1.1 200") && head.contains("text/event-stream") }
    }

    @Test func streamsFromOneAddressLeaveRoomForRequests() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "127.0.0.1:0", "--step", "1"])
        let (_, port) = try HTTPHardeningTests.tcpPort(daemon)
        // The attack: as many streams as the address may hold connections (64).
        let streams = try (0..<64).map { _ in try StreamClient(port: port, source: "127.0.0.7") }
        // Ordinary requests from the same address are still answered.
        let answer = try CrowdedListenerTests.probe(port: port, source: "127.0.0.7")
        #expect(answer.hasPrefix("HTTP/1.1 200") && answer.contains("ok"), "\(answer)")
        let open = streams.filter(\.isStream)
        #expect(open.count == 16, "\(open.count) of 64 streams open; http.streamsPerAddress is 16")
        let refused = try #require(streams.first { !$0.isStream })
        #expect(refused.head.hasPrefix("HTTP/1.1 429"), "\(refused.head)")
        #expect(refused.head.contains("application/json") && refused.head.contains("http.streamsPerAddress"), "\(refused.head)")
        _ = try daemon.client.health()
    }

    @Test func closedStreamsGiveTheirSlotAndMemoryBack() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "127.0.0.1:0", "--step", "1"])
        let (_, port) = try HTTPHardeningTests.tcpPort(daemon)
        try daemon.waitForCycles(3)
        let before = try RegexBoundsTests.residentKilobytes(daemon.process.pid)
        do {
            // The listener's share (http.maxStreams, 128), 16 streams from each of 8 addresses.
            var streams = try (0..<128).map { index in try StreamClient(port: port, source: "127.0.1.\(1 + index % 8)") }
            let refused = streams.filter { !$0.isStream }
            #expect(refused.isEmpty, "\(refused.count) of 128 refused: \(refused.first?.head ?? "")")
            let over = try StreamClient(port: port, source: "127.0.1.9")
            #expect(over.head.hasPrefix("HTTP/1.1 503") && over.head.contains("http.maxStreams"), "\(over.head)")
            streams.removeAll()  // closes them
        }
        print("RSS \(before) kB before the streams, \(try RegexBoundsTests.residentKilobytes(daemon.process.pid)) kB once closed")
        // The slots come back: a full address's worth of new streams opens again.
        #expect(
            daemon.eventually(timeout: 60) {
                let again = (try? (0..<16).map { _ in try StreamClient(port: port, source: "127.0.1.1") }) ?? []
                return again.allSatisfy(\.isStream)
            })
        // And so does the memory, near enough, long before the sampler's minutely trim.
        #expect(
            daemon.eventually(timeout: 30) {
                ((try? RegexBoundsTests.residentKilobytes(daemon.process.pid)) ?? .max) < before + 4 * 1024
            }, "RSS \(before) kB before, \((try? RegexBoundsTests.residentKilobytes(daemon.process.pid)) ?? 0) kB after")
    }
}
