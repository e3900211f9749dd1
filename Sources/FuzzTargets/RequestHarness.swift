import FoundationEssentials
import History
import Monitoring
import ResmonAPI
import Server
import Statistics
import Storage

/// A request as it arrives: `METHOD TARGET` on the first line (the target as sent, before any
/// decoding), the body after it. The target goes through what resmond does to it (refusing
/// control bytes and non-UTF-8, decoding the query, percent-decoding the path as libmicrohttpd
/// does), then the request through the router over real parts (RouterRig's wiring): reads
/// only, so that nothing accumulates between inputs. A body is also validated as
/// `POST /v1/monitors` validates it, without storing the monitors.
public func fuzzRequestPath(_ data: [UInt8]) {
    let newline = data.firstIndex(of: 0x0a) ?? data.endIndex
    let line = data[..<newline]
    let body = newline < data.endIndex ? Array(data[(newline + 1)...]) : []
    let space = line.firstIndex(of: 0x20)
    let method = space.map { String(decoding: line[..<$0], as: UTF8.self) } ?? "GET"
    let target = Array(space.map { line[line.index(after: $0)...] } ?? line)

    var malformed = HTTPRequest.problem(inTarget: target)
    let items = HTTPRequest.queryItems(inTarget: target)
    if malformed == nil, items.count > HTTPRequest.maxQueryParameters { malformed = "too many parameters" }
    var query: [String: String] = [:]
    for (name, value) in items where query[name] == nil { query[name] = value }
    let request = HTTPRequest(
        method: method, path: RequestRig.decodedPath(target), query: query, queryItems: items, body: body,
        peer: PeerCredentials(uid: 1000, gid: 1000, pid: 4242), malformedTarget: malformed)
    if ["GET", "HEAD"].contains(method) || (method == "POST" && request.path == "/v1/monitors/test") {
        _ = RequestRig.shared?.router.handle(request)
    }
    if !body.isEmpty { RequestRig.validateSpecs(body) }
}

/// The router over a sample table, history that has recorded it, and a monitor engine on a
/// state database in the process's scratch directory.
final class RequestRig: Sendable {
    let router: APIRouter
    let engine: MonitorEngine

    static let shared: RequestRig? = try? RequestRig()

    init() throws {
        let table = FuzzStatistics.table
        let database = try StateDatabase(path: Scratch.directory + "/state.db", migrations: MonitorStore.migrations)
        engine = MonitorEngine(database: database, table: table, step: 5, host: "fuzz")
        let history = HistoryStore(settings: .init(step: 5))
        history.record(table) { [:] }
        let status = FuzzStatistics.status
        router = APIRouter(
            context: APIContext(
                table: table, status: { status }, subsystems: { [] }, pushed: PushedStatistics(table: table), history: history,
                monitors: engine))
    }

    /// The path as libmicrohttpd hands it over: `%XX` decoded (an invalid escape kept as sent),
    /// `+` kept, cut at the query and at a decoded NUL (a C string).
    static func decodedPath(_ target: [UInt8]) -> String {
        var bytes: [UInt8] = []
        var index = 0
        while index < target.count, target[index] != UInt8(ascii: "?") {
            if target[index] == UInt8(ascii: "%"), index + 2 < target.count, let high = hex(target[index + 1]), let low = hex(target[index + 2]) {
                bytes.append(high << 4 | low)
                index += 3
            } else {
                bytes.append(target[index])
                index += 1
            }
        }
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// `POST /v1/monitors`' validation (MonitorRoutes.create, MonitorEngine.createEncoded) up to
    /// the store: strict JSON, SpecReader or JSONDecoder, each spec made a definition and
    /// encoded as the monitors' table stores it. SpecReader must read what JSONDecoder reads
    /// (its contract): a difference is a finding.
    static func validateSpecs(_ body: [UInt8]) {
        guard (try? StrictJSON.validate(body)) != nil else { return }
        let fast = SpecReader.specs(body)
        let decoded = try? MonitorRoutes.decode(body)
        if let fast {
            guard let decoded, decoded.specs == fast.specs, decoded.single == fast.single else {
                fatalError("SpecReader read \(fast.specs) but JSONDecoder \(decoded.map { "\($0.specs)" } ?? "refused the body")")
            }
        }
        guard let specs = (fast ?? decoded)?.specs, !specs.isEmpty, specs.count <= 100 else { return }
        for (position, spec) in specs.enumerated() {
            var spec = spec
            if spec.id == nil { spec.id = "fuzz-\(position)" }
            for owner in [0, 1000] {
                guard
                    let definition = try? MonitorDefinition(
                        spec: spec, owner: owner, createdAt: 1_800_000_000, step: 5, table: FuzzStatistics.table, lenient: owner == 0)
                else { continue }
                _ = try? definition.spec.wireJSON()
            }
        }
    }
}
