import Foundation
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// resmon_open_url (issue 21): libresmon's sessions with a remote resmond over TLS, the token
/// and CA from the environment (Tests/LibresmonTests/C/remote.c). The token file must be root's.
@Suite(.enabled(if: getuid() == 0, "http.tokenFile must be owned by root: run as root"))
struct RemoteSessionTests {
    @Test func aSessionOverTLSPushesWithTheTokenAndIsRefusedWithout() throws {
        let directory = TemporaryDirectory("libresmon-remote")
        let program = directory.file("remote")
        try CTool.compile([CTool.sourceDirectory + "/remote.c"], output: program)
        let tls = try TestCertificate()
        let other = try TestCertificate()
        try tls.directory.write("token", "c-remote-s3cret-0123456789\n")
        chmod(tls.directory.file("token"), 0o600)
        let daemon = try DaemonHarness(
            arguments: ["--step", "1"],
            configuration: #"{"http": {"listen": "127.0.0.1:0", "tokenFile": "\#(tls.directory.file("token"))", \#(tls.httpMembers)}}"#)
        let listen = try #require(try daemon.client.status().listen)
        let result = try CTool.shell(
            "'\(program)' '\(other.certificate)'",
            environment: ["RESMON_URL": "https://" + listen, "RESMON_TOKEN_FILE": tls.directory.file("token"), "RESMON_CACERT": tls.certificate])
        #expect(result.status == 0, "\(result.output)\n\(result.error)")
        #expect(try daemon.client.statistic("app:c_remote:value").value == 7)
    }
}
