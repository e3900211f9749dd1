import Foundation
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The TCP listener beyond loopback (issue 21): TLS with the configured certificate, a plain
/// listener on a non-loopback address refused unless `http.insecure`, and bad certificate or
/// key files refused at start with the file and the key named.
@Suite struct TLSListenerTests {
    func curl(_ arguments: [String]) throws -> ProgramResult {
        try Products.run("/usr/bin/curl", ["-s", "--max-time", "20"] + arguments)
    }

    @Test func theTCPListenerServesTLSAndNotPlainHTTP() throws {
        let tls = try TestCertificate()
        let daemon = try DaemonHarness(
            arguments: ["--step", "1"], configuration: #"{"http": {"listen": "127.0.0.1:0", \#(tls.httpMembers)}}"#)
        let listen = try #require(try daemon.client.status().listen)
        let port = try #require(listen.split(separator: ":").last.map(String.init))
        let metrics = try curl(["--cacert", tls.certificate, "-w", "\n%{http_code}", "https://127.0.0.1:\(port)/metrics"])
        #expect(metrics.status == 0 && metrics.output.hasSuffix("\n200"), "curl exit \(metrics.status): \(metrics.error)")
        #expect(metrics.output.contains("resmon_cycle_duration_seconds"))
        // localhost is in the certificate too; without its CA, curl refuses the certificate.
        #expect(try curl(["--cacert", tls.certificate, "-o", "/dev/null", "-w", "%{http_code}", "https://localhost:\(port)/healthz"]).output == "200")
        let unverified = try curl(["-o", "/dev/null", "https://127.0.0.1:\(port)/healthz"])
        #expect(unverified.status == 60, "curl exit \(unverified.status): \(unverified.error)")
        // Plain HTTP to the TLS port gets no HTTP answer, and resmond keeps serving.
        let plain = try curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/healthz"])
        #expect(plain.output != "200", "plain HTTP was answered: \(plain.output)")
        #expect(try daemon.client.health().status == "ok")
        // The Unix socket stays plain HTTP.
        let local = try curl(["--unix-socket", daemon.socket, "-o", "/dev/null", "-w", "%{http_code}", "http://localhost/healthz"])
        #expect(local.output == "200")
    }

    /// A TLS handshake trickled a byte at a time (a record that never completes) is cut at the
    /// header deadline, as a plain slowloris is; the listener keeps serving.
    @Test func aTrickledHandshakeIsCutAtTheHeaderDeadline() throws {
        let tls = try TestCertificate()
        let daemon = try DaemonHarness(
            arguments: ["--step", "1"],
            configuration: #"{"http": {"listen": "127.0.0.1:0", "headerSeconds": 1, "requestSeconds": 2, \#(tls.httpMembers)}}"#)
        let port = try HTTPHardeningTests.tcpPort(daemon).port
        // A handshake record's header declaring 0x3F61 bytes (under TLS's 16 KiB, so gnutls
        // waits for them), then its body one byte at a time: only the deadline ends it.
        let trickler = try Trickler(port: port, start: "\u{16}\u{03}\u{01}\u{3F}")
        #expect(
            daemon.eventually(timeout: 30) {
                trickler.trickle()
                return trickler.isClosed
            }, "the trickled handshake was not cut")
        let served = try curl(["--cacert", tls.certificate, "-o", "/dev/null", "-w", "%{http_code}", "https://127.0.0.1:\(port)/healthz"])
        #expect(served.output == "200", "\(served.error)")
    }

    func checkConfig(_ http: String, in directory: TemporaryDirectory) throws -> ProgramResult {
        try directory.write("config/resmond.json", #"{"http": {\#(http)}}"#)
        return try Products.run(Products.path("resmond"), ["--config-dir", directory.file("config"), "--check-config"])
    }

    @Test func aListenerBeyondLoopbackNeedsTLSOrInsecure() throws {
        let directory = TemporaryDirectory("resmon-insecure")
        let refused = try checkConfig(#""listen": "0.0.0.0:0""#, in: directory)
        #expect(refused.status == 1, "exit \(refused.status): \(refused.error)")
        #expect(refused.error.contains("key http.listen") && refused.error.contains("http.insecure"), "\(refused.error)")
        // resmond itself refuses to start, not only --check-config.
        let started = try DaemonHarness(
            arguments: ["--step", "1"], configuration: #"{"http": {"listen": "0.0.0.0:0"}}"#, waitUntilReady: false)
        #expect(started.waitForExit(timeout: 30) == 1)
        #expect(started.stderr.contains("http.listen"), "\(started.stderr)")
        #expect(try checkConfig(#""listen": "0.0.0.0:0", "insecure": true"#, in: directory).status == 0)
        #expect(try checkConfig(#""listen": "127.0.0.1:0""#, in: directory).status == 0)
        let tls = try TestCertificate()
        let served = try checkConfig(#""listen": "0.0.0.0:0", \#(tls.httpMembers)"#, in: directory)
        #expect(served.status == 0, "\(served.error)")
    }

    @Test func badCertificateAndKeyFilesAreRefusedByName() throws {
        let tls = try TestCertificate()
        let other = try TestCertificate()
        let directory = TemporaryDirectory("resmon-badtls")
        try directory.write("garbage.pem", "not a certificate\n")
        chmod(directory.file("garbage.pem"), 0o600)
        try FileManager.default.copyItem(atPath: tls.key, toPath: directory.file("open-key.pem"))
        chmod(directory.file("open-key.pem"), 0o644)
        let cases: [(http: String, key: String, mentions: String)] = [
            (#""tlsCertificate": "\#(directory.file("missing.pem"))", "tlsKey": "\#(tls.key)""#, "http.tlsCertificate", "missing.pem"),
            (#""tlsCertificate": "\#(tls.certificate)", "tlsKey": "\#(directory.file("missing.pem"))""#, "http.tlsKey", "missing.pem"),
            (#""tlsCertificate": "\#(directory.file("garbage.pem"))", "tlsKey": "\#(tls.key)""#, "http.tlsCertificate", "garbage.pem"),
            (#""tlsCertificate": "\#(tls.certificate)", "tlsKey": "\#(directory.file("garbage.pem"))""#, "http.tlsKey", "garbage.pem"),
            (#""tlsCertificate": "\#(tls.certificate)", "tlsKey": "\#(other.key)""#, "http.tlsKey", "does not match"),
            (#""tlsCertificate": "\#(tls.certificate)", "tlsKey": "\#(directory.file("open-key.pem"))""#, "http.tlsKey", "readable by others"),
            (#""tlsCertificate": "\#(tls.certificate)""#, "http.tlsKey", "http.tlsCertificate"),
            (#""tlsKey": "\#(tls.key)""#, "http.tlsCertificate", "http.tlsKey")
        ]
        for (http, key, mention) in cases {
            let checked = try checkConfig(#""listen": "127.0.0.1:0", \#(http)"#, in: directory)
            #expect(checked.status == 1, "\(http): exit \(checked.status)")
            #expect(checked.error.contains("key \(key)") && checked.error.contains(mention), "\(http): \(checked.error)")
        }
        // At start, not only with --check-config: exit 1 as for any configuration error.
        let started = try DaemonHarness(
            arguments: ["--step", "1"],
            configuration: #"{"http": {"listen": "127.0.0.1:0", "tlsCertificate": "\#(tls.certificate)", "tlsKey": "\#(other.key)"}}"#,
            waitUntilReady: false)
        #expect(started.waitForExit(timeout: 30) == 1)
        #expect(started.stderr.contains("http.tlsKey"), "\(started.stderr)")
    }
}
