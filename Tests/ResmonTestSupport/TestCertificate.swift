import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A self-signed certificate for 127.0.0.1 and localhost, made by `openssl req -x509` (Debian's
/// openssl) in a directory of its own: `certificate` and `key` are PEM files, the key mode 0600.
public final class TestCertificate: Sendable {
    public let directory: TemporaryDirectory
    public var certificate: String { directory.file("cert.pem") }
    public var key: String { directory.file("key.pem") }

    public init() throws {
        directory = TemporaryDirectory("resmon-tls")
        let made = try Products.run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", directory.file("key.pem"), "-out", directory.file("cert.pem"), "-days", "2",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"
            ])
        guard made.status == 0 else { throw DaemonHarness.NotReady(description: "openssl req: \(made.error)") }
        chmod(directory.file("key.pem"), 0o600)
    }

    /// The `http` members that serve TLS with this certificate.
    public var httpMembers: String { #""tlsCertificate": "\#(certificate)", "tlsKey": "\#(key)""# }
}
