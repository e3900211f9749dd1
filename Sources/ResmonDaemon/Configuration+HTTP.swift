import ResmonAPI
import ResmonSystem
import Server

#if canImport(Glibc)
    import Glibc
#endif

extension Reader {
    /// The `http` section: the Unix socket, the TCP listener (its TLS and token), and the limits
    /// of both.
    func applyHTTP(_ value: JSONValue, to configuration: inout DaemonConfiguration) throws(ConfigurationError) {
        let http = try object(
            value, "http",
            allowed: [
                "socket", "socketGroup", "listen", "maxRequestBytes", "threads", "tokenFile",
                "maxConnections", "connectionsPerAddress", "requestSeconds", "headerSeconds",
                "streamsPerAddress", "maxStreams", "tlsCertificate", "tlsKey", "insecure"
            ])
        if let value = http["tokenFile"] { configuration.tokenFile = try path(value, "http.tokenFile") }
        if let value = http["socket"] { configuration.socket = try path(value, "http.socket") }
        if let value = http["socketGroup"] { configuration.socketGroup = try string(value, "http.socketGroup") }
        if let value = http["listen"] {
            let text = try string(value, "http.listen")
            configuration.listen = try ListenFlag.parse(text, source: source, key: "http.listen")
        }
        if let value = http["maxRequestBytes"] {
            configuration.maxRequestBytes = try integer(value, "http.maxRequestBytes", 1024...(64 << 20))
        }
        if let value = http["threads"] { configuration.httpThreads = try integer(value, "http.threads", 1...16) }
        if let value = http["maxConnections"] {
            configuration.maxConnections = try integer(value, "http.maxConnections", 16...65536)
        }
        if let value = http["connectionsPerAddress"] {
            configuration.connectionsPerAddress = try integer(value, "http.connectionsPerAddress", 1...65536)
        }
        if let value = http["streamsPerAddress"] {
            configuration.streamsPerAddress = try integer(value, "http.streamsPerAddress", 1...65536)
        }
        if let value = http["maxStreams"] {
            configuration.maxStreams = try integer(value, "http.maxStreams", 1...65536)
        }
        if let value = http["requestSeconds"] {
            configuration.requestSeconds = try integer(value, "http.requestSeconds", 1...3600)
        }
        if let value = http["headerSeconds"] {
            configuration.headerSeconds = try integer(value, "http.headerSeconds", 1...3600)
        }
        if let value = http["tlsCertificate"] { configuration.tlsCertificate = try path(value, "http.tlsCertificate") }
        if let value = http["tlsKey"] { configuration.tlsKey = try path(value, "http.tlsKey") }
        if let value = http["insecure"] { configuration.insecure = try bool(value, "http.insecure") }
        if configuration.tlsCertificate != nil && configuration.tlsKey == nil {
            throw fail("http.tlsKey", "missing: http.tlsCertificate is set, and TLS needs the certificate's private key too")
        }
        if configuration.tlsKey != nil && configuration.tlsCertificate == nil {
            throw fail("http.tlsCertificate", "missing: http.tlsKey is set, and TLS needs its certificate too")
        }
    }
}

extension DaemonConfiguration {
    /// Refuses a TCP listener beyond loopback that would serve plain HTTP (the token and all it
    /// reads would cross the network in clear) unless `http.insecure` says so; reads and checks
    /// the TLS files.
    func validateListener() throws(ConfigurationError) {
        if let listen, !listen.isLoopback, tlsCertificate == nil, !insecure {
            throw ConfigurationError(
                source: configFile, key: "http.listen",
                reason: "\(listen) (http.listen or --listen) is not a loopback address: serving it needs TLS (http.tlsCertificate and http.tlsKey), "
                    + "or set http.insecure to true to serve plain HTTP there anyway")
        }
        _ = try readTLS()
    }

    /// The TLS certificate and key (`http.tlsCertificate`, `http.tlsKey`), read and checked as
    /// libmicrohttpd will load them; nil when TLS is not configured. The key file may not be
    /// readable or writable by others (the certificate may be anyone's to read).
    func readTLS() throws(ConfigurationError) -> TLSMaterial? {
        guard let certificatePath = tlsCertificate, let keyPath = tlsKey else { return nil }
        let source = configFile
        func read(_ path: String, _ key: String) throws(ConfigurationError) -> (bytes: [UInt8], info: stat) {
            let read: (bytes: [UInt8], info: stat)?
            do {
                read = try ConfigurationFile.read(path, source: path)
            } catch {
                throw ConfigurationError(source: source, key: key, reason: error.description)
            }
            guard let read else {
                throw ConfigurationError(source: source, key: key, reason: "\(path): \(Errno.noSuchFileOrDirectory.description)")
            }
            guard !read.bytes.isEmpty else { throw ConfigurationError(source: source, key: key, reason: "\(path) is empty") }
            return read
        }
        let certificate = try read(certificatePath, "http.tlsCertificate")
        let key = try read(keyPath, "http.tlsKey")
        let mode = "mode 0" + String(key.info.st_mode & 0o7777, radix: 8)
        if key.info.st_mode & 0o004 != 0 {
            throw ConfigurationError(
                source: source, key: "http.tlsKey", reason: "\(keyPath) is readable by others (\(mode)): a private key must not be (chmod o-rwx)")
        }
        if key.info.st_mode & 0o002 != 0 {
            throw ConfigurationError(
                source: source, key: "http.tlsKey", reason: "\(keyPath) is writable by others (\(mode)): a private key must not be (chmod o-rwx)")
        }
        let material = TLSMaterial(certificate: certificate.bytes, key: key.bytes)
        if let (part, reason) = material.problem() {
            throw ConfigurationError(
                source: source, key: part == .key ? "http.tlsKey" : "http.tlsCertificate",
                reason: "\(part == .key ? keyPath : certificatePath): \(reason)")
        }
        return material
    }
}
