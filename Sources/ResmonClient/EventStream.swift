import FoundationEssentials
import HTTPClient
import ResmonAPI

#if canImport(Glibc)
    import Glibc
#endif

/// One server-sent event: its `id:`, `event:` (default `message`) and joined `data:` lines.
public struct ServerSentEvent: Sendable, Equatable {
    public var id: String?
    public var event: String
    public var data: String

    public init(id: String?, event: String, data: String) {
        self.id = id
        self.event = event
        self.data = data
    }
}

/// Parses a server-sent event stream as it arrives, in chunks cut anywhere (the WHATWG
/// EventSource rules: lines end in LF, CR or CRLF; `:` starts a comment; a blank line dispatches).
public struct ServerSentEventParser: Sendable {
    private var line: [UInt8] = []
    private var afterCR = false
    private var id: String?
    private var event = ""
    private var data: [String] = []
    private var hasData = false

    public init() {}

    /// Feeds bytes (a chunk cut anywhere); returns the events they complete.
    public mutating func feed(_ bytes: [UInt8]) -> [ServerSentEvent] {
        var complete: [ServerSentEvent] = []
        for byte in bytes {
            if afterCR {
                afterCR = false
                if byte == 0x0a { continue }
            }
            if byte == 0x0a || byte == 0x0d {
                afterCR = byte == 0x0d
                if let event = endLine() { complete.append(event) }
            } else {
                line.append(byte)
            }
        }
        return complete
    }

    private mutating func endLine() -> ServerSentEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            defer {
                event = ""
                data = []
                hasData = false
            }
            guard hasData else { return nil }
            return ServerSentEvent(id: id, event: event.isEmpty ? "message" : event, data: data.joined(separator: "\n"))
        }
        if line.first == 0x3a { return nil }  // a comment: heartbeats
        let colon = line.firstIndex(of: 0x3a)
        let field = String(decoding: line[..<(colon ?? line.endIndex)], as: UTF8.self)
        var value = colon.map { Array(line[line.index(after: $0)...]) } ?? []
        if value.first == 0x20 { value.removeFirst() }
        let text = String(decoding: value, as: UTF8.self)
        switch field {
        case "id": if !text.contains("\0") { id = text }
        case "event": event = text
        case "data":
            data.append(text)
            hasData = true
        default: break
        }
        return nil
    }
}

extension ResmonClient {
    /// How a stream ended.
    public enum StreamEnd: Sendable, Equatable {
        /// The server ended it (it is stopping); resume with the last id seen.
        case ended
        /// The consumer fell too far behind; resume from the log with the last id seen.
        case overflow
        /// The handler asked to stop.
        case stopped
    }

    /// Reads `GET /v1/events/stream` once: events after `after` (from now on when nil) that match
    /// `filter`, handed to `onEvent` in id order until it returns false or the stream ends. A
    /// stream silent for three heartbeats counts as lost (`ClientError.unreachable`). `stopping`
    /// is asked at each chunk (a heartbeat at least): true ends the stream as `.stopped`.
    public func streamEvents(
        after: Int64?, filter: String? = nil, heartbeat: Double = 5,
        stopping: () -> Bool = { false }, onEvent: (EventRecord) -> Bool
    ) throws(ClientError) -> StreamEnd {
        var query: [(String, String)] = [("heartbeat", String(heartbeat))]
        if let after { query.append(("after", String(after))) }
        if let filter { query.append(("filter", filter)) }
        let url =
            baseURL + "/v1/events/stream?"
            + query.map { ResmonClient.escapeQuery($0.0) + "=" + ResmonClient.escapeQuery($0.1) }.joined(separator: "&")
        return try withoutActuallyEscaping(onEvent) { handler throws(ClientError) -> StreamEnd in
            try withoutActuallyEscaping(stopping) { stopping throws(ClientError) -> StreamEnd in
                try stream(url, heartbeat: heartbeat, StreamReader(onEvent: handler, stopping: stopping))
            }
        }
    }

