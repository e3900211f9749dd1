import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

/// Issue 22, attack 4, item 2: with root owning six aggregates over costly patterns and other
/// users churning pushes, root's cheap `^app:rootr:v$` aggregate stayed at 0 members for 38 s
/// while root pushed its key every 0.5 s.
@Suite struct SelectionChurnTests {
    /// Pushes `count` statistics with long keys as uid 65534, deletes them, again, until killed
    /// (or `seconds` pass).
    static let churn = #"""
        import socket, sys, time
        s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rb")
        seconds, count, length = float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
        def send(method, key, body=b""):
            s.sendall(b"%s /v1/statistics/%s HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n" % (method, key, len(body)) + body)
            f.readline(); size = 0
            while True:
                header = f.readline()
                if header in (b"\r\n", b""): break
                if header.lower().startswith(b"content-length"): size = int(header.split(b":")[1])
            f.read(size)
        started, generation = time.time(), 0
        while time.time() - started < seconds:
            keys = [b"app:%s%d_%d:%s" % (b"r" * length, generation, i, b"r" * length) for i in range(count)]
            for key in keys: send(b"PUT", key, b'{"value": 1}')
            for key in keys: send(b"DELETE", key)
            generation += 1
        """#

    @Test(.enabled(if: QuotaTests.canRun))
    func rootsCheapAggregateFindsItsStatisticWhileOthersChurn() throws {
        let daemon = try DaemonHarness()
        for path in [daemon.directory.path, daemon.stateDirectory] { chmod(path, 0o755) }
        chmod(daemon.socket, 0o666)
        let costly = (0..<6).map { index in
            var spec = MonitorSpec(
                target: .selection(MonitorSelection(select: #"[\p{Any}]{1,30}\pL{30}zN"# + "\(index)", aggregate: "max")),
                condition: "above", value: 5)
            spec.id = "costly\(index)"
            return spec
        }
        let patient = ResmonClient(socketPath: daemon.socket, timeoutMilliseconds: 120_000)
        _ = try patient.createMonitors(costly)

        try daemon.directory.write("churn.py", Self.churn)
        chmod(daemon.directory.file("churn.py"), 0o755)
        let churn = try ChildProcess(
            "/usr/bin/setpriv",
            [
                "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", daemon.directory.file("churn.py"), daemon.socket,
                "600", "300", "190"
            ])
        defer { churn.stop() }
        let before = try patient.status().cycles
        #expect(daemon.eventually(timeout: 120) { ((try? patient.status().cycles) ?? 0) > before + 3 })

        var cheap = MonitorSpec(target: .selection(MonitorSelection(select: "^app:rootr:v$", aggregate: "max")), condition: "above", value: 5)
        cheap.id = "rootr"
        _ = try patient.createMonitors([cheap])
        let found = daemon.eventually(timeout: 120) {
            _ = try? patient.push("app:rootr:v", value: 10)
            let state = try? patient.monitor("rootr").state
            return state?.members == 1 && state?.phase == "raised"
        }
        #expect(found, "root's cheap aggregate: \(String(describing: try? patient.monitor("rootr").state))")
        #expect(churn.isRunning, "the churn went on throughout")
        try daemon.waitForHealth()
    }
}
