import ResmonAPI
import Server
import Testing

/// docs/API.md: a pushed statistic or a monitor is changed only by its owner or root; over the
/// Unix socket the caller is the peer's uid, one whose credentials cannot be read is nobody
/// (65534); over TCP a write needs the bearer token and then acts as root.
@Suite struct OwnershipTests {
    static let monitor = #"{"id": "m", "target": "memory:host:used_bytes", "condition": "above", "value": 1}"#

    @Test func aPushedStatisticIsChangedOnlyByItsOwnerOrRoot() throws {
        let rig = try RouterRig()
        #expect(rig.send("PUT", "/v1/statistics/app:job:done", body: #"{"value": 1}"#, uid: 1000).status == 200)
        let other = rig.send("PUT", "/v1/statistics/app:job:done", body: #"{"value": 2}"#, uid: 1001)
        #expect(other.isError(403, .forbidden) && other.error?.message.contains("belongs to uid 1000") == true, "\(other)")
        let removal = rig.send("DELETE", "/v1/statistics/app:job:done", uid: 1001)
        #expect(removal.isError(403, .forbidden), "\(removal)")
        #expect(rig.table.sample(forKey: "app:job:done")?.value == 1, "a refused caller changed nothing")
        #expect(rig.send("PUT", "/v1/statistics/app:job:done", body: #"{"value": 3}"#, uid: 1000).status == 200)
        #expect(rig.send("PUT", "/v1/statistics/app:job:done", body: #"{"value": 4}"#, uid: 0).status == 200)
        #expect(rig.table.sample(forKey: "app:job:done")?.value == 4)
        #expect(rig.send("DELETE", "/v1/statistics/app:job:done", uid: 0).status == 204)
        #expect(rig.table.sample(forKey: "app:job:done") == nil)
    }

    @Test func aMonitorIsChangedOnlyByItsOwnerOrRoot() throws {
        let rig = try RouterRig()
        let created = rig.send("POST", "/v1/monitors", body: Self.monitor, uid: 1000)
        try #require(created.status == 201, "\(created)")
        #expect(try created.decode(MonitorInfo.self).owner == 1000)
        for (method, path, body) in [("PATCH", "/v1/monitors/m", #"{"value": 5}"#), ("POST", "/v1/monitors/m/stop", nil), ("DELETE", "/v1/monitors/m", nil)] {
            let answer = rig.send(method, path, body: body, uid: 1001)
            #expect(answer.isError(403, .forbidden), "\(method) \(path) by uid 1001: \(answer)")
        }
        #expect(rig.engine.monitor("m")?.spec.value == 1 && rig.engine.monitor("m")?.state.running == true)
        #expect(rig.send("PATCH", "/v1/monitors/m", body: #"{"value": 5}"#, uid: 1000).status == 200)
        #expect(rig.send("POST", "/v1/monitors/m/stop", uid: 0).status == 200)
        #expect(rig.engine.monitor("m")?.spec.value == 5 && rig.engine.monitor("m")?.state.running == false)
        #expect(rig.send("DELETE", "/v1/monitors/m", uid: 0).status == 204)
        #expect(rig.engine.monitor("m") == nil)
    }

    /// `MonitorRoutes.caller`: no peer credentials on the Unix socket is nobody, never root.
    @Test func aUnixSocketPeerWithoutCredentialsActsAsNobody() throws {
        let rig = try RouterRig()
        let created = rig.send("POST", "/v1/monitors", body: Self.monitor, uid: nil)
        try #require(created.status == 201, "\(created)")
        #expect(try created.decode(MonitorInfo.self).owner == 65534)
        #expect(rig.send("PUT", "/v1/statistics/app:job:done", body: #"{"value": 1}"#, uid: 1000).status == 200)
        let push = rig.send("PUT", "/v1/statistics/app:job:done", body: #"{"value": 2}"#, uid: nil)
        #expect(push.isError(403, .forbidden), "a peer without credentials overwrote uid 1000's statistic: \(push)")
        let reload = rig.send("POST", "/v1/reload", uid: nil)
        #expect(reload.isError(403, .forbidden), "\(reload)")
        // What it made, nobody (and root) may change; another uid may not.
        #expect(rig.send("POST", "/v1/monitors/m/stop", uid: 1000).isError(403, .forbidden))
        #expect(rig.send("POST", "/v1/monitors/m/stop", uid: 65534).status == 200)
    }

    @Test func aTCPWriteNeedsTheTokenAndThenActsAsRoot() throws {
        let rig = try RouterRig(writeToken: "s3cret")
        #expect(rig.send("PUT", "/v1/statistics/app:job:done", body: #"{"value": 1}"#, uid: 1000).status == 200)
        #expect(rig.send("POST", "/v1/monitors", body: Self.monitor, uid: 1000).status == 201)
        let writes: [(String, String, String?)] = [
            ("PUT", "/v1/statistics/app:job:done", #"{"value": 2}"#), ("DELETE", "/v1/statistics/app:job:done", nil),
            ("POST", "/v1/monitors", #"{"id": "n", "target": "memory:host:used_bytes", "condition": "above", "value": 1}"#),
            ("PATCH", "/v1/monitors/m", #"{"value": 5}"#), ("POST", "/v1/monitors/m/stop", nil), ("DELETE", "/v1/monitors/m", nil),
            ("POST", "/v1/reload", nil)
        ]
        for (method, path, body) in writes {
            for authorization in [nil, "Bearer wrong", "s3cret", "Basic s3cret"] {
                let answer = rig.send(
                    method, path, body: body, transport: .tcp, headers: authorization.map { ["authorization": $0] } ?? [:])
                #expect(answer.isError(403, .forbidden), "\(method) \(path) over TCP with \(authorization ?? "no token"): \(answer)")
            }
        }
        #expect(rig.table.sample(forKey: "app:job:done")?.value == 1 && rig.engine.list().count == 1, "no refused write changed anything")
        #expect(rig.send("GET", "/v1/monitors", transport: .tcp).status == 200, "reads need no token")

        let token = ["authorization": "Bearer s3cret"]
        #expect(rig.send("PUT", "/v1/statistics/app:job:done", body: #"{"value": 2}"#, transport: .tcp, headers: token).status == 200)
        #expect(rig.send("PATCH", "/v1/monitors/m", body: #"{"value": 5}"#, transport: .tcp, headers: token).status == 200)
        let created = rig.send(
            "POST", "/v1/monitors", body: #"{"id": "n", "target": "memory:host:used_bytes", "condition": "above", "value": 1}"#,
            transport: .tcp, headers: token)
        #expect(try created.decode(MonitorInfo.self).owner == 0, "\(created)")
        #expect(rig.table.sample(forKey: "app:job:done")?.value == 2 && rig.engine.monitor("m")?.spec.value == 5)
    }

    @Test func tcpIsReadOnlyWithoutAToken() throws {
        let rig = try RouterRig(writeToken: nil)
        let answer = rig.send("PUT", "/v1/statistics/app:job:done", body: #"{"value": 1}"#, transport: .tcp, headers: ["authorization": "Bearer "])
        #expect(answer.isError(403, .forbidden) && answer.error?.message.contains("TCP is read-only") == true, "\(answer)")
        #expect(rig.table.sample(forKey: "app:job:done") == nil)
    }
}
