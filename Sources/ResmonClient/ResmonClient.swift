import FoundationEssentials
import HTTPClient
import ResmonAPI

#if canImport(Glibc)
    import Glibc
#endif

/// Why a request to resmond did not give the answer asked for.
public enum ClientError: Error, Sendable, CustomStringConvertible {
    /// Nothing answered on the socket (or at the URL): resmond is not running, the path is
    /// wrong, or its certificate could not be verified.
    case unreachable(socket: String, reason: String)
    /// resmond answered with an error (`{"error": {"code", "message"}}`).
    case api(status: Int, code: APIErrorCode, message: String)
    /// resmond answered something this client cannot read.
    case malformedResponse(String)
    /// The client cannot be set up as asked: a URL it cannot use, a token file it cannot read.
    case invalidSetting(String)

    public var description: String {
        switch self {
        case .unreachable(let url, let reason) where url.contains("://"):
            "no resmond answers at \(url) (\(reason)); check --url (or $RESMON_URL), and --cacert for a certificate the system does not trust"
        case .unreachable(let socket, let reason):
            "no resmond answers on \(socket) (\(reason)); start it with 'resmond' or 'make run', or pass --socket"
        case .api(let status, let code, let message): "\(message) (HTTP \(status), \(code))"
        case .malformedResponse(let detail): "unreadable answer from resmond: \(detail)"
        case .invalidSetting(let detail): detail
        }
    }
}

/// A raw HTTP answer.
public struct ClientResponse: Sendable {
    public let status: Int
    public let body: [UInt8]
}

/// The Swift consumer library: resmond's HTTP API over its Unix socket, or over TCP (HTTPS) to
/// a remote resmond, through libcurl.
public struct ResmonClient: Sendable {
    public let endpoint: Endpoint
    public var timeoutMilliseconds: Int

    /// Where resmond answers.
    public enum Endpoint: Sendable, Equatable {
        case unixSocket(String)
        /// A TCP listener: the base URL (`https://HOST:PORT`, no trailing slash), the bearer
        /// token sent with every request (writes over TCP need it), and a PEM file of the CA
        /// certificates resmond's must chain to (nil: the system's).
        case url(String, token: String?, caFile: String?)
    }

