import Events
import FoundationEssentials
import History
import Monitoring
import ResmonAPI
import ResmonSystem
import Statistics

/// What the routes need from the daemon, without knowing the daemon.
public struct APIContext: Sendable {
    public var table: SampleTable
    public var status: @Sendable () -> StatusResponse
    public var subsystems: @Sendable () -> [SubsystemStatus]
    public var pushed: PushedStatistics
    /// The bearer token that authorizes writes over TCP; nil: TCP is read-only.
    public var writeToken: String?
    public var history: HistoryStore?
    public var monitors: MonitorEngine?
    /// The event log `/v1/events` reads; by default the one the monitor engine writes.
    public var events: EventStore?
    /// Feeds `/v1/events/stream`; nil: streams are not offered.
    public var streams: EventStreamHub?
    /// The sinks' progress for `/v1/sinks`.
    public var sinks: @Sendable () -> [SinkStatus]
    /// The host's uuid in rrd_updates legends (from /etc/machine-id).
    public var hostUUID: String
    /// `/metrics`' layout, kept between scrapes.
    public let metrics = MetricsExposition()
    /// Recent statistics queries' selections, for a dashboard's listing each step.
    let listings = ListingCache()
    /// Re-reads the configuration and applies it (`POST /v1/reload`): what it did, or why the
    /// file was refused (the running configuration is then kept). Nil: reloading is not offered.
    public var reload: (@Sendable () -> Result<ReloadResponse, ReloadRefused>)?
    /// Chart.js for the dashboard's `/dashboard/chart.js` (Debian's libjs-chart.js), read at each request.
    public var chartLibraryPath = DashboardRoutes.chartLibraryPath
    /// The requests' CPU, each requester's bounded; nil: not counted, nothing refused.
    public var requestWork: RequestWork?
    /// Why resmond no longer does its work (the sampling thread has not completed a cycle for
    /// many steps), or nil: `/healthz` answers 503 with it.
    public var stall: @Sendable () -> String?
    /// The TCP listener is on a loopback address: requests naming another host are refused
    /// (`HostCheck`, against DNS rebinding).
    public var loopbackListener = false

    public init(
        table: SampleTable, status: @escaping @Sendable () -> StatusResponse,
        subsystems: @escaping @Sendable () -> [SubsystemStatus], pushed: PushedStatistics,
        writeToken: String? = nil, history: HistoryStore? = nil, monitors: MonitorEngine? = nil,
        events: EventStore? = nil, streams: EventStreamHub? = nil, sinks: @escaping @Sendable () -> [SinkStatus] = { [] },
        hostUUID: String = "00000000-0000-0000-0000-000000000000",
        reload: (@Sendable () -> Result<ReloadResponse, ReloadRefused>)? = nil, requestWork: RequestWork? = nil,
        stall: @escaping @Sendable () -> String? = { nil }
    ) {
        self.requestWork = requestWork
        self.reload = reload
        self.stall = stall
        self.streams = streams
        self.sinks = sinks
        self.table = table
        self.status = status
        self.subsystems = subsystems
        self.pushed = pushed
        self.writeToken = writeToken
        self.history = history
        self.monitors = monitors
        self.events = events ?? monitors?.eventStore
        self.hostUUID = hostUUID
    }
}

/// resmond's HTTP API: routes a request to its handler and turns every failure into the JSON
/// error body with its status (docs/API.md).
public struct APIRouter: HTTPHandler {
    let context: APIContext

    public init(context: APIContext) {
        self.context = context
    }

