import Foundation
import History
import Monitoring
import ResmonAPI
import ResmonTestSupport
import Statistics
import Storage
import Testing

@testable import Server  // PeerCredentials' memberwise init

/// An `APIRouter` over real parts, as resmond wires them, without a daemon or a socket: a
/// sample table with a few statistics, pushed statistics, a monitor engine and its event log on a
/// temporary state database, and a history store that has archived the statistics once.
final class RouterRig: Sendable {
    let directory = TemporaryDirectory("resmon-router")
    let table = SampleTable()
    let pushed: PushedStatistics
    let database: StateDatabase
    let engine: MonitorEngine
    let history = HistoryStore(settings: .init(step: 5))
    let router: APIRouter

    /// - Parameter writeToken: the bearer token that authorizes writes over TCP; nil: TCP is read-only.
    init(writeToken: String? = nil) throws {
        pushed = PushedStatistics(table: table)
        database = try StateDatabase(path: directory.file("state.db"), migrations: MonitorStore.migrations)
        engine = MonitorEngine(database: database, table: table, step: 5, host: "test")
        let used = table.register(
            StatisticDescriptor(
                key: StatisticKey(parsing: "memory:host:used_bytes")!, kind: .gauge, unit: "bytes", help: "Memory in use."))
        let received = table.register(
            StatisticDescriptor(
                key: StatisticKey(parsing: "net:eth0:receive_bytes_total")!, kind: .counter, unit: "bytes",
                labels: ["device": "eth0"], help: "Bytes received."))
        let sent = table.register(
            StatisticDescriptor(
                key: StatisticKey(parsing: "net:lo:receive_bytes_total")!, kind: .counter, unit: "bytes",
                labels: ["device": "lo"], help: "Bytes received."))
        let history = self.history
        let table = self.table
        for (index, time) in stride(from: 1_800_000_005.0, through: 1_800_000_020, by: 5).enumerated() {
            var batch = SampleBatch()
            batch.record(used, 1_000 + Double(index))
            batch.record(received, Double(index) * 50)
            batch.record(sent, Double(index) * 7)
            table.apply(batch, time: time, monotonicTime: time)
            history.record(table) { [:] }
        }
        let status = RouterRig.status(table)
        router = APIRouter(
            context: APIContext(
                table: table, status: { status }, subsystems: { [] }, pushed: pushed, writeToken: writeToken,
                history: history, monitors: engine))
    }

    static func status(_ table: SampleTable) -> StatusResponse {
        StatusResponse(
            version: "test", pid: 1, startedAt: 1_800_000_000, uptimeSeconds: 20, stepSeconds: 5, cycles: 4,
            statistics: 3, subsystemsAvailable: 0, subsystemsUnavailable: 0, stateDirectory: "/nonexistent",
            configDirectory: "/nonexistent", socket: "/nonexistent/resmond.sock", listen: nil, busy: false,
            cpuSecondsTotal: 0, residentBytes: 0, lastSampleCPUSeconds: nil)
    }

    /// Sends one request; `uid` is the Unix-socket peer's (nil: its credentials could not be read).
    func send(
        _ method: String, _ path: String, query: [(String, String)] = [], body: String? = nil, uid: UInt32? = 0,
        transport: HTTPRequest.Transport = .unixSocket, headers: [String: String] = [:], bodyTooLarge: Bool = false,
        malformedTarget: String? = nil
    ) -> Answer {
        var first: [String: String] = [:]
        for (name, value) in query where first[name] == nil { first[name] = value }
        let request = HTTPRequest(
            method: method, path: path, query: first, queryItems: query, headers: headers, body: Array((body ?? "").utf8),
            bodyTooLarge: bodyTooLarge, transport: transport,
            peer: transport == .unixSocket ? uid.map { PeerCredentials(uid: $0, gid: $0, pid: 4242) } : nil,
            malformedTarget: malformedTarget)
        return Answer(router.handle(request))
    }
}

/// A response as a test reads it.
struct Answer: CustomStringConvertible {
    let status: Int
    let text: String
    let headers: [(String, String)]
    let contentType: String

    init(_ response: HTTPResponse) {
        status = response.status
        text = String(decoding: response.body, as: UTF8.self)
        headers = response.headers
        contentType = response.contentType
    }

    var description: String { "\(status) \(text)" }

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }

    func decode<Body: Decodable>(_ type: Body.Type) throws -> Body { try JSONDecoder().decode(type, from: Data(text.utf8)) }

    /// The error's code and message when the body is exactly `{"error": {"code", "message"}}`
    /// (no other member at either level), else nil.
    var error: (code: String, message: String)? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
            object.keys.sorted() == ["error"], let detail = object["error"] as? [String: Any],
            detail.keys.sorted() == ["code", "message"], let code = detail["code"] as? String,
            let message = detail["message"] as? String
        else { return nil }
        return (code, message)
    }

    /// Whether this is an error of that status and code, in the documented shape.
    func isError(_ status: Int, _ code: APIErrorCode) -> Bool {
        self.status == status && contentType == "application/json" && error?.code == code.rawValue
    }
}
