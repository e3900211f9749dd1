/// One route of the HTTP API as data: its path template as docs/openapi.yaml writes it, the
/// methods it answers and the query parameters each takes. `APIRouter` dispatches on
/// `APIRoute.table` (a 405 names its methods, a 400 its parameters), and a test compares the
/// table with the OpenAPI document both ways, so neither can gain a route the other lacks.
public struct APIRoute: Sendable {
    /// What answers a route.
    enum Handler: Sendable {
        case dashboard, health, status, subsystems, statistics, statistic, metrics, openAPI
        case monitors, monitor, monitorState, monitorCapture, monitorAction, backtest, perfmonImport
        case events, eventStream, sinks, reload, history, historyDump, rrdUpdates
    }

    /// A method and the query parameters it accepts; nil: the query is not looked at.
    public struct Operation: Sendable {
        public let method: String
        public let query: Set<String>?
    }

    /// The template: `/v1/monitors/{id}/state`, at most one parameter.
    public let path: String
    /// In the order `Allow` lists them.
    public let operations: [Operation]
    let handler: Handler
    /// The template's text before and after its parameter (all of it before when it has none).
    private let prefix: String
    private let suffix: String
    private let parameter: String?

    /// Parameters that take the rest of the path, slashes included (a key's resource may be a
    /// path: `fs:/home:used_ratio`; a dashboard file that is no file is its route's 404). The
    /// others are one non-empty segment.
    static let spanning: Set = ["key", "file"]

    init(_ path: String, _ handler: Handler, _ operations: [(String, Set<String>?)]) {
        self.path = path
        self.handler = handler
        self.operations = operations.map { Operation(method: $0.0, query: $0.1) }
        if let open = path.firstIndex(of: "{"), let close = path.firstIndex(of: "}") {
            prefix = String(path[..<open])
            parameter = String(path[path.index(after: open)..<close])
            suffix = String(path[path.index(after: close)...])
        } else {
            prefix = path
            parameter = nil
            suffix = ""
        }
    }

    public var methods: [String] { operations.map(\.method) }

    /// The parameter's value when `path` is this route's, "" for a route without one; nil when
    /// it is not.
    func match(_ path: String) -> String? {
        guard let parameter else { return path == prefix ? "" : nil }
        guard path.utf8.count >= prefix.utf8.count + suffix.utf8.count, path.hasPrefix(prefix), path.hasSuffix(suffix) else {
            return nil
        }
        let value = String(path.dropFirst(prefix.count).dropLast(suffix.count))
        if APIRoute.spanning.contains(parameter) { return value }
        return value.isEmpty || value.contains("/") ? nil : value
    }

    /// The route `path` is, and its parameter's value; the first in the table wins.
    static func find(_ path: String) -> (route: APIRoute, value: String)? {
        // `/v1/monitors/` is the collection too, as it always was.
        let path = path == "/v1/monitors/" ? "/v1/monitors" : path
        for route in table {
            if let value = route.match(path) { return (route, value) }
        }
        return nil
    }

    private static let read: [(String, Set<String>?)] = [("GET", []), ("HEAD", [])]
    private static func read(_ query: Set<String>) -> [(String, Set<String>?)] { [("GET", query), ("HEAD", query)] }
    private static let eventQuery: Set = ["after", "limit", "monitor", "filter", "since", "until", "order"]

    /// Every route. Where two could match, the more specific comes first.
    public static let table: [APIRoute] = [
        APIRoute("/", .dashboard, read),
        APIRoute("/dashboard/{file}", .dashboard, read),
        APIRoute("/healthz", .health, read),
        APIRoute("/metrics", .metrics, [("GET", nil), ("HEAD", nil)]),
        APIRoute("/v1/openapi.json", .openAPI, read),
        APIRoute("/v1/status", .status, read),
        APIRoute("/v1/subsystems", .subsystems, read),
        APIRoute("/v1/statistics", .statistics, read(["match", "where", "fields"])),
        APIRoute("/v1/statistics/{key}", .statistic, read + [("PUT", []), ("DELETE", [])]),
        APIRoute("/v1/history/{key}/rrdtool.xml", .historyDump, read),
        APIRoute("/v1/history/{key}", .history, read(["cf", "start", "end", "resolution"])),
        APIRoute("/rrd_updates", .rrdUpdates, read(["start", "cf", "interval", "host", "json", "vm_uuid", "session_id", "native"])),
        APIRoute("/v1/monitors", .monitors, read + [("POST", [])]),
        APIRoute("/v1/monitors/test", .backtest, [("POST", [])]),
        APIRoute("/v1/monitors/import/perfmon", .perfmonImport, [("POST", ["object"])]),
        APIRoute("/v1/monitors/{id}", .monitor, read + [("PATCH", []), ("DELETE", [])]),
        APIRoute("/v1/monitors/{id}/state", .monitorState, read),
        APIRoute("/v1/monitors/{id}/capture", .monitorCapture, read),
        APIRoute("/v1/monitors/{id}/start", .monitorAction, [("POST", [])]),
        APIRoute("/v1/monitors/{id}/stop", .monitorAction, [("POST", [])]),
        APIRoute("/v1/monitors/{id}/pause", .monitorAction, [("POST", [])]),
        APIRoute("/v1/monitors/{id}/resume", .monitorAction, [("POST", [])]),
        APIRoute("/v1/monitors/{id}/reset", .monitorAction, [("POST", [])]),
        APIRoute("/v1/monitors/{id}/reset-notification", .monitorAction, [("POST", [])]),
        APIRoute("/v1/events", .events, read(eventQuery) + [("POST", [])]),
        APIRoute("/v1/events/stream", .eventStream, [("GET", ["after", "monitor", "filter", "heartbeat"])]),
        APIRoute("/v1/sinks", .sinks, read),
        APIRoute("/v1/reload", .reload, [("POST", [])])
    ]
}