    /// A client of the resmond on `socketPath` (default: `$RESMON_SOCKET`, else the default socket).
    public init(socketPath: String? = nil, timeoutMilliseconds: Int = 10_000) {
        self.endpoint = .unixSocket(socketPath ?? ResmonClient.defaultSocket())
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    /// A client of a remote resmond's TCP listener at `url` (`https://HOST:PORT`; `http://` for
    /// loopback or a listener with `http.insecure`), the certificate verified against `caFile`
    /// (a self-signed certificate is its own CA) or the system's CAs, with the bearer token read
    /// from `tokenFile` (one line; without it, TCP is read-only).
    public init(url: String, tokenFile: String?, caFile: String?, timeoutMilliseconds: Int = 10_000) throws(ClientError) {
        let token = try tokenFile.map { path throws(ClientError) in try ResmonClient.readToken(path) }
        try self.init(url: url, token: token, caFile: caFile, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// The same with the token itself.
    public init(url: String, token: String?, caFile: String?, timeoutMilliseconds: Int = 10_000) throws(ClientError) {
        guard url.hasPrefix("https://") || url.hasPrefix("http://"), !url.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7f }),
            !url.contains("?"), !url.contains("#")
        else {
            throw .invalidSetting("expected a URL such as https://HOST:9465 (no query), got \"\(url)\"")
        }
        if let token, token.isEmpty || token.contains(where: { $0.isWhitespace || $0.isNewline }) {
            throw .invalidSetting("a bearer token is one word without spaces")
        }
        var base = Substring(url)
        while base.hasSuffix("/") { base = base.dropLast() }
        self.endpoint = .url(String(base), token: token, caFile: caFile)
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    /// The socket's path, or nil for a client of a URL.
    public var socketPath: String? {
        if case .unixSocket(let path) = endpoint { return path }
        return nil
    }

    /// The socket's path or the URL, for messages.
    public var location: String {
        switch endpoint {
        case .unixSocket(let path): path
        case .url(let url, _, _): url
        }
    }

    /// `$RESMON_SOCKET` when set, else the socket in the default state directory.
    public static func defaultSocket() -> String {
        if let configured = getenv("RESMON_SOCKET"), configured.pointee != 0 { return String(cString: configured) }
        return DefaultPaths.socket()
    }

    // MARK: - The API

    public func health() throws(ClientError) -> HealthResponse { try get("/healthz") }
    public func status() throws(ClientError) -> StatusResponse { try get("/v1/status") }
    public func subsystems() throws(ClientError) -> [SubsystemInfo] {
        let list: SubsystemList = try get("/v1/subsystems")
        return list.subsystems
    }

    /// The catalogue, optionally only keys matching a POSIX extended regular expression and
    /// labels meeting every condition (`name~^nginx$`, `unit=ssh.service`, `user!=root`).
    public func statistics(matching pattern: String? = nil, where conditions: [String] = []) throws(ClientError) -> [StatisticInfo] {
        let query = (pattern.map { [("match", $0)] } ?? []) + conditions.map { ("where", $0) }
        let list: StatisticList = try get("/v1/statistics", query: query)
        return list.statistics
    }

    /// Pushes an application statistic (`app:RESOURCE:NAME`): a gauge's level or a counter's total.
    @discardableResult
    public func push(_ key: String, value: Double, kind: String = "gauge", unit: String = "", help: String? = nil) throws(ClientError) -> StatisticInfo {
        let body: [UInt8]
        do {
            body = Array(try JSONEncoder().encode(PushRequest(value: value, kind: kind, unit: unit, help: help)))
        } catch {
            throw .malformedResponse("cannot encode the push: \(error)")
        }
        let response = try send("PUT", "/v1/statistics/" + ResmonClient.escapePath(key), body: body)
        try ResmonClient.check(response)
        do {
            return try JSONDecoder().decode(StatisticInfo.self, from: Data(response.body))
        } catch {
            throw .malformedResponse("\(key): \(error)")
        }
    }

    /// Removes a pushed statistic.
    public func removePushed(_ key: String) throws(ClientError) {
        try ResmonClient.check(try send("DELETE", "/v1/statistics/" + ResmonClient.escapePath(key)))
    }

    /// One statistic by its key, e.g. `cpu:total:usage_ratio`.
    public func statistic(_ key: String) throws(ClientError) -> StatisticInfo {
        try get("/v1/statistics/" + ResmonClient.escapePath(key))
    }

    /// One statistic's archived rows: `start` and `end` as epoch seconds or negative (before now).
    public func history(
        _ key: String, function: String = "AVERAGE", start: Int? = nil, end: Int? = nil,
        resolution: Int? = nil
    ) throws(ClientError) -> HistoryResponse {
        var query = [("cf", function)]
        if let start { query.append(("start", String(start))) }
        if let end { query.append(("end", String(end))) }
        if let resolution { query.append(("resolution", String(resolution))) }
        return try get("/v1/history/" + ResmonClient.escapePath(key), query: query)
    }

    // MARK: - Monitors and events

    /// Creates monitors (all or none); returns them as stored, with ids and defaults filled in.
    public func createMonitors(_ specs: [MonitorSpec]) throws(ClientError) -> [MonitorInfo] {
        let list: MonitorList = try send(json: specs, method: "POST", path: "/v1/monitors")
        return list.monitors
    }

    public func monitors() throws(ClientError) -> [MonitorInfo] {
        let list: MonitorList = try get("/v1/monitors")
        return list.monitors
    }

    public func monitor(_ id: String) throws(ClientError) -> MonitorInfo {
        try get("/v1/monitors/" + ResmonClient.escapePath(id))
    }

    /// start, stop, pause, resume, reset, reset-notification.
    @discardableResult
    public func perform(_ action: String, monitor id: String) throws(ClientError) -> MonitorInfo {
        let response = try send("POST", "/v1/monitors/" + ResmonClient.escapePath(id) + "/" + action)
        try ResmonClient.check(response)
        return try ResmonClient.decode(response, "/v1/monitors/\(id)/\(action)")
    }

    public func deleteMonitor(_ id: String) throws(ClientError) {
        try ResmonClient.check(try send("DELETE", "/v1/monitors/" + ResmonClient.escapePath(id)))
    }

    /// Events with ids above `after`, oldest first (newest first with `newestFirst`), matching a
    /// filter (docs/EVENTS.md) and a time range (`since`/`until`: epoch seconds, RFC 3339, `-1h`).
    public func events(
        after: Int64 = 0, limit: Int = 100, filter: String? = nil, since: String? = nil,
        until: String? = nil, newestFirst: Bool = false
    ) throws(ClientError) -> EventList {
        var query = [("after", String(after)), ("limit", String(limit))]
        if let filter { query.append(("filter", filter)) }
        if let since { query.append(("since", since)) }
        if let until { query.append(("until", until)) }
        if newestFirst { query.append(("order", "desc")) }
        return try get("/v1/events", query: query)
    }

    /// Appends an event an application's own monitor found to resmond's log (`POST /v1/events`;
    /// docs/EVENTS.md, "Application events"): the event as stored, marked as this caller's.
    public func appendEvent(_ event: EventAppendRequest) throws(ClientError) -> EventRecord {
        try send(json: event, method: "POST", path: "/v1/events")
    }

    /// Replays archived history through a monitor spec: what it would have logged. `cf` picks
    /// the consolidation function (default: the one that cannot miss a raise).
    public func backtest(
        _ spec: MonitorSpec, since: String? = nil, until: String? = nil,
        cf: String? = nil
    ) throws(ClientError) -> BacktestResponse {
        try send(json: BacktestRequest(spec: spec, since: since, until: until, cf: cf), method: "POST", path: "/v1/monitors/test")
    }

    /// Imports a perfmon configuration (XML) for the host or a cgroup (`cgroup:/path`).
    public func importPerfmon(xml: [UInt8], object: String) throws(ClientError) -> [MonitorInfo] {
        try importPerfmonReport(xml: xml, object: object).monitors
    }

    /// Imports (or refreshes) a perfmon configuration and tells what became of each variable:
    /// created, replaced or unchanged, the statistics it reads, and a warning when it reads none.
    public func importPerfmonReport(xml: [UInt8], object: String) throws(ClientError) -> PerfmonImportResponse {
        let response = try send("POST", "/v1/monitors/import/perfmon", query: [("object", object)], body: xml)
        try ResmonClient.check(response)
        return try ResmonClient.decode(response, "/v1/monitors/import/perfmon")
    }

    /// Each configured sink's progress: its position in the log, deliveries, retries, last error.
    /// Has resmond re-read resmond.json, `subsystems.d` and `monitors.d` (root only) and answers
    /// once they are applied: what changed, or the file's error (`ClientError` with 400).
    public func reload() throws(ClientError) -> ReloadResponse {
        let response = try send("POST", "/v1/reload")
        try ResmonClient.check(response)
        return try ResmonClient.decode(response, "/v1/reload")
    }

    public func sinks() throws(ClientError) -> [SinkStatus] {
        let list: SinkList = try get("/v1/sinks")
        return list.sinks
    }

    /// Sends a JSON body and decodes the JSON answer.
    public func send<Body: Encodable, Answer: Decodable>(json body: Body, method: String, path: String) throws(ClientError) -> Answer {
        let bytes: [UInt8]
        do {
            bytes = Array(try JSONEncoder().encode(body))
        } catch {
            throw .malformedResponse("cannot encode the request: \(error)")
        }
        let response = try send(method, path, body: bytes)
        try ResmonClient.check(response)
        return try ResmonClient.decode(response, path)
    }

    static func decode<Answer: Decodable>(_ response: ClientResponse, _ path: String) throws(ClientError) -> Answer {
        do {
            return try JSONDecoder().decode(Answer.self, from: Data(response.body))
        } catch {
            throw .malformedResponse("\(path): \(error)")
        }
    }

    /// The Prometheus exposition text of `/metrics`.
    public func metrics() throws(ClientError) -> String {
        let response = try send("GET", "/metrics")
        try ResmonClient.check(response)
        return String(decoding: response.body, as: UTF8.self)
    }

    // MARK: - Plumbing

    /// Decodes a JSON answer of a GET.
    public func get<Body: Decodable>(_ path: String, query: [(String, String)] = []) throws(ClientError) -> Body {
        let response = try send("GET", path, query: query)
        try ResmonClient.check(response)
        do {
            return try JSONDecoder().decode(Body.self, from: Data(response.body))
        } catch {
            throw .malformedResponse("\(path): \(error)")
        }
    }

    /// One request; the answer whatever its status. Throws only when nothing answered.
    public func send(
        _ method: String, _ path: String, query: [(String, String)] = [], body: [UInt8]? = nil,
        headers: [String] = []
    ) throws(ClientError) -> ClientResponse {
        var url = baseURL + path
        if !query.isEmpty {
            url += "?" + query.map { ResmonClient.escapeQuery($0.0) + "=" + ResmonClient.escapeQuery($0.1) }.joined(separator: "&")
        }
        let headerLines = (body != nil ? ["Content-Type: application/json"] : []) + headers + authorization
        do {
            let answer = try HTTPClient.fetch(
                url, method: method, body: body, headers: headerLines, unixSocket: socketPath,
                timeoutMilliseconds: timeoutMilliseconds, maximumBytes: 256 << 20, caFile: caFile)
            return ClientResponse(status: answer.status, body: answer.body)
        } catch {
            throw .unreachable(socket: location, reason: error.description)
        }
    }

    /// What a request's path is appended to.
    var baseURL: String {
        if case .url(let url, _, _) = endpoint { return url }
        return "http://localhost"
    }

    /// The bearer token's header line, when there is one.
    var authorization: [String] {
        if case .url(_, let token?, _) = endpoint { return ["Authorization: Bearer " + token] }
        return []
    }

    var caFile: String? {
        if case .url(_, _, let caFile) = endpoint { return caFile }
        return nil
    }

    static func check(_ response: ClientResponse) throws(ClientError) {
        guard !(200..<300).contains(response.status) else { return }
        if let failure = try? JSONDecoder().decode(ErrorResponse.self, from: Data(response.body)) {
            throw .api(status: response.status, code: failure.error.code, message: failure.error.message)
        }
        throw .malformedResponse("HTTP \(response.status) without an error body")
    }

    /// Percent-encodes a path, keeping `/` and `:` (statistic keys read as they are).
    static func escapePath(_ text: String) -> String {
        escape(text, keeping: "/:")
    }

    static func escapeQuery(_ text: String) -> String {
        escape(text, keeping: "")
    }

    private static func escape(_ text: String, keeping extra: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        let kept = Set(extra.utf8)
        for byte in text.utf8 {
            let unreserved =
                (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39)
                || byte == 0x2d || byte == 0x2e || byte == 0x5f || byte == 0x7e
            if unreserved || kept.contains(byte) {
                bytes.append(byte)
            } else {
                bytes += [0x25, hex[Int(byte >> 4)], hex[Int(byte & 0xf)]]
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
