import CShim

#if canImport(Glibc)
    import Glibc
#endif

/// Who is on the other end of a Unix-socket connection (SO_PEERCRED).
public struct PeerCredentials: Sendable, Equatable {
    public let uid: UInt32
    public let gid: UInt32
    public let pid: Int32

    package init(uid: UInt32, gid: UInt32, pid: Int32) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
    }
}

/// One HTTP request as the routes see it: decoded path and query, lower-cased header names.
public struct HTTPRequest: Sendable {
    public enum Transport: Sendable { case unixSocket, tcp }

    public var method: String
    public var path: String
    public var query: [String: String]
    /// Query argument names in the order given, for rejecting unknown ones.
    public var queryNames: [String]
    /// Every query argument in order, repeated names included (`where=…&where=…`).
    public var queryItems: [(String, String)]
    public var headers: [String: String]
    public var body: [UInt8]
    public var bodyTooLarge: Bool
    public var transport: Transport
    public var peer: PeerCredentials?
    /// TCP: the client's numeric address (nil over the Unix socket, or when unknown).
    public var peerAddress: String?
    /// Why the request target cannot be taken as decoded (a control byte in the path, a NUL in
    /// the query), or nil: libmicrohttpd's decoded strings end at a NUL, so `/v1/status%00/x`
    /// would otherwise be served as `/v1/status`.
    public var malformedTarget: String?
    /// Where an event stream claims its place on the listener (`StreamSlot`); nil when the
    /// request did not come from a listener (tests) or cannot be trusted.
    public var streamSlot: StreamSlot?

    public init(
        method: String, path: String, query: [String: String] = [:], queryItems: [(String, String)]? = nil,
        headers: [String: String] = [:], body: [UInt8] = [], bodyTooLarge: Bool = false,
        transport: Transport = .unixSocket, peer: PeerCredentials? = nil, malformedTarget: String? = nil
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.queryItems = queryItems ?? query.map { ($0.key, $0.value) }
        self.queryNames = self.queryItems.map(\.0)
        self.headers = headers
        self.body = body
        self.bodyTooLarge = bodyTooLarge
        self.transport = transport
        self.peer = peer
        self.malformedTarget = malformedTarget
    }

    /// Why a request target as sent (`/path?query`, not decoded) cannot be served, or nil. A path
    /// may hold no control byte (0x00…0x1F, 0x7F), raw or percent-encoded; a query no NUL; and
    /// each, once percent-decoded, must be UTF-8 (a decoded `%C0%80` is not a key, nor U+FFFD).
    public static func problem(inTarget target: some Collection<UInt8>) -> String? {
        func shown(_ byte: UInt8) -> String {
            let hex = String(byte, radix: 16, uppercase: true)
            return "0x" + String(repeating: "0", count: 2 - hex.count) + hex
        }
        let bytes = Array(target)
        // The decoded bytes of the path, then of the query, each with its offset in the target.
        var decoded: [[(byte: UInt8, offset: Int)]] = [[]]
        var index = 0
        while index < bytes.count {
            let offset = index
            var byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "?") && decoded.count == 1 {
                decoded.append([])
                continue
            } else if byte == UInt8(ascii: "%"), index + 1 < bytes.count, let high = hexValue(bytes[index]),
                let low = hexValue(bytes[index + 1])
            {
                byte = high << 4 | low
                index += 2
            }
            decoded[decoded.count - 1].append((byte, offset))
            let inQuery = decoded.count == 2
            guard inQuery ? byte == 0 : (byte < 0x20 || byte == 0x7F) else { continue }
            return inQuery
                ? "the query holds the control byte \(shown(byte)) (NUL) at offset \(offset) of the request target: a query argument may not contain NUL"
                : "the path holds the control byte \(shown(byte)) at offset \(offset) of the request target: a path, and a statistic key or monitor id in it, may not contain control bytes"
        }
        for (part, text) in zip(decoded, ["path", "query"]) {
            guard let bad = firstInvalidUTF8(part.map(\.byte)) else { continue }
            return "the \(text) is not UTF-8 once percent-decoded: the byte \(shown(part[bad].byte)) at offset \(part[bad].offset) "
                + "of the request target does not start a valid UTF-8 sequence (an overlong form, a surrogate, a stray or missing continuation byte)"
        }
        return nil
    }

    /// Query parameters one request may carry: every route takes a few (`where` at most 16 times).
    public static let maxQueryParameters = 100

    /// The query of a target as sent (`/path?a=1&b`), decoded: `+` is a space, `%XX` a byte (an
    /// invalid escape stays as sent), a name without `=` has the value "", empty parts are skipped.
    /// Parsed here rather than by libmicrohttpd, whose records for it live in the connection's
    /// fixed memory (CShim/http.c).
    public static func queryItems(inTarget target: [UInt8]) -> [(String, String)] {
        guard let mark = target.firstIndex(of: UInt8(ascii: "?")) else { return [] }
        func decode(_ part: ArraySlice<UInt8>) -> String {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(part.count)
            var index = part.startIndex
            while index < part.endIndex {
                let byte = part[index]
                if byte == UInt8(ascii: "%"), index + 2 < part.endIndex, let high = hexValue(part[index + 1]),
                    let low = hexValue(part[index + 2])
                {
                    bytes.append(high << 4 | low)
                    index += 3
                    continue
                }
                bytes.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                index += 1
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        return target[(mark + 1)...].split(separator: UInt8(ascii: "&")).map { part in
            guard let equals = part.firstIndex(of: UInt8(ascii: "=")) else { return (decode(part), "") }
            return (decode(part[..<equals]), decode(part[(equals + 1)...]))
        }
    }

    /// The index of the first byte that does not begin a well-formed UTF-8 sequence (Unicode
    /// table 3-7: no overlong forms, no surrogates, nothing past U+10FFFF), or nil.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var index = 0
        while index < bytes.count {
            let lead = bytes[index]
            let length: Int
            var second: ClosedRange<UInt8> = 0x80...0xBF
            switch lead {
            case 0x00...0x7F: index += 1; continue
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; second = 0xA0...0xBF
            case 0xED: length = 3; second = 0x80...0x9F
            case 0xE1...0xEF: length = 3
            case 0xF0: length = 4; second = 0x90...0xBF
            case 0xF4: length = 4; second = 0x80...0x8F
            case 0xF1...0xF3: length = 4
            default: return index
            }
            guard index + length <= bytes.count, second.contains(bytes[index + 1]),
                bytes[index + 2..<index + length].allSatisfy({ (0x80...0xBF).contains($0) })
            else { return index }
            index += length
        }
        return nil
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    public var headers: [(String, String)]
    /// When set, the body is this stream, sent as it is written (server-sent events).
    public var stream: ServerStream?

    public init(
        status: Int, contentType: String = "application/json", body: [UInt8], headers: [(String, String)] = [],
        stream: ServerStream? = nil
    ) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
        self.stream = stream
    }
}

