import Foundation
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Connections that send nothing and reconnect as soon as they are closed (issue 22, second
/// attack: `slow3.py PORT 70 20 idle` left every TCP `/healthz` with an empty reply). They all
/// come from 127.0.0.1, as every loopback client does, so they must not take the address's room
/// from a client that sends its request at once.
@Suite struct IdleChurnTests {
    /// `count` connections to 127.0.0.1:`port` that send nothing, each reopened at once when the
    /// server closes it, on a thread of their own until `stop()`.
    final class Churners: @unchecked Sendable {
        private let port: Int
        private let count: Int
        // Two boxes, each written by one side only: one box for both let the thread's update of
        // the count put `running` back to true after stop() cleared it, and stop() waited for
        // ever (a make test hung 20 minutes on it).
        private let running = ResmonTestSupport.Mutex<Bool>(true)
        private let closedCount = ResmonTestSupport.Mutex<Int>(0)
        private let finished = DispatchSemaphore(value: 0)

        init(port: Int, count: Int) {
            self.port = port
            self.count = count
            Thread.detachNewThread { [self] in run() }
        }

        /// Connections the server has closed so far (each was reopened).
        var reopened: Int { closedCount.get() }

        /// Ends the thread and closes its connections.
        func stop() {
            running.set(false)
            finished.wait()
        }

        private func open() -> Int32 {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            // Non-blocking from the start: a connect to a full backlog would otherwise wait for
            // the kernel's SYN retries (two minutes), and stop() for it.
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if connected != 0 {
                var ready = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                var failure: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                guard errno == EINPROGRESS, poll(&ready, 1, 1000) == 1,
                    getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &failure, &length) == 0, failure == 0
                else {
                    close(descriptor)
                    return -1
                }
            }
            return descriptor
        }

        private func run() {
            var descriptors = (0..<count).map { _ in open() }
            var buffer = [UInt8](repeating: 0, count: 64)
            while running.get() {
                var closed = 0
                for index in descriptors.indices {
                    let descriptor = descriptors[index]
                    if descriptor >= 0 {
                        let read = recv(descriptor, &buffer, buffer.count, 0)
                        if read > 0 || (read < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) { continue }
                        close(descriptor)
                        closed += 1
                    }
                    descriptors[index] = open()
                }
                if closed > 0 { closedCount.set(closedCount.get() + closed) }
                usleep(20_000)  // the attack's pace, not a synchronisation
            }
            for descriptor in descriptors where descriptor >= 0 { close(descriptor) }
            finished.signal()
        }
    }

    /// At the address's limit, and at the listener's (libmicrohttpd refuses a connection past it).
    @Test(arguments: [#""connectionsPerAddress": 16"#, #""maxConnections": 16, "connectionsPerAddress": 1000"#])
    func aWholeRequestIsAnsweredWhileIdleConnectionsChurnAtTheLimit(limit: String) throws {
        let daemon = try DaemonHarness(
            arguments: ["--listen", "127.0.0.1:0", "--step", "1"],
            configuration: #"{"http": {\#(limit), "requestSeconds": 120, "headerSeconds": 120}}"#)
        let (_, port) = try HTTPHardeningTests.tcpPort(daemon)
        let churners = Churners(port: port, count: 24)
        defer { churners.stop() }
        // 24 on an address that may hold 16: the server is closing some, and they come back.
        #expect(daemon.eventually(timeout: 30) { churners.reopened >= 50 }, "\(churners.reopened) reopened")
        // Ten clients in turn, each sending its whole request at once as curl does, each after
        // the churners have been closed and come back again.
        var answers: [String] = []
        for _ in 0..<10 {
            let reopened = churners.reopened
            #expect(daemon.eventually(timeout: 30) { churners.reopened > reopened }, "the churners stopped")
            answers.append(try CrowdedListenerTests.probe(port: port, source: "127.0.0.1"))
        }
        let answered = answers.filter { $0.hasPrefix("HTTP/1.1 200") }.count
        #expect(answered >= 8, "\(answered) of 10 whole requests answered while idle connections churned: \(answers.map { $0.prefix(20) })")
        #expect(try daemon.client.health().status == "ok")
    }
}
