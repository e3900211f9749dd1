import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 22, fourth attack, item 6: the CPU self-limit refused root's new monitors with 503
/// because of others' load — an unauthenticated TCP loop of `GET /v1/statistics` (measured load
/// 5.8 → 16.2 %) or a non-root user's churn (for 146 s after it stopped). The self-limit now
/// judges the steady load without the API's requests, and each requester other than root has
/// its own CPU share (`limits.requesterCPUPercent`), past which only its own requests get 429.
@Suite struct RequesterCPUTests {
    /// One `GET path` over its own TCP connection: the status, or 0 when there was no answer.
    static func get(port: Int, _ path: String) -> Int {
        let request = Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8)
        guard let answer = try? rawExchange(request, port: port) else { return 0 }
        return Int(answer.dropFirst("HTTP/1.1 ".count).prefix(3)) ?? 0
    }

    @Test func aTCPReadLoopGetsItsOwn429AndRootsCreatesAreNotRefused() throws {
        let daemon = try DaemonHarness(
            arguments: ["--listen", "127.0.0.1:0", "--step", "1"],
            configuration: #"{"limits": {"cpuPercent": 15, "selfMonitoringSeconds": 1, "requesterCPUPercent": 10, "memoryMB": 1000}}"#)
        let (_, port) = try HTTPHardeningTests.tcpPort(daemon)
        _ = try daemon.client.push("app:root:v", value: 1)
        let readers = [ResmonTestSupport.Mutex([Int: Int]()), ResmonTestSupport.Mutex([Int: Int]())]
        let running = ResmonTestSupport.Mutex(true)
        let done = DispatchGroup()
        // Two readers without the token, as fast as they are answered: the attack's loop.
        for statuses in readers {
            done.enter()
            Thread.detachNewThread {
                while running.get() {
                    let status = Self.get(port: port, "/v1/statistics")
                    statuses.set(statuses.get().merging([status: 1], uniquingKeysWith: +))
                }
                done.leave()
            }
        }
        // Root creates a monitor every two seconds for 40 s (the old limit crossed 15 % within ~10 s).
        var rootStatuses: [Int] = []
        var refusal = ""
        let end = Date().addingTimeInterval(40)
        var n = 0
        while Date() < end {
            let body = #"{"id": "root\#(n)", "target": "app:root:v", "condition": "above", "value": 2}"#
            let created = try daemon.client.send("POST", "/v1/monitors", body: Array(body.utf8))
            rootStatuses.append(created.status)
            if created.status != 201 { refusal = String(decoding: created.body, as: UTF8.self) }
            n += 1
            sleep(2)  // an administrator's pace, not a synchronisation
        }
        running.set(false)
        done.wait()
        let seen = readers[0].get().merging(readers[1].get(), uniquingKeysWith: +)
        let limits = try daemon.client.status().limits
        print("readers: \(seen), root: \(rootStatuses.count) creates, steady load \(limits?.measuredCPUPercent ?? -1) %")
        #expect(rootStatuses.allSatisfy { $0 == 201 }, "\(rootStatuses) \(refusal.prefix(400))")
        #expect((seen[429] ?? 0) > 0, "the reader's own share refused it: \(seen)")
        // Its 429 says why, and /healthz is still answered for that address.
        let answer = try Products.run("/usr/bin/curl", ["-s", "--max-time", "20", "http://127.0.0.1:\(port)/v1/statistics"])
        print("after: \(answer.output.prefix(300))")
        #expect(Self.get(port: port, "/healthz") == 200)
        try daemon.waitForHealth()
    }

    /// A non-root user's create/delete churn on the Unix socket: its own requests get 429, and
    /// root's creates meanwhile are not refused (they got 503 within 5 s, and for 146 s after).
    @Test(.enabled(if: QuotaTests.canRun))
    func aNonRootChurnGetsItsOwn429AndRootsCreatesAreNotRefused() throws {
        let daemon = try DaemonHarness(
            configuration: #"{"limits": {"cpuPercent": 5, "selfMonitoringSeconds": 1, "requesterCPUPercent": 10, "memoryMB": 1000}}"#)
        for path in [daemon.directory.path, daemon.stateDirectory] { chmod(path, 0o755) }
        chmod(daemon.socket, 0o666)
        _ = try daemon.client.push("app:root:v", value: 1)
        let churn =
            [#"PUT /v1/statistics/app:nb:v {"value": 1}"#]
            + (0..<10000).map { n in
                n % 2 == 0
                    ? #"POST /v1/monitors {"id": "nb", "target": "app:nb:v", "condition": "above", "value": 5}"#
                    : "DELETE /v1/monitors/nb "
            }
        let answers = ResmonTestSupport.Mutex<[(status: Int, body: String)]>([])
        let running = ResmonTestSupport.Mutex(true)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            answers.set((try? QuotaTests.asNobody(daemon, churn)) ?? [])
            running.set(false)
            done.signal()
        }
        var rootStatuses: [Int] = []
        var refusal = ""
        var n = 0
        while running.get() && n < 60 {
            let body = #"{"id": "root\#(n)", "target": "app:root:v", "condition": "above", "value": 2}"#
            let created = try daemon.client.send("POST", "/v1/monitors", body: Array(body.utf8))
            rootStatuses.append(created.status)
            if created.status != 201 { refusal = String(decoding: created.body, as: UTF8.self) }
            n += 1
            sleep(1)  // an administrator's pace, not a synchronisation
        }
        done.wait()
        let statuses = Dictionary(grouping: answers.get(), by: \.status).mapValues(\.count)
        print("churn: \(statuses), root: \(rootStatuses.count) creates")
        #expect(rootStatuses.allSatisfy { $0 == 201 }, "\(rootStatuses) \(refusal.prefix(400))")
        let refused = answers.get().first { $0.status == 429 }
        #expect(refused?.body.contains("uid 65534's requests used") == true, "\(statuses)")
        try daemon.waitForHealth()
    }
}
