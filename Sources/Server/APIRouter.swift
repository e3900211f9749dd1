import FoundationEssentials
import ResmonAPI
import Statistics

/// What the routes need from the daemon, without knowing the daemon.
public struct APIContext: Sendable {
    public var table: SampleTable
    public var status: @Sendable () -> StatusResponse
    public var subsystems: @Sendable () -> [SubsystemStatus]

    public init(table: SampleTable, status: @escaping @Sendable () -> StatusResponse,
                subsystems: @escaping @Sendable () -> [SubsystemStatus]) {
        self.table = table
        self.status = status
        self.subsystems = subsystems
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
        do {
            if request.bodyTooLarge {
                throw Failure(status: 413, code: .payloadTooLarge, message: "the request body is larger than the server accepts")
            }
            return try route(request)
        } catch let failure as Failure {
            return APIRouter.error(failure)
        } catch {
            return APIRouter.error(Failure(status: 500, code: .internalError, message: "\(error)"))
        }
    }

    private func route(_ request: HTTPRequest) throws -> HTTPResponse {
        let path = request.path
        switch path {
        case "/healthz":
            try allow(request, ["GET", "HEAD"])
            try acceptOnly([], request)
            return try json(HealthResponse(status: "ok"))
        case "/v1/status":
            try allow(request, ["GET", "HEAD"])
            try acceptOnly([], request)
            return try json(context.status())
        case "/v1/subsystems":
            try allow(request, ["GET", "HEAD"])
            try acceptOnly([], request)
            return try json(SubsystemList(subsystems: context.subsystems().map(APIRouter.info)))
        case "/v1/statistics":
            try allow(request, ["GET", "HEAD"])
            try acceptOnly(["match"], request)
            return try listStatistics(match: request.query["match"])
        case "/metrics":
            try allow(request, ["GET", "HEAD"])
            let body = MetricsRenderer.render(samples: context.table.samples(), status: context.status(),
                                              subsystems: context.subsystems())
            return HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(body.utf8))
        default:
            if path.hasPrefix("/v1/statistics/") {
                try allow(request, ["GET", "HEAD"])
                try acceptOnly([], request)
                return try statistic(key: String(path.dropFirst("/v1/statistics/".count)))
            }
            throw Failure(status: 404, code: .notFound, message: "no such path: \(path)")
        }
    }

    private func listStatistics(match pattern: String?) throws -> HTTPResponse {
        var regex: POSIXRegex?
        if let pattern {
            do {
                regex = try POSIXRegex(pattern)
            } catch {
                throw Failure(status: 400, code: .invalidRegex, message: "match: \(error)")
            }
        }
        let samples = context.table.samples { key in regex?.matches(key) ?? true }
        return try json(StatisticList(statistics: samples.map(APIRouter.info)))
    }

    private func statistic(key text: String) throws -> HTTPResponse {
        guard let key = StatisticKey(parsing: text) else {
            throw Failure(status: 400, code: .invalidKey,
                          message: "\"\(text)\" is not a statistic key: expected subsystem:resource:statistic with subsystem and statistic in [a-z0-9_]+")
        }
        guard let sample = context.table.sample(forKey: key.text) else {
            throw Failure(status: 404, code: .unknownStatistic, message: "no statistic \(key.text) (see GET /v1/statistics)")
        }
        return try json(APIRouter.info(sample))
    }

    private func allow(_ request: HTTPRequest, _ methods: [String]) throws {
        guard methods.contains(request.method) else {
            throw Failure(status: 405, code: .methodNotAllowed,
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

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    static func error(_ failure: Failure) -> HTTPResponse {
        let body = (try? encoder.encode(ErrorResponse(code: failure.code, message: failure.message)))
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
        SubsystemInfo(name: status.name, summary: status.summary, state: status.state.rawValue, reason: status.reason,
                      periodSeconds: status.periodSeconds, statistics: status.statistics,
                      lastCollected: status.lastCollected, lastDurationSeconds: status.lastDurationSeconds,
                      collections: status.collections, failures: status.failures)
    }
}
