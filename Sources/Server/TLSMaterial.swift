import CShim

/// The TCP listener's certificate (chain) and private key, PEM, as read from
/// `http.tlsCertificate` and `http.tlsKey`.
public struct TLSMaterial: Sendable, Equatable {
    public let certificate: [UInt8]
    public let key: [UInt8]

    /// Which of the two files a problem is in.
    public enum Part: Sendable { case certificate, key }

    public init(certificate: [UInt8], key: [UInt8]) {
        self.certificate = certificate
        self.key = key
    }

    /// Why libmicrohttpd could not serve TLS with these (gnutls' reason: not PEM, an encrypted
    /// key, a key that is not the certificate's, no TLS in this libmicrohttpd), or nil.
    public func problem() -> (part: Part, reason: String)? {
        var error = [CChar](repeating: 0, count: 256)
        let result = certificate.withUnsafeBytes { certificate in
            key.withUnsafeBytes { key in
                rs_tls_check(
                    certificate.baseAddress?.assumingMemoryBound(to: CChar.self), certificate.count,
                    key.baseAddress?.assumingMemoryBound(to: CChar.self), key.count, &error)
            }
        }
        guard result != 0 else { return nil }
        return (result == 2 ? .key : .certificate, message(error))
    }
}