/// Answers requests; called on libmicrohttpd's threads, so it must be thread-safe.
public protocol HTTPHandler: Sendable {
    func handle(_ request: HTTPRequest) -> HTTPResponse
}

/// A failure to set up a listening socket or the server, with the system's reason.
public struct ServerError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Creates the listening sockets resmond serves.
public enum ListeningSocket {
    /// A Unix stream socket at `path` with `mode`, owned by `groupID` when given.
    public static func unix(path: String, mode: UInt32 = 0o660, groupID: UInt32? = nil) throws(ServerError) -> Int32 {
        var error = [CChar](repeating: 0, count: 256)
        let descriptor = rs_listen_unix(path, mode, groupID.map { Int($0) } ?? -1, &error)
        guard descriptor >= 0 else { throw ServerError(message: message(error)) }
        return descriptor
    }

    /// A TCP socket on a numeric address; port 0 picks a free port. Returns the port bound.
    public static func tcp(host: String, port: Int) throws(ServerError) -> (descriptor: Int32, port: Int) {
        var error = [CChar](repeating: 0, count: 256)
        let descriptor = rs_listen_tcp(host, Int32(port), &error)
        guard descriptor >= 0 else { throw ServerError(message: message(error)) }
        return (descriptor, Int(rs_socket_port(descriptor)))
    }
}

/// An HTTP/1.1 server on libmicrohttpd's own threads over one listening socket.
/// Sendable by hand: `server` is set by `init` and cleared by `stop`, and `adopt` reads it; the
/// HTTP service never calls them at once (it adopts under its lock, only while the server is in
/// its list, which its stop empties first); libmicrohttpd's threads only see `context`, which is
/// immutable.
public final class HTTPServer: @unchecked Sendable {
    // `server` is written in init and stop only.
    private final class Context {
        let handler: any HTTPHandler
        let transport: HTTPRequest.Transport
        init(handler: any HTTPHandler, transport: HTTPRequest.Transport) {
            self.handler = handler
            self.transport = transport
        }
    }

    private var server: OpaquePointer?
    private let context: Unmanaged<Context>

