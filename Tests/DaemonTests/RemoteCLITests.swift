import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Managing a remote resmond (issue 21): `resmon --url https://HOST:PORT --token-file F
/// --cacert C` for every command, over a TLS listener with a certificate the test makes. The
/// token file must be root's (http.tokenFile), so this runs as root (as CI does).
@Suite(.enabled(if: getuid() == 0, "http.tokenFile must be owned by root: run as root"))
struct RemoteCLITests {
    let tls: TestCertificate
    let daemon: DaemonHarness
    let url: String
    let token: String

    init() throws {
        tls = try TestCertificate()
        try tls.directory.write("token", "remote-s3cret-0123456789\n")
        chmod(tls.directory.file("token"), 0o600)
        token = tls.directory.file("token")
        daemon = try DaemonHarness(
            arguments: ["--step", "1"],
            configuration: #"{"http": {"listen": "127.0.0.1:0", "tokenFile": "\#(token)", \#(tls.httpMembers)}}"#)
        let listen = try #require(try daemon.client.status().listen)
        url = "https://" + listen
    }

    func resmon(_ arguments: [String], environment: [String: String] = [:]) throws -> ProgramResult {
        try Products.run(Products.path("resmon"), arguments, environment: environment, timeout: 60)
    }

    @Test func everyCommandWorksOverTLSWithTheToken() throws {
        let remote = ["--url", url, "--cacert", tls.certificate, "--token-file", token]
        let status = try resmon(remote + ["status", "--json"])
        #expect(status.status == 0, "\(status.error)")
        #expect(status.output.contains("\"listen\""), "\(status.output)")
        let pushed = try resmon(remote + ["push", "app:remote:value", "5"])
        #expect(pushed.status == 0, "\(pushed.error)")
        #expect(try daemon.client.statistic("app:remote:value").value == 5)
        let created = try resmon(remote + ["monitor", "create", "app:remote:value", "above", "1", "--json"])
        #expect(created.status == 0, "\(created.error)")
        let monitors = try daemon.client.monitors()
        #expect(monitors.count == 1, "\(monitors)")
        // What the token authorized is root's: the monitor belongs to root.
        #expect(monitors.first?.owner == 0)
        let listed = try resmon(remote + ["monitor", "list"])
        #expect(listed.status == 0 && listed.output.contains("app:remote:value"), "\(listed.output) \(listed.error)")
        // The environment names the same things.
        let environment = ["RESMON_URL": url, "RESMON_CACERT": tls.certificate, "RESMON_TOKEN_FILE": token]
        let viaEnvironment = try resmon(["get", "app:remote:value", "--json"], environment: environment)
        #expect(viaEnvironment.status == 0 && viaEnvironment.output.contains("app:remote:value"), "\(viaEnvironment.error)")
        // The shell completions ask the same resmond (they called the default socket before).
        let completed = try resmon(["--complete", "statistics", "app:remote:"], environment: environment)
        #expect(completed.status == 0 && completed.output == "app:remote:value\n", "\(completed.output) \(completed.error)")
        let ids = try resmon(["--complete", "monitors", ""], environment: environment)
        #expect(ids.status == 0 && ids.output == (monitors.first?.id ?? "?") + "\n", "\(ids.output) \(ids.error)")
    }

    @Test func writesWithoutTheTokenAreRefusedAndReadsAreNot() throws {
        let readOnly = ["--url", url, "--cacert", tls.certificate]
        #expect(try resmon(readOnly + ["status"]).status == 0)
        let created = try resmon(readOnly + ["monitor", "create", "cpu:total:usage_ratio", "above", "0.9"])
        #expect(created.status == 1, "exit \(created.status): \(created.output)")
        #expect(created.error.contains("HTTP 403") && created.error.contains("bearer token"), "\(created.error)")
        #expect(try daemon.client.monitors().isEmpty)
        // A wrong token is no token.
        try tls.directory.write("wrong", "remote-s3cret-0123456780\n")
        let wrong = try resmon(readOnly + ["--token-file", tls.directory.file("wrong"), "push", "app:remote:other", "1"])
        #expect(wrong.status == 1 && wrong.error.contains("HTTP 403"), "\(wrong.error)")
        let missing = try resmon(readOnly + ["--token-file", tls.directory.file("absent"), "status"])
        #expect(missing.status == 64 && missing.error.contains("absent"), "\(missing.error)")
    }

    @Test func theCertificateIsVerified() throws {
        // Not signed by a CA the system trusts: refused unless --cacert names it.
        let unverified = try resmon(["--url", url, "status"])
        #expect(unverified.status == 2, "exit \(unverified.status): \(unverified.output)")
        #expect(unverified.error.contains(url) && unverified.error.contains("--cacert"), "\(unverified.error)")
        let other = try TestCertificate()
        let wrongCA = try resmon(["--url", url, "--cacert", other.certificate, "status"])
        #expect(wrongCA.status == 2, "exit \(wrongCA.status)")
        // Plain HTTP to the TLS listener gets nothing to read.
        let plain = try resmon(["--url", "http://" + url.dropFirst("https://".count), "status"])
        #expect(plain.status == 2, "exit \(plain.status): \(plain.output) \(plain.error)")
        let both = try resmon(["--url", url, "--socket", daemon.socket, "status"])
        #expect(both.status == 64, "\(both.error)")
    }

    @Test func eventsFollowRemotely() throws {
        let followed = daemon.directory.file("remote-follow.out")
        let output = open(followed, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        try #require(output >= 0)
        let follow = try ChildProcess(
            Products.path("resmon"),
            ["--url", url, "--cacert", tls.certificate, "events", "--follow", "--after", "0", "--json"], stdout: output)
        close(output)
        defer { follow.stop() }
        func streamed() -> [EventRecord] {
            ((try? String(contentsOfFile: followed, encoding: .utf8)) ?? "").split(separator: "\n")
                .compactMap { try? JSONDecoder().decode(EventRecord.self, from: Data($0.utf8)) }
        }
        // The first event is appended once the follower is reading, the second while it follows.
        var event = EventAppendRequest(type: "above", monitorId: "remote-app", message: "followed remotely")
        event.monitorName = "first"
        _ = try daemon.client.appendEvent(event)
        #expect(daemon.eventually(timeout: 30) { streamed().count == 1 }, "\(streamed())")
        event.monitorName = "second"
        _ = try daemon.client.appendEvent(event)
        #expect(daemon.eventually(timeout: 30) { streamed().map(\.monitorName) == ["first", "second"] }, "\(streamed())")
        #expect(follow.exitCode == nil, "the follower ended")
    }
}