    /// A failure a route reports; becomes `{"error": {"code", "message"}}`.
    struct Failure: Error {
        let status: Int
        let code: APIErrorCode
        let message: String
        var headers: [(String, String)] = []
    }

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        guard let work = context.requestWork else { return answer(request) }
        work.enlist()
        let started = Clock.threadCPU()
        let requester = requester(request)
        defer { work.charge(requester, Clock.threadCPU() - started) }
        // /healthz is always answered: a supervisor's probe must not fail because of its address's other requests.
        if request.path != "/healthz", let refusal = work.refusal(requester) {
            return APIRouter.error(
                Failure(status: 429, code: .quota, message: refusal.message, headers: [("Retry-After", String(refusal.retryAfter))]))
        }
        return answer(request)
    }

    private func answer(_ request: HTTPRequest) -> HTTPResponse {
        do {
            if request.bodyTooLarge {
                throw Failure(status: 413, code: .payloadTooLarge, message: "the request body is larger than the server accepts")
            }
            if let problem = request.malformedTarget {
                throw Failure(status: 400, code: .badRequest, message: problem)
            }
            if request.transport == .tcp, context.loopbackListener, request.path != "/healthz",
                let refusal = HostCheck.refusal(request.headers["host"])
            {
                throw Failure(status: 403, code: .forbidden, message: refusal)
            }
            return try route(request)
        } catch let failure as Failure {
            return APIRouter.error(failure)
        } catch let refused as InputNumberError {
            // A number from the query or body out of range: the field and the range, never a trap.
            return APIRouter.error(Failure(status: 400, code: .badRequest, message: refused.description))
        } catch {
            return APIRouter.error(Failure(status: 500, code: .internalError, message: "\(error)"))
        }
    }

    private func route(_ request: HTTPRequest) throws -> HTTPResponse {
        let path = request.path
        guard let (route, value) = APIRoute.find(path) else { throw APIRouter.notFound(path) }
        try allow(request, route.methods)
        if let query = route.operations.first(where: { $0.method == request.method })?.query {
            try acceptOnly(query, request)
        }
        switch route.handler {
        case .dashboard:
            guard let answer = DashboardRoutes.response(path, chartLibrary: context.chartLibraryPath, ifNoneMatch: request.headers["if-none-match"])
            else {
                throw Failure(status: 404, code: .notFound, message: "no such path: \(path) (the dashboard is at /)")
            }
            return answer
        case .health:
            if let reason = context.stall() { return try json(HealthResponse(status: "stalled", reason: reason), status: 503) }
            return try json(HealthResponse(status: "ok"))
        case .status:
            return try json(context.status())
        case .subsystems:
            return try json(SubsystemList(subsystems: context.subsystems().map(APIRouter.info)))
        case .statistics:
            return try listStatistics(
                match: request.query["match"], requester: requester(request),
                where: request.queryItems.filter { $0.0 == "where" }.map(\.1), fields: request.query["fields"])
        case .statistic:
            // Only pushed statistics (`app:`) may be written.
            if !value.hasPrefix("app:") { try allow(request, ["GET", "HEAD"]) }
            switch request.method {
            case "PUT": return try push(key: value, request)
            case "DELETE": return try unpush(key: value, request)
            default: return try statistic(key: value)
            }
        case .metrics:
            let body = context.metrics.render(
                table: context.table, status: context.status(), subsystems: context.subsystems(), sinks: context.sinks())
            return HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: body)
        case .openAPI:
            return HTTPResponse(status: 200, body: PackageResources.openapi_json)
        case .monitors, .monitor, .monitorState, .monitorCapture, .monitorAction:
            return try MonitorRoutes(engine: try monitorEngine(), authorizeWrite: authorizeWrite)
                .route(request, route.handler, id: value)
        case .backtest:
            return try HistoryRoutes(context: context).backtest(request, history: try historyStore())
        case .perfmonImport:
            return try perfmonImport(request)
        case .events:
            guard request.method == "POST" else {
                return try MonitorRoutes.events(request, store: try eventStore(), requester: requester(request))
            }
            try authorizeWrite(request)
            let stored = try EventAppendRoute(engine: try monitorEngine())
                .append(request, caller: MonitorRoutes.caller(request), now: EventFilter.now())
            return try json(stored, status: 201)
        case .eventStream:
            guard let hub = context.streams else {
                throw Failure(status: 404, code: .notFound, message: "event streams are not offered by this resmond")
            }
            return try MonitorRoutes.stream(request, hub: hub, requester: requester(request))
        case .sinks:
            return try json(SinkList(sinks: context.sinks()))
        case .reload:
            return try reload(request)
        case .history, .historyDump:
            return try HistoryRoutes(context: context).history(
                request, history: try historyStore(), key: value, dump: route.handler == .historyDump)
        case .rrdUpdates:
            return try HistoryRoutes(context: context).rrdUpdates(request, history: try historyStore())
        }
    }

    /// No route has `path`; a monitor's unknown action says which there are.
    static func notFound(_ path: String) -> Failure {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 5, path.hasPrefix("/v1/monitors/"), !parts[3].isEmpty {
            return Failure(
                status: 404, code: .notFound,
                message: "no action \(parts[4]) (start, stop, pause, resume, reset, reset-notification, state, capture)")
        }
        return Failure(status: 404, code: .notFound, message: "no such path: \(path)")
    }

    private func perfmonImport(_ request: HTTPRequest) throws -> HTTPResponse {
        try authorizeWrite(request)
        let engine = try monitorEngine()
        guard let text = request.query["object"], let object = PerfmonImport.Object(parsing: text) else {
            throw Failure(status: 400, code: .badRequest, message: "object: expected host or cgroup:/PATH, got \"\(request.query["object"] ?? "")\"")
        }
        let variables: [PerfmonImport.Variable]
        do {
            variables = try PerfmonImport.variables(xml: request.body, object: object, step: engine.stepSeconds, table: context.table)
        } catch {
            throw Failure(status: 400, code: .badRequest, message: error.message)
        }
        let answer: PerfmonImportResponse
        do {
            answer = try engine.importPerfmon(variables, object: object, caller: MonitorRoutes.caller(request))
        } catch {
            throw MonitorRoutes.failure(error)
        }
        // 201 when a monitor was made; a refresh that only kept or replaced them is 200.
        return try json(answer, status: answer.variables.contains { $0.outcome == "created" } ? 201 : 200)
    }

    private func reload(_ request: HTTPRequest) throws -> HTTPResponse {
        try authorizeWrite(request)
        guard MonitorRoutes.caller(request) == 0 else {
            throw Failure(status: 403, code: .forbidden, message: "only root may reload resmond's configuration")
        }
        guard let reload = context.reload else {
            throw Failure(status: 404, code: .notFound, message: "this resmond does not offer reloading")
        }
        switch reload() {
        case .success(let done): return try json(done)
        case .failure(let refused) where refused.storage: throw Failure(status: 507, code: .storage, message: refused.message)
        case .failure(let refused): throw Failure(status: 400, code: .badRequest, message: refused.message)
        }
    }

    private func monitorEngine() throws -> MonitorEngine {
        guard let monitors = context.monitors else {
            throw Failure(status: 404, code: .notFound, message: "monitors are not kept by this resmond")
        }
        return monitors
    }

    private func eventStore() throws -> EventStore {
        // The log lives in the monitors' state database: without monitors there is none.
        guard let events = context.events else {
            throw Failure(status: 404, code: .notFound, message: "monitors are not kept by this resmond")
        }
        return events
    }

    private func historyStore() throws -> HistoryStore {
        guard let history = context.history else {
            throw Failure(status: 404, code: .notFound, message: "history is not kept by this resmond")
        }
        return history
    }

    /// The CPU seconds one `GET /v1/statistics?match=&where=` may spend matching (docs/API.md).
    static let selectionBudget = 2.0

    private func listStatistics(match pattern: String?, requester: Requester, where conditions: [String], fields: String?)
        throws -> HTTPResponse
    {
        var members = StatisticFields.all
        if let fields {
            switch StatisticFields.parse(fields) {
            case .success(let chosen): members = chosen
            case .failure(let unknown): throw Failure(status: 400, code: .badRequest, message: unknown.description)
            }
        }
        // The version is read before the handles: a change in between leaves a stale entry, never a wrong one.
        let identity = ListingCache.identity(match: pattern, where: conditions)
        let version = context.table.structureVersion
        let selected =
            try context.listings.selection(identity, version: version)
            ?? select(match: pattern, requester: requester, where: conditions, identity: identity, version: version)
        let samples = selected.compactMap { context.table.sample($0) }
        // Written by hand (WireWriter: JSONEncoder's bytes, a third of the cost of a listing).
        return HTTPResponse(status: 200, body: try StatisticList(statistics: samples.map(APIRouter.info)).wireJSON(fields: members))
    }

    /// The statistics `match` and `where` choose, in key order, remembered for the next identical query.
    private func select(match pattern: String?, requester: Requester, where conditions: [String], identity: String, version: UInt64)
        throws -> [StatisticHandle]
    {
        let selector: Selector
        do {
            selector = try Selector(match: pattern, where: conditions, holder: .request(requester))
        } catch {
            if error.quota { throw Failure(status: 429, code: .quota, message: error.message) }
            if error.busy { throw Failure(status: 503, code: .busy, message: error.message) }
            let code: APIErrorCode = error.message.contains("invalid regular expression") ? .invalidRegex : .badRequest
            throw Failure(status: 400, code: code, message: error.message)
        }
        // Matched outside the table's lock (the sampler writes under it), within a CPU budget:
        // sixteen costly patterns over a large table still take seconds.
        let live = context.table.handles()
        let start = Clock.threadCPU()
        var selected: [(handle: StatisticHandle, key: String)] = []
        for (position, (handle, descriptor)) in live.enumerated() {
            if position % 64 == 63 && Clock.threadCPU() - start > APIRouter.selectionBudget {
                throw Failure(
                    status: 503, code: .busy,
                    message:
                        "match and where too costly: \(position) of \(live.count) statistics matched in \(APIRouter.selectionBudget) s; narrow them (fewer or simpler patterns)"
                )
            }
            if selector.matches(descriptor) { selected.append((handle, descriptor.key.text)) }
        }
        let ordered = selected.sorted { $0.key < $1.key }.map(\.handle)
        context.listings.remember(identity, ordered, version: version)
        return ordered
    }

    private func parseKey(_ text: String) throws -> StatisticKey {
        guard let key = StatisticKey(parsing: text) else {
            throw Failure(
                status: 400, code: .invalidKey,
                message: "\"\(text)\" is not a statistic key: expected subsystem:resource:statistic with subsystem and statistic in [a-z0-9_]+")
        }
        return key
    }

    /// Who sent `request`, for the shares of what requests may use: the Unix socket's peer (root
    /// for uid 0; nobody when its credentials could not be read), root over TCP with the bearer
    /// token, else the TCP address.
    static func requester(_ request: HTTPRequest, token: String?) -> Requester {
        switch request.transport {
        case .unixSocket:
            guard let peer = request.peer else { return .nobody }
            return peer.uid == 0 ? .root : .user(Int(peer.uid))
        case .tcp:
            if let token, carries(token, request) { return .root }
            return .address(request.peerAddress ?? "unknown")
        }
    }

    private func requester(_ request: HTTPRequest) -> Requester { APIRouter.requester(request, token: context.writeToken) }

    /// Whether `request` carries `Authorization: Bearer TOKEN`, compared in constant time.
    static func carries(_ token: String, _ request: HTTPRequest) -> Bool {
        ConstantTime.equal(Array((request.headers["authorization"] ?? "").utf8), Array(("Bearer " + token).utf8))
    }

    /// Writes over TCP need the configured bearer token; over the Unix socket the socket's
    /// permissions decide.
    private func authorizeWrite(_ request: HTTPRequest) throws {
        guard request.transport == .tcp else { return }
        guard let token = context.writeToken else {
            throw Failure(status: 403, code: .forbidden, message: "TCP is read-only: write through the Unix socket, or configure http.tokenFile")
        }
        guard APIRouter.carries(token, request) else {
            throw Failure(status: 403, code: .forbidden, message: "writes over TCP need the bearer token of http.tokenFile")
        }
    }

    private func push(key text: String, _ request: HTTPRequest) throws -> HTTPResponse {
        try authorizeWrite(request)
        let key = try parseKey(text)
        let body: PushRequest
        try APIRouter.requireStrictJSON(request)
        // Unknown fields are refused, as everywhere in the API: a misspelt "unit" or a "labels"
        // the push cannot carry must not be dropped silently.
        if case .object(let fields)? = try? StrictJSON.parse(request.body) {
            let known: Set = ["value", "kind", "unit", "help"]
            if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
                throw Failure(
                    status: 400, code: .badRequest, message: "unknown field \"\(unknown)\" in a push; expected value, kind, unit and help")
            }
        }
        do {
            body = try JSONDecoder().decode(PushRequest.self, from: Data(request.body))
        } catch {
            throw Failure(
                status: 400, code: .badRequest,
                message: "expected a JSON body {\"value\": NUMBER, \"kind\": \"gauge\"|\"counter\", \"unit\": TEXT}")
        }
        guard let kind = StatisticKind(rawValue: body.kind ?? "gauge") else {
            throw Failure(status: 400, code: .badRequest, message: "kind \"\(body.kind ?? "")\": expected gauge or counter")
        }
        if let help = body.help, help.utf8.count > 512 {
            throw Failure(status: 400, code: .badRequest, message: "help is longer than 512 bytes")
        }
        // Shown in terminals and in /metrics' # HELP lines: no escape sequence, line break,
        // bidirectional override or zero-width character gets in (HiddenText).
        for (field, text) in [("resource", key.resource), ("help", body.help ?? ""), ("unit", body.unit ?? "")] {
            if let hidden = HiddenText.first(in: text) {
                throw Failure(
                    status: 400, code: .badRequest,
                    message: "\(field): \(hidden) is not allowed (control, format, bidirectional, zero-width and line separator characters are refused)")
            }
        }
        do {
            try context.pushed.push(
                key, value: body.value, kind: kind, unit: body.unit ?? "", help: body.help, caller: MonitorRoutes.caller(request))
        } catch {
            switch error {
            case .notOwner: throw Failure(status: 403, code: .forbidden, message: error.description)
            case .kindConflict: throw Failure(status: 409, code: .conflict, message: error.description)
            case .full: throw Failure(status: 503, code: .busy, message: error.description)
            case .quota: throw Failure(status: 429, code: .quota, message: error.description)
            default: throw Failure(status: 400, code: .badRequest, message: error.description)
            }
        }
        return try statistic(key: key.text)
    }

    private func unpush(key text: String, _ request: HTTPRequest) throws -> HTTPResponse {
        try authorizeWrite(request)
        let key = try parseKey(text)
        let removed: Bool
        do {
            removed = try context.pushed.remove(key, caller: MonitorRoutes.caller(request))
        } catch {
            throw Failure(status: 403, code: .forbidden, message: error.description)
        }
        guard removed else {
            throw Failure(status: 404, code: .unknownStatistic, message: "no pushed statistic \(key.text)")
        }
        // Its history goes with it: a key deleted and pushed again starts afresh.
        context.history?.forget(key.text)
        return HTTPResponse(status: 204, body: [])
    }

    private func statistic(key text: String) throws -> HTTPResponse {
        let key = try parseKey(text)
        guard let sample = context.table.sample(forKey: key.text) else {
            throw Failure(status: 404, code: .unknownStatistic, message: "no statistic \(key.text) (see GET /v1/statistics)")
        }
        return try json(APIRouter.info(sample))
    }

    /// Refuses a body that is not strict JSON (a key given twice, a trailing comma) with where
    /// the mistake is, before a lenient `JSONDecoder` would pick one of two values.
    static func requireStrictJSON(_ request: HTTPRequest) throws {
        do {
            try StrictJSON.validate(request.body)
        } catch {
            throw Failure(status: 400, code: .badRequest, message: "not valid JSON: \(error)")
        }
    }

    private func allow(_ request: HTTPRequest, _ methods: [String]) throws {
        guard methods.contains(request.method) else {
            throw Failure(
                status: 405, code: .methodNotAllowed,
                message: "\(request.method) is not allowed on \(request.path); allowed: \(methods.joined(separator: ", "))",
                headers: [("Allow", methods.joined(separator: ", "))])
        }
    }

    /// Unknown query parameters are refused: a misspelt filter must not silently match everything.
    private func acceptOnly(_ names: Set<String>, _ request: HTTPRequest) throws {
        if let unknown = request.queryNames.first(where: { !names.contains($0) }) {
            let accepted = names.isEmpty ? "none" : names.sorted().joined(separator: ", ")
            throw Failure(status: 400, code: .badRequest, message: "unknown query parameter \"\(unknown)\" (accepted: \(accepted))")
        }
    }

    private func json<Body: Encodable>(_ body: Body, status: Int = 200) throws -> HTTPResponse {
        HTTPResponse(status: status, body: Array(try APIRouter.encoder.encode(body)))
    }

    private static let encoder: JSONEncoder = WireJSON.encoder()

    static func error(_ failure: Failure) -> HTTPResponse {
        let body =
            (try? encoder.encode(ErrorResponse(code: failure.code, message: failure.message)))
            .map { Array($0) } ?? Array(#"{"error":{"code":"internal","message":"encoding failed"}}"#.utf8)
        return HTTPResponse(status: failure.status, body: body, headers: failure.headers)
    }

    static func info(_ sample: Sample) -> StatisticInfo {
        let descriptor = sample.descriptor
        func known(_ value: Double) -> Double? { value.isFinite ? value : nil }
        return StatisticInfo(
            key: descriptor.key.text, subsystem: descriptor.key.subsystem, resource: descriptor.key.resource,
            statistic: descriptor.key.statistic, kind: descriptor.kind.rawValue, unit: descriptor.unit,
            resolution: descriptor.resolution, upperBound: descriptor.upperBound, labels: descriptor.labels,
            help: descriptor.help, value: known(sample.value), total: known(sample.total),
            increase: known(sample.increase), time: known(sample.time))
    }

    static func info(_ status: SubsystemStatus) -> SubsystemInfo {
        SubsystemInfo(
            name: status.name, summary: status.summary, state: status.state.rawValue, reason: status.reason,
            periodSeconds: status.periodSeconds, statistics: status.statistics,
            lastCollected: status.lastCollected, lastDurationSeconds: status.lastDurationSeconds,
            collections: status.collections, failures: status.failures, plugin: status.plugin, runs: status.runs,
            malformedLines: status.malformedLines, lastError: status.lastError)
    }
}

/// Why a reload was refused: the file's error; the running configuration is kept.
public struct ReloadRefused: Error, Sendable {
    public let message: String
    /// The state database refused the reload's monitors.d changes (507 `storage`), rather than
    /// the file being refused (400).
    public let storage: Bool
    public init(message: String, storage: Bool = false) {
        self.message = message
        self.storage = storage
    }
}