    /// Serves `descriptor` (from `ListeningSocket`). The server owns the socket from now on.
    /// - Parameters:
    ///   - connectionsPerAddress: open connections one peer address may hold (TCP only; 0: no
    ///     limit beyond `connectionLimit`).
    ///   - idleSeconds: a connection that sends and receives nothing this long is closed.
    ///   - requestSeconds: a request's line, headers and body must all arrive within this, however
    ///     steadily they trickle in; the response (an event stream) is not bounded by it.
    ///   - headerSeconds: the same for the line and headers alone (the shorter of the two applies).
    ///   - streamsPerPeer: event streams one TCP address, or one Unix-socket uid other than root,
    ///     may hold (at most half of `connectionsPerAddress`).
    ///   - maxStreams: event streams the listener may hold (at most half of `connectionLimit`).
    ///   - tls: serve TLS with this certificate and key (checked with `TLSMaterial.problem` first);
    ///     nil: plain HTTP.
    public init(
        descriptor: Int32, transport: HTTPRequest.Transport, handler: any HTTPHandler,
        maxBodyBytes: Int = 1 << 20, threads: Int = 2, connectionLimit: Int = 256,
        connectionsPerAddress: Int = 0, idleSeconds: Int = 15, requestSeconds: Int = 10, headerSeconds: Int = 5,
        streamsPerPeer: Int = 16, maxStreams: Int = 128, tls: TLSMaterial? = nil
    ) throws(ServerError) {
        context = Unmanaged.passRetained(Context(handler: handler, transport: transport))
        var error = [CChar](repeating: 0, count: 256)
        var limits = rs_http_limits(
            max_body_bytes: maxBodyBytes, threads: UInt32(clamping: threads),
            connection_limit: UInt32(clamping: connectionLimit),
            connections_per_address: UInt32(clamping: connectionsPerAddress),
            idle_seconds: UInt32(clamping: idleSeconds), request_seconds: UInt32(clamping: requestSeconds),
            header_seconds: UInt32(clamping: headerSeconds), streams_per_peer: UInt32(clamping: streamsPerPeer),
            max_streams: UInt32(clamping: maxStreams), tls_certificate: nil, tls_key: nil)
        // NUL-terminated copies for libmicrohttpd, which takes PEM as C strings; the key's is wiped.
        let certificate = (tls?.certificate ?? []).map { CChar(bitPattern: $0) } + [0]
        var key = (tls?.key ?? []).map { CChar(bitPattern: $0) } + [0]
        defer { key.withUnsafeMutableBytes { buffer in buffer.baseAddress.map { explicit_bzero($0, buffer.count) } } }
        server = certificate.withUnsafeBufferPointer { certificate in
            key.withUnsafeBufferPointer { key in
                if tls != nil {
                    limits.tls_certificate = certificate.baseAddress
                    limits.tls_key = key.baseAddress
                }
                return rs_http_start(
                    descriptor, transport == .unixSocket ? 0 : 1, HTTPServer.dispatch, context.toOpaque(), &limits, &error)
            }
        }
        guard server != nil else {
            context.release()
            close(descriptor)
            throw ServerError(message: message(error))
        }
    }

    /// Serves the connections of another listening socket too, as its own (the same threads,
    /// limits and deadlines): the Unix socket bound again at its path after it was removed. The
    /// socket adopted before, if any, is closed. The server owns `descriptor` from now on.
    public func adopt(_ descriptor: Int32) throws(ServerError) {
        guard let server else {
            close(descriptor)
            throw ServerError(message: "the server has stopped")
        }
        var error = [CChar](repeating: 0, count: 256)
        guard rs_http_adopt(server, descriptor, &error) == 0 else { throw ServerError(message: message(error)) }
    }

    /// Stops accepting, finishes the requests in progress, and closes the socket.
    public func stop() {
        guard let running = server else { return }
        server = nil
        rs_http_stop(running)
        context.release()
    }

    deinit { stop() }

    /// The C entry point: a static function, never a closure in main.swift (it runs on
    /// libmicrohttpd's threads, outside any actor).
    private static let dispatch: rs_http_handler = { request, response, opaque in
        guard let request, let response, let opaque else { return }
        let context = Unmanaged<Context>.fromOpaque(opaque).takeUnretainedValue()
        let incoming = makeRequest(request.pointee, transport: context.transport)
        let reply = context.handler.handle(incoming)
        fill(response, with: reply)
    }

