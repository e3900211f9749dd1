import CCurlShim

#if canImport(Glibc)
    import Glibc
#endif

/// The one HTTP client: a request through libcurl (loaded with dlopen on first use, so a
/// resmond that never sends maps none of it), over TCP or a Unix socket, with a timeout and a
/// bound on the answer. The client library, the sinks, scrape plug-ins and the bench use it.
public enum HTTPClient {
    public struct Response: Sendable {
        public let status: Int
        public let body: [UInt8]
    }

    /// Nothing answered: libcurl's reason (refused, timed out, too large, libcurl missing).
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Sends one request and returns the answer, whatever its status.
    /// - Parameters:
    ///   - unixSocket: the socket to connect to instead of the URL's host and port.
    ///   - headers: `Name: value` lines.
    ///   - maximumBytes: a longer answer is a failure.
    ///   - caFile: PEM certificates an https server's must chain to, instead of the system's.
    public static func fetch(
        _ url: String, method: String = "GET", body: [UInt8]? = nil, headers: [String] = [],
        unixSocket: String? = nil, timeoutMilliseconds: Int, maximumBytes: Int, caFile: String? = nil
    ) throws(Failure) -> Response {
        var status = 0
        var answer: UnsafeMutablePointer<CChar>?
        var length = 0
        var error = [CChar](repeating: 0, count: 256)
        let result: Int32 = headers.joined(separator: "\n").withCString { headerText in
            guard let body else {
                return rs_http_fetch(
                    unixSocket, url, method, nil, 0, headers.isEmpty ? nil : headerText, timeoutMilliseconds,
                    maximumBytes, caFile, &status, &answer, &length, &error)
            }
            // A trailing NUL keeps the pointer valid for an empty body; it is not sent.
            let terminated = body.map { CChar(bitPattern: $0) } + [0]
            return terminated.withUnsafeBufferPointer { chars in
                rs_http_fetch(
                    unixSocket, url, method, chars.baseAddress, body.count, headers.isEmpty ? nil : headerText,
                    timeoutMilliseconds, maximumBytes, caFile, &status, &answer, &length, &error)
            }
        }
        defer { free(answer) }
        guard result == 0 else {
            throw Failure(description: error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        }
        let bytes = answer.map { Array(UnsafeRawBufferPointer(start: $0, count: length)) } ?? []
        return Response(status: status, body: bytes)
    }
}

extension HTTPClient {
    /// How a streamed GET ended.
    public struct StreamOutcome: Sendable {
        /// The HTTP status (0 when none arrived).
        public let status: Int
        /// Why the transfer ended other than by the server ending the body (refused, idle too
        /// long, stopped by `onChunk`); nil when the server ended it.
        public let failure: String?
    }

