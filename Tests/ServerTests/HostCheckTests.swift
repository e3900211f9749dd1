import Testing

@testable import Server

/// The `Host` names a loopback listener serves (DNS rebinding, issue 19's security).
@Suite struct HostCheckTests {
    @Test(arguments: [
        "localhost", "localhost:9465", "LOCALHOST:1", "localhost.", "app.localhost:80", "127.0.0.1", "127.0.0.1:9465",
        "10.1.2.3:80", "[::1]:9465", "[::1]", "[fe80::1%25eth0]:1"
    ])
    func loopbackNamesAndAddressesAreServed(_ host: String) {
        #expect(HostCheck.refusal(host) == nil, "\(host)")
    }

    @Test(arguments: [
        "evil.example", "evil.example:9465", "localhost.evil.example", "127.0.0.1.nip.io:9465", "2130706433", "0x7f.0.0.1",
        "127.1", "256.0.0.1", "1.2.3.4.5", "[evil.example]:1", "localhost:9465.evil"
    ])
    func otherNamesAreRefused(_ host: String) throws {
        let refusal = try #require(HostCheck.refusal(host), "\(host)")
        #expect(refusal.contains("localhost or an IP address"))
    }

    @Test func aMissingHostIsServedAndARefusalDoesNotEchoControlBytes() throws {
        #expect(HostCheck.refusal(nil) == nil)
        #expect(HostCheck.refusal("") == nil)
        let refusal = try #require(HostCheck.refusal("a\u{1b}[31m.example"))
        #expect(!refusal.contains("\u{1b}"))
    }
}