    private static func makeRequest(_ raw: rs_http_request, transport: HTTPRequest.Transport) -> HTTPRequest {
        func pairs(
            _ names: UnsafePointer<UnsafePointer<CChar>?>?, _ values: UnsafePointer<UnsafePointer<CChar>?>?,
            _ count: Int32
        ) -> [(String, String)] {
            guard let names, let values, count > 0 else { return [] }
            return (0..<Int(count)).compactMap { index in
                guard let name = names[index], let value = values[index] else { return nil }
                return (String(cString: name), String(cString: value))
            }
        }
        let target = raw.target.map {
            Array(UnsafeBufferPointer(start: UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self), count: strlen($0)))
        }
        let arguments = target.map(HTTPRequest.queryItems(inTarget:)) ?? []
        var query: [String: String] = [:]
        for (name, value) in arguments where query[name] == nil { query[name] = value }
        var headers: [String: String] = [:]
        for (name, value) in pairs(raw.header_names, raw.header_values, raw.header_count) {
            headers[name.lowercased()] = value
        }
        let body: [UInt8] =
            raw.body_length > 0 && raw.body != nil
            ? Array(UnsafeRawBufferPointer(start: raw.body, count: raw.body_length)) : []
        let peer =
            raw.peer_uid >= 0
            ? PeerCredentials(uid: UInt32(raw.peer_uid), gid: UInt32(raw.peer_gid), pid: Int32(raw.peer_pid)) : nil
        var malformed: String? = raw.malformed.map { String(cString: $0) }
        if malformed == nil, let target { malformed = HTTPRequest.problem(inTarget: target) }
        if malformed == nil, arguments.count > HTTPRequest.maxQueryParameters {
            malformed =
                "the query has \(arguments.count) parameters; at most \(HTTPRequest.maxQueryParameters) are accepted in one request"
        }
        var request = HTTPRequest(
            method: raw.method.map { String(cString: $0) } ?? "",
            path: raw.path.map { String(cString: $0) } ?? "/",
            query: query, queryItems: arguments, headers: headers, body: body,
            bodyTooLarge: raw.body_too_large != 0, transport: transport, peer: peer, malformedTarget: malformed)
        request.streamSlot = raw.stream_slot.map { StreamSlot(address: UInt(bitPattern: $0)) }
        request.peerAddress = raw.peer_address.map { String(cString: $0) }
        return request
    }

    private static func fill(_ response: UnsafeMutablePointer<rs_http_response>, with reply: HTTPResponse) {
        response.pointee.status = Int32(reply.status)
        response.pointee.content_type = contentTypeLiteral(reply.contentType)
        response.pointee.body = copyToMalloc(reply.body)
        response.pointee.body_length = reply.body.count
        if let stream = reply.stream {
            rs_stream_retain(stream.pointer)  // handed over to the shim, which releases it with the response
            response.pointee.stream = stream.pointer
        }
        if !reply.headers.isEmpty {
            let lines = reply.headers.map { name, value in
                name + ": " + value.filter { $0 != "\n" && $0 != "\r" } + "\n"
            }.joined()
            response.pointee.extra_headers = strdup(lines)
        }
    }

    /// Content types as static C strings, which stay valid after the handler returns.
    private static func contentTypeLiteral(_ type: String) -> UnsafePointer<CChar> {
        switch type {
        case "text/plain; version=0.0.4; charset=utf-8": return staticString("text/plain; version=0.0.4; charset=utf-8")
        case "text/plain; charset=utf-8": return staticString("text/plain; charset=utf-8")
        case "text/event-stream": return staticString("text/event-stream")
        case "application/xml": return staticString("application/xml")
        case "text/html; charset=utf-8": return staticString("text/html; charset=utf-8")
        case "text/css; charset=utf-8": return staticString("text/css; charset=utf-8")
        case "text/javascript; charset=utf-8": return staticString("text/javascript; charset=utf-8")
        default: return staticString("application/json")
        }
    }

    private static func staticString(_ text: StaticString) -> UnsafePointer<CChar> {
        UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
    }

    private static func copyToMalloc(_ bytes: [UInt8]) -> UnsafeMutablePointer<CChar>? {
        guard let memory = malloc(max(1, bytes.count)) else { return nil }
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress { memcpy(memory, base, bytes.count) }
        }
        return memory.assumingMemoryBound(to: CChar.self)
    }
}

/// A request's place among its listener's event streams: each peer (a TCP address, a Unix
/// socket uid other than root) and each listener may hold only so many (CShim/connections.c).
/// Valid only while the request is being handled, on its thread.
public struct StreamSlot: Sendable {
    /// The shim's `rs_stream_slot`, as a bit pattern: it lives on the handler's stack.
    let address: UInt

    /// Claims the place for the request's connection until its request ends: nil when granted,
    /// else the status to refuse with (429: the peer's share is taken; 503: the listener's) and why.
    public func claim() -> (status: Int, message: String)? {
        guard let pointer = UnsafeMutableRawPointer(bitPattern: address) else { return nil }
        var text = [CChar](repeating: 0, count: 256)
        let status = rs_http_claim_stream(pointer, &text)
        return status == 0 ? nil : (Int(status), message(text))
    }
}

/// The value of one hexadecimal digit of a percent escape, or nil.
private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
}

/// The text in a NUL-terminated C buffer.
func message(_ buffer: [CChar]) -> String {
    buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}