    /// A GET whose body is handed to `onChunk` as it arrives (server-sent events); `onChunk`
    /// returns false to stop. libcurl calls back through a C function pointer with a context
    /// pointer, so the bridge (`Unmanaged`) stays here with the other libcurl calls.
    /// - Parameters:
    ///   - unixSocket: the socket to connect to; nil: the URL's host and port.
    ///   - headers: `Name: value` lines.
    ///   - caFile: PEM certificates an https server's must chain to, instead of the system's.
    ///   - connectTimeoutMilliseconds: bounds connecting only.
    ///   - idleMilliseconds: when > 0, ends the transfer after that long without a byte.
    public static func stream(
        _ url: String, unixSocket: String?, headers: [String] = [], caFile: String? = nil,
        connectTimeoutMilliseconds: Int, idleMilliseconds: Int, onChunk: ([UInt8]) -> Bool
    ) -> StreamOutcome {
        withoutActuallyEscaping(onChunk) { handler in
            let receiver = ChunkReceiver(handler)
            var status = 0
            var error = [CChar](repeating: 0, count: 256)
            let result = withExtendedLifetime(receiver) {
                rs_http_stream(
                    unixSocket, url, headers.isEmpty ? nil : headers.joined(separator: "\n"), caFile,
                    connectTimeoutMilliseconds, idleMilliseconds,
                    { data, length, context in
                        guard let context else { return 0 }
                        let receiver = Unmanaged<ChunkReceiver>.fromOpaque(context).takeUnretainedValue()
                        let bytes = data.map { Array(UnsafeRawBufferPointer(start: $0, count: length)) } ?? []
                        return receiver.onChunk(bytes) ? 1 : 0
                    }, Unmanaged.passUnretained(receiver).toOpaque(), &status, &error)
            }
            let failure = result == 0 ? nil : error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            return StreamOutcome(status: status, failure: failure)
        }
    }
}

/// Carries the chunk handler through libcurl's context pointer.
private final class ChunkReceiver {
    let onChunk: ([UInt8]) -> Bool
    init(_ onChunk: @escaping ([UInt8]) -> Bool) { self.onChunk = onChunk }
}

extension HTTPClient {
    /// A GET of `http://HOST[:PORT][/PATH]` (no credentials) with resmond's own HTTP/1.0 client
    /// instead of libcurl: loading libcurl and its TLS libraries cost resmond 8 MB RSS for a
    /// scrape of loopback. Nil when the URL is not such a plain one (use `fetch`).
    public static func getPlain(_ url: String, timeoutMilliseconds: Int, maximumBytes: Int) -> Result<Response, Failure>? {
        guard let plain = PlainURL(url) else { return nil }
        var status = 0
        var body: UnsafeMutablePointer<CChar>?
        var length = 0
        var error = [CChar](repeating: 0, count: 256)
        let result = rs_http_get_plain(plain.host, plain.port, plain.path, timeoutMilliseconds, maximumBytes, &status, &body, &length, &error)
        defer { free(body) }
        guard result == 0, let body else {
            return .failure(Failure(description: error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }))
        }
        return .success(Response(status: status, body: Array(UnsafeRawBufferPointer(start: body, count: length))))
    }

    /// A POST to `http://HOST[:PORT][/PATH]` with resmond's own HTTP/1.0 client, as `getPlain`
    /// (remote_write to a plain-HTTP receiver need not load libcurl). `headers` are `Name: value`
    /// lines. Nil when the URL is not such a plain one (use `fetch`).
    public static func postPlain(
        _ url: String, body: [UInt8], headers: [String], timeoutMilliseconds: Int, maximumBytes: Int
    ) -> Result<Response, Failure>? {
        guard let plain = PlainURL(url) else { return nil }
        var status = 0
        var answer: UnsafeMutablePointer<CChar>?
        var length = 0
        var error = [CChar](repeating: 0, count: 256)
        let lines = headers.map { $0 + "\r\n" }.joined()
        let result = body.withUnsafeBytes { bytes in
            rs_http_post_plain(
                plain.host, plain.port, plain.path, lines, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), body.count,
                timeoutMilliseconds, maximumBytes, &status, &answer, &length, &error)
        }
        defer { free(answer) }
        guard result == 0, let answer else {
            return .failure(Failure(description: error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }))
        }
        return .success(Response(status: status, body: Array(UnsafeRawBufferPointer(start: answer, count: length))))
    }

    /// `http://HOST[:PORT][/PATH]`, without credentials: what `getPlain` fetches.
    public struct PlainURL: Equatable, Sendable {
        public var host: String
        public var port: String
        public var path: String

        public init(host: String, port: String, path: String) {
            self.host = host
            self.port = port
            self.path = path
        }

        public init?(_ url: String) {
            guard url.hasPrefix("http://") else { return nil }
            var rest = Substring(url.dropFirst(7))
            if let fragment = rest.firstIndex(of: "#") { rest = rest[..<fragment] }
            let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
            let authority = rest[..<authorityEnd]
            let path = rest[authorityEnd...]
            guard !authority.isEmpty, !authority.contains("@"), !url.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7f }) else { return nil }
            if authority.hasPrefix("[") {
                guard let close = authority.firstIndex(of: "]") else { return nil }
                host = String(authority[authority.index(after: authority.startIndex)..<close])
                let after = authority[authority.index(after: close)...]
                guard after.isEmpty || after.hasPrefix(":") else { return nil }
                port = after.isEmpty ? "80" : String(after.dropFirst())
            } else {
                let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count <= 2 else { return nil }
                host = String(parts[0])
                port = parts.count == 2 ? String(parts[1]) : "80"
            }
            guard !host.isEmpty, let number = Int(port), (1...65535).contains(number) else { return nil }
            self.path = path.isEmpty ? "/" : path.hasPrefix("?") ? "/" + path : String(path)
        }
    }
}
