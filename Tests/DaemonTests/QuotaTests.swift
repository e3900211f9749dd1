import Foundation
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 22 re-attack, item 1: the 10,000-push quota was shared by every user, so one ordinary
/// socket user pushed 9,996 statistics and root's next push got 503; their templates then made
/// an instance per statistic (437 MB, 2 cycles in 20 s). Quotas are per uid now: a non-root uid
/// has at most 1,000 pushed statistics and 1,000 monitors, its templates' instances included.
@Suite struct QuotaTests {
    static let canRun =
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")

    /// Sends requests (method, path, body per line of a file) on one Unix-socket connection as
    /// uid 65534 and prints each answer's status and body, one line each.
    static let client = #"""
        import socket, sys
        s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rb")
        for line in open(sys.argv[2], "rb"):
            method, path, body = line.rstrip(b"\n").split(b" ", 2)
            s.sendall(b"%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n" % (method, path, len(body)) + body)
            status = f.readline().split()[1]; length = 0
            while True:
                header = f.readline()
                if header in (b"\r\n", b""): break
                if header.lower().startswith(b"content-length"): length = int(header.split(b":")[1])
            print(status.decode(), f.read(length).decode().replace("\n", " "), flush=True)
        """#

    static func asNobody(_ daemon: DaemonHarness, _ requests: [String]) throws -> [(status: Int, body: String)] {
        try daemon.directory.write("client.py", client)
        try daemon.directory.write("requests", requests.joined(separator: "\n") + "\n")
        for path in [daemon.directory.path, daemon.directory.file("client.py"), daemon.directory.file("requests")] {
            chmod(path, 0o755)
        }
        let result = try Products.run(
            "/usr/bin/setpriv",
            [
                "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", daemon.directory.file("client.py"), daemon.socket,
                daemon.directory.file("requests")
            ])
        return result.output.split(separator: "\n").map { line in
            let parts = line.split(separator: " ", maxSplits: 1)
            return (Int(parts[0]) ?? 0, parts.count > 1 ? String(parts[1]) : "")
        }
    }

    @Test(.enabled(if: canRun))
    func aNonRootFloodHitsItsOwnQuotaAndRootStillPushesAndCreates() throws {
        let daemon = try DaemonHarness()
        for path in [daemon.directory.path, daemon.stateDirectory] { chmod(path, 0o755) }
        chmod(daemon.socket, 0o666)

        // 1,001 pushes: the last is over nobody's quota, named, with code quota.
        let pushes = (0...1000).map { #"PUT /v1/statistics/app:nb\#($0):v {"value": 1}"# }
        let pushed = try Self.asNobody(daemon, pushes)
        #expect(pushed.count == 1001)
        #expect(pushed.dropLast().allSatisfy { $0.status == 200 }, "\(pushed.first { $0.status != 200 }.map { "\($0)" } ?? "")")
        let over = try #require(pushed.last)
        #expect(over.status == 429 && over.body.contains("\"quota\"") && over.body.contains("1000 pushed statistics"), "\(over)")
        _ = try daemon.client.push("app:root:q3", value: 1)

        // A template over nobody's statistics: instances count against nobody's monitors, so
        // the 1,000 statistics make at most 999 instances beside the template itself.
        let template = #"POST /v1/monitors {"id": "nb-template", "target": {"select": "^app:nb.*:v$", "each": true}, "condition": "above", "value": 5}"#
        let created = try Self.asNobody(daemon, [template])
        #expect(created.first?.status == 201, "\(created)")
        #expect(
            daemon.eventually(timeout: 60) { ((try? daemon.client.monitors()) ?? []).filter { $0.id.hasPrefix("nb-template.") }.count == 999 })
        try daemon.waitForCycles(2)
        #expect(((try? daemon.client.monitors()) ?? []).filter { $0.id.hasPrefix("nb-template.") }.count == 999)
        let another = try Self.asNobody(daemon, [#"POST /v1/monitors {"id": "nb-more", "target": "app:nb1:v", "condition": "above", "value": 5}"#])
        #expect(another.first?.status == 429 && another.first?.body.contains("1000 monitors") == true, "\(another)")
        #expect(daemon.eventually(timeout: 30) { daemon.stderr.contains("nb-template") }, "the cut is logged: \(daemon.stderr)")

        print("after the flood and the template: RSS \(try RegexBoundsTests.residentKilobytes(daemon.process.pid)) kB")
        // Root is not held by nobody's quota.
        let rootMonitor = try daemon.client.send(
            "POST", "/v1/monitors", body: Array(#"{"id": "root-one", "target": "app:root:q3", "condition": "above", "value": 5}"#.utf8))
        #expect(rootMonitor.status == 201, "\(String(decoding: rootMonitor.body, as: UTF8.self))")
        try daemon.waitForHealth()
    }
}
