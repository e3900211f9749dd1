#if canImport(Glibc)
    import Glibc
#endif

extension ResmonClient {
    /// A client as the command line and the environment say: a remote resmond at `url` (else
    /// `$RESMON_URL`) with the token in `tokenFile` (else `$RESMON_TOKEN_FILE`) and the CA
    /// certificates in `caFile` (else `$RESMON_CACERT`); else the Unix socket `socketPath` (else
    /// `$RESMON_SOCKET`, else the default). A socket given explicitly wins over `$RESMON_URL`.
    public static func configured(
        socketPath: String?, url: String?, tokenFile: String?, caFile: String?, timeoutMilliseconds: Int = 10_000
    ) throws(ClientError) -> ResmonClient {
        func environment(_ name: String) -> String? {
            guard let value = getenv(name), value.pointee != 0 else { return nil }
            return String(cString: value)
        }
        if let url = url ?? (socketPath == nil ? environment("RESMON_URL") : nil) {
            return try ResmonClient(
                url: url, tokenFile: tokenFile ?? environment("RESMON_TOKEN_FILE"), caFile: caFile ?? environment("RESMON_CACERT"),
                timeoutMilliseconds: timeoutMilliseconds)
        }
        if let given = tokenFile ?? caFile {
            throw .invalidSetting("\(given == tokenFile ? "--token-file" : "--cacert") applies to a remote resmond: give --url too")
        }
        return ResmonClient(socketPath: socketPath, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// The bearer token in `path`: its first line, without surrounding spaces. The file is read
    /// only if it is a regular file (a FIFO would never end), of at most 4 KiB.
    public static func readToken(_ path: String) throws(ClientError) -> String {
        func failure(_ reason: String) -> ClientError { .invalidSetting("the token file \(path) \(reason)") }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { throw failure("cannot be read: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { throw failure("is not a regular file") }
        var bytes = [UInt8](repeating: 0, count: 4097)
        var count = 0
        while count < bytes.count {
            let read = bytes.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress! + count, $0.count - count) }
            if read < 0 && errno == EINTR { continue }
            guard read >= 0 else { throw failure("cannot be read: \(String(cString: strerror(errno)))") }
            if read == 0 { break }
            count += read
        }
        guard count < bytes.count else { throw failure("is larger than 4 KiB") }
        let text = String(decoding: bytes[..<count], as: UTF8.self)
        let line = text.split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: " \t") } ?? ""
        guard !line.isEmpty else { throw failure("is empty") }
        return line
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var text = self
        while let first = text.first, set.contains(first) { text = text.dropFirst() }
        while let last = text.last, set.contains(last) { text = text.dropLast() }
        return String(text)
    }
}