    private func stream(_ url: String, heartbeat: Double, _ reader: StreamReader) throws(ClientError) -> StreamEnd {
        let outcome = HTTPClient.stream(
            url, unixSocket: socketPath, headers: authorization, caFile: caFile, connectTimeoutMilliseconds: 5000,
            // Within the server's 0.1 to 300 s (it answers 400 to the rest): Int(nan) would trap.
            idleMilliseconds: Int((heartbeat >= 0.1 && heartbeat <= 300 ? heartbeat : 300) * 3000) + 1000
        ) { reader.take($0) }
        if outcome.status != 0 && outcome.status != 200 {
            try ResmonClient.check(ClientResponse(status: outcome.status, body: reader.raw))
        }
        if let failure = reader.failure { throw failure }
        if reader.stopped { return .stopped }
        if reader.overflowed { return .overflow }
        if let reason = outcome.failure { throw .unreachable(socket: location, reason: reason) }
        return .ended
    }

    /// Follows the event stream for good: reconnects by itself after a restart of resmond, an
    /// overflow or a lost connection, resuming after the last event seen, so that `onEvent`
    /// receives every matching event exactly once. Returns when `onEvent` returns false; throws
    /// only what reconnecting cannot cure (a bad filter). `onReconnect` hears why it reconnects.
    /// `stopping` is asked at each chunk and before each reconnection: true makes it return.
    public func followEvents(
        after: Int64?, filter: String? = nil, heartbeat: Double = 5, stopping: () -> Bool = { false },
        onEvent: (EventRecord) -> Bool, onReconnect: (String) -> Void = { _ in }
    ) throws(ClientError) {
        var cursor = after
        var delay = 0.2
        /// Waits `delay` seconds, in steps short enough for `stopping`; true when it says stop.
        func pause() -> Bool {
            var left = delay
            while left > 0 && !stopping() {
                usleep(UInt32(min(left, 0.1) * 1e6))
                left -= 0.1
            }
            delay = min(delay * 2, 5)
            return stopping()
        }
        while !stopping() {
            var received = false
            let end: StreamEnd
            do {
                if cursor == nil { cursor = try events(limit: 1, newestFirst: true).events.first?.id ?? 0 }
                end = try streamEvents(after: cursor, filter: filter, heartbeat: heartbeat, stopping: stopping) { event in
                    received = true
                    cursor = event.id
                    return onEvent(event)
                }
            } catch {
                if case .api(let status, _, _) = error, status == 400 { throw error }
                onReconnect("\(error)")
                if pause() { return }
                continue
            }
            if received { delay = 0.2 }
            switch end {
            case .stopped: return
            case .overflow: onReconnect("fell behind; resuming from the log after event \(cursor ?? 0)")
            case .ended:
                onReconnect("the stream ended (resmond stopping?); reconnecting after event \(cursor ?? 0)")
                if pause() { return }
            }
        }
    }
}

/// Turns the chunks of one stream into events for the handler.
private final class StreamReader {
    let onEvent: (EventRecord) -> Bool
    let stopping: () -> Bool
    var parser = ServerSentEventParser()
    /// The first bytes, kept for the error body of a refused stream.
    var raw: [UInt8] = []
    var stopped = false
    var overflowed = false
    var failure: ClientError?

    init(onEvent: @escaping (EventRecord) -> Bool, stopping: @escaping () -> Bool) {
        self.onEvent = onEvent
        self.stopping = stopping
    }

    func take(_ bytes: [UInt8]) -> Bool {
        if stopping() {
            stopped = true
            return false
        }
        if raw.count < 65536 { raw += bytes.prefix(65536 - raw.count) }
        for message in parser.feed(bytes) {
            switch message.event {
            case "overflow":
                overflowed = true
            case "message":
                do {
                    let event = try JSONDecoder().decode(EventRecord.self, from: Data(message.data.utf8))
                    if !onEvent(event) {
                        stopped = true
                        return false
                    }
                } catch {
                    failure = .malformedResponse("event stream: \(error)")
                    return false
                }
            default:
                break
            }
        }
        return true
    }
}
