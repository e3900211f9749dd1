import Foundation
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Slow clients that keep coming back (issue 22, re-attack item 9): the headers have a deadline
/// of their own, and a crowded listener sheds its slowest receivers so that a newcomer gets in.
@Suite struct CrowdedListenerTests {
    /// A request sent whole from `source`, its answer read until the server closes or 20 s pass.
    static func probe(port: Int, source: String) throws -> String {
        let connection = try Trickler(
            port: port, source: source, start: "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let count = recv(connection.descriptor, &buffer, buffer.count, 0)
            if count > 0 { received += buffer[0..<count]; continue }
            if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) { break }
            usleep(50_000)  // polling a non-blocking socket, not a synchronisation
        }
        return String(decoding: received, as: UTF8.self)
    }

    @Test func headersHaveTheirOwnShorterDeadline() throws {
        let daemon = try DaemonHarness(
            arguments: ["--listen", "127.0.0.1:0", "--step", "1"], configuration: #"{"http": {"requestSeconds": 120}}"#)
        let (_, port) = try HTTPHardeningTests.tcpPort(daemon)
        let tricklers = try (0..<4).map { _ in try Trickler(port: port) }
        // headerSeconds (5) cuts them long before requestSeconds (120) would.
        #expect(HTTPHardeningTests.trickle(tricklers, timeout: 40), "header tricklers still open after 40 s")
    }

    @Test func aFullListenerShedsItsSlowestReceivers() throws {
        let daemon = try DaemonHarness(
            arguments: ["--listen", "127.0.0.1:0", "--step", "1"],
            configuration: #"{"http": {"maxConnections": 16, "requestSeconds": 120, "headerSeconds": 120}}"#)
        let (listen, port) = try HTTPHardeningTests.tcpPort(daemon)
        let tricklers = try (0..<16).map { _ in try Trickler(port: port) }
        // No deadline is near: only the crowding rule frees room (a quarter of 16).
        #expect(
            daemon.eventually(timeout: 40) {
                tricklers.forEach { $0.trickle() }
                return tricklers.filter(\.isClosed).count >= 4
            }, "\(tricklers.filter(\.isClosed).count) of 16 closed")
        let curl = try Products.run("/usr/bin/curl", ["-sf", "--max-time", "20", "http://\(listen)/healthz"])
        #expect(curl.status == 0 && curl.output.contains("ok"), "\(curl.error)")
    }

    @Test func aCrowdedAddressLetsANewcomerIn() throws {
        let daemon = try DaemonHarness(
            arguments: ["--listen", "127.0.0.1:0", "--step", "1"],
            configuration: #"{"http": {"connectionsPerAddress": 8, "requestSeconds": 120, "headerSeconds": 120}}"#)
        let (_, port) = try HTTPHardeningTests.tcpPort(daemon)
        var tricklers = try (0..<6).map { _ in try Trickler(port: port, source: "127.0.0.3") }
        _ = HTTPHardeningTests.trickle(tricklers, timeout: 2)  // the attack's pace: they are over a second old
        tricklers += try (0..<2).map { _ in try Trickler(port: port, source: "127.0.0.3") }
        // Each newcomer past 6 of the address's 8 cut the address's oldest receiver.
        #expect(
            daemon.eventually(timeout: 20) {
                tricklers.forEach { $0.trickle() }
                return tricklers.filter(\.isClosed).count >= 2
            }, "\(tricklers.filter(\.isClosed).count) of 8 closed")
        let answer = try Self.probe(port: port, source: "127.0.0.3")
        #expect(answer.hasPrefix("HTTP/1.1 200") && answer.contains("ok"), "\(answer)")
    }
}
