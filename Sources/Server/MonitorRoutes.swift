import Events
import FoundationEssentials
import Monitoring
import ResmonAPI
import ResmonSystem

/// `/v1/monitors…` and `/v1/events`.
package struct MonitorRoutes {
    let engine: MonitorEngine
    let authorizeWrite: (HTTPRequest) throws -> Void

    static let encoder: JSONEncoder = WireJSON.encoder()

    func json<Body: Encodable>(_ body: Body, status: Int = 200) throws -> HTTPResponse {
        HTTPResponse(status: status, body: Array(try MonitorRoutes.encoder.encode(body)))
    }

    /// Monitors are written by hand (WireWriter: JSONEncoder's bytes at a fraction of its cost;
    /// a bulk create's answer is about 600 bytes a monitor).
    func json(_ body: MonitorList, status: Int = 200) throws -> HTTPResponse {
        HTTPResponse(status: status, body: try body.wireJSON())
    }

    func json(_ body: MonitorInfo, status: Int = 200) throws -> HTTPResponse {
        var writer = WireWriter(capacity: 1024)
        try body.write(to: &writer)
        return HTTPResponse(status: status, body: writer.bytes)
    }

    /// The caller's uid: the peer's over the Unix socket; root for a TCP write with the token.
    /// A Unix-socket peer whose credentials could not be read is nobody (65534), never root.
    static func caller(_ request: HTTPRequest) -> Int {
        if let peer = request.peer { return Int(peer.uid) }
        return request.transport == .tcp ? 0 : 65534
    }

    static func failure(_ error: MonitorError) -> APIRouter.Failure {
        switch error.kind {
        case .invalid: APIRouter.Failure(status: 400, code: .badRequest, message: error.message)
        case .notFound: APIRouter.Failure(status: 404, code: .unknownMonitor, message: error.message)
        case .conflict: APIRouter.Failure(status: 409, code: .conflict, message: error.message)
        case .busy: APIRouter.Failure(status: 503, code: .busy, message: error.message)
        case .forbidden: APIRouter.Failure(status: 403, code: .forbidden, message: error.message)
        case .storage: APIRouter.Failure(status: 507, code: .storage, message: error.message)
        case .quota: APIRouter.Failure(status: 429, code: .quota, message: error.message)
        }
    }

    /// The `/v1/monitors…` routes (APIRoute.table); the method is one the route allows.
    func route(_ request: HTTPRequest, _ handler: APIRoute.Handler, id: String) throws -> HTTPResponse {
        do {
            switch handler {
            case .monitors:
                if request.method == "POST" { return try create(request) }
                return try json(MonitorList(monitors: engine.list()))
            case .monitor:
                return try monitor(request, id: id)
            case .monitorState:
                guard let monitor = engine.monitor(id) else { throw MonitorError(kind: .notFound, message: "no monitor \(id)") }
                return try json(monitor.state)
            case .monitorCapture:
                guard let readings = engine.captured(id) else { throw MonitorError(kind: .notFound, message: "no monitor \(id)") }
                return try json(["readings": readings])
            default:
                let verb = request.path.split(separator: "/").last.map(String.init) ?? ""
                guard let action = MonitorEngine.Action(rawValue: verb) else { throw APIRouter.notFound(request.path) }
                try authorizeWrite(request)
                return try json(try engine.perform(action, on: id, caller: MonitorRoutes.caller(request)))
            }
        } catch let error as MonitorError {
            throw MonitorRoutes.failure(error)
        }
    }

    private func monitor(_ request: HTTPRequest, id: String) throws -> HTTPResponse {
        switch request.method {
        case "PATCH":
            try authorizeWrite(request)
            let body: JSONValue
            do {
                body = try StrictJSON.parse(request.body)
            } catch {
                throw APIRouter.Failure(status: 400, code: .badRequest, message: "not valid JSON: \(error)")
            }
            guard case .object(let patch) = body else {
                throw APIRouter.Failure(status: 400, code: .badRequest, message: "expected a JSON object of the fields to change")
            }
            return try json(try engine.update(id, patch: patch, caller: MonitorRoutes.caller(request)))
        case "DELETE":
            try authorizeWrite(request)
            try engine.delete(id, caller: MonitorRoutes.caller(request))
            return HTTPResponse(status: 204, body: [])
        default:
            guard let monitor = engine.monitor(id) else { throw MonitorError(kind: .notFound, message: "no monitor \(id)") }
            return try json(monitor)
        }
    }

    private func create(_ request: HTTPRequest) throws -> HTTPResponse {
        try authorizeWrite(request)
        let specs: [MonitorSpec]
        let single: Bool
        do {
            try StrictJSON.validate(request.body)
        } catch {
            throw APIRouter.Failure(status: 400, code: .badRequest, message: "not valid JSON: \(error)")
        }
        // The body as SpecReader reads it; what it does not read JSONDecoder does (and refuses).
        if let read = SpecReader.specs(request.body) {
            specs = read.specs
            single = read.single
        } else {
            do {
                (specs, single) = try MonitorRoutes.decode(request.body)
            } catch let error as MonitorSpec.UnknownField {
                throw APIRouter.Failure(status: 400, code: .badRequest, message: error.description)
            } catch let error as DecodingError {
                throw APIRouter.Failure(status: 400, code: .badRequest, message: StrictJSON.describe(error))
            } catch {
                throw APIRouter.Failure(status: 400, code: .badRequest, message: "expected a monitor spec (a JSON object) or an array of them")
            }
        }
        guard !specs.isEmpty, specs.count <= 100_000 else {
            throw APIRouter.Failure(status: 400, code: .badRequest, message: "between 1 and 100000 monitors per request")
        }
        let created = try engine.createEncoded(specs, owner: MonitorRoutes.caller(request))
        // Each spec as it was stored, written as it is (WireWriter: JSONEncoder's bytes).
        var writer = WireWriter(capacity: 64 + created.monitors.count * 640)
        if !single { writer.raw(MonitorRoutes.listStart) }
        for (position, monitor) in created.monitors.enumerated() {
            if position > 0 { writer.raw(MonitorRoutes.comma) }
            try monitor.write(to: &writer, spec: created.specJSON[position])
        }
        if !single { writer.raw(MonitorRoutes.listEnd) }
        return HTTPResponse(status: 201, body: writer.bytes)
    }

    static let listStart = Array(#"{"monitors":["#.utf8)
    static let listEnd = Array("]}".utf8)
    static let comma = Array(",".utf8)

    /// A body as JSONDecoder reads it: one spec, or an array of them.
    package static func decode(_ bytes: [UInt8]) throws -> (specs: [MonitorSpec], single: Bool) {
        let body = Data(bytes)
        if bytes.first(where: { $0 != 0x20 && $0 != 0x0a && $0 != 0x09 && $0 != 0x0d }) == UInt8(ascii: "[") {
            return (try JSONDecoder().decode([MonitorSpec].self, from: body), false)
        }
        return ([try JSONDecoder().decode(MonitorSpec.self, from: body)], true)
    }

    /// `GET /v1/events`: read from the event log's store, not through the engine.
    static func events(_ request: HTTPRequest, store: EventStore, requester: Requester) throws -> HTTPResponse {
        let after =
            try request.query["after"].map { text -> Int64 in
                guard let value = Int64(text), value >= 0 else {
                    throw APIRouter.Failure(status: 400, code: .badRequest, message: "after: expected an event id, got \"\(text)\"")
                }
                return value
            } ?? 0
        let limit =
            try request.query["limit"].map { text -> Int in
                guard let value = Int(text), (1...10_000).contains(value) else {
                    throw APIRouter.Failure(status: 400, code: .badRequest, message: "limit: expected 1 to 10000, got \"\(text)\"")
                }
                return value
            } ?? 100
        let now = EventFilter.now()
        let filter = try MonitorRoutes.filter(request, now: now, requester: requester)
        func time(_ name: String) throws -> Double? {
            guard let text = request.query[name] else { return nil }
            guard let value = EventFilter.time(text, now: now) else {
                throw APIRouter.Failure(
                    status: 400, code: .badRequest, message: "\(name): expected seconds since the epoch, RFC 3339 or relative like -1h, got \"\(text)\"")
            }
            _ = try InputNumber.time(value, field: name, text: text)  // 1970 to 9999, as every route
            return value
        }
        let order = request.query["order"] ?? "asc"
        guard order == "asc" || order == "desc" else {
            throw APIRouter.Failure(status: 400, code: .badRequest, message: "order: expected asc or desc, got \"\(order)\"")
        }
        let scan = try store.scan(
            after: after, since: try time("since"), until: try time("until"),
            newestFirst: order == "desc", limit: limit, filter: filter, budget: MonitorRoutes.scanBudget)
        let events = scan.events
        if let cutAfter = scan.cutAfter {
            // Oldest first, the page so far and where to read on; newest first has no cursor
            // to read on from (`after` is its lower end), so the caller narrows the query.
            guard order == "asc" else {
                throw APIRouter.Failure(
                    status: 503, code: .busy,
                    message:
                        "filter too costly: \(scan.scanned) events read in \(MonitorRoutes.scanBudget) s without filling the page; narrow it (since, until, fewer or simpler patterns)"
                )
            }
            let list = EventList(events: events, next: cutAfter, partial: true)
            return HTTPResponse(status: 200, body: Array(try MonitorRoutes.encoder.encode(list)))
        }
        let next = order == "desc" ? after : (events.last?.id ?? after)
        return HTTPResponse(status: 200, body: Array(try MonitorRoutes.encoder.encode(EventList(events: events, next: next))))
    }

    /// The CPU seconds one `GET /v1/events` may spend reading and filtering before it answers
    /// with what it found (docs/API.md).
    static let scanBudget = 2.0

    /// The `filter` (and `monitor`) query parameters as one compiled filter.
    static func filter(_ request: HTTPRequest, now: Double, requester: Requester) throws -> EventFilter? {
        var filterText = request.query["filter"] ?? ""
        if let monitor = request.query["monitor"] {
            let escaped = monitor.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\\\"")
            let quoted = "monitorId = \"" + escaped + "\""
            filterText = filterText.isEmpty ? quoted : "(\(filterText)) && \(quoted)"
        }
        do {
            return filterText.isEmpty ? nil : try EventFilter(filterText, now: now, holder: .request(requester))
        } catch {
            if error.quota { throw APIRouter.Failure(status: 429, code: .quota, message: error.description) }
            if error.busy { throw APIRouter.Failure(status: 503, code: .busy, message: error.description) }
            throw APIRouter.Failure(status: 400, code: .badRequest, message: error.description)
        }
    }

    /// `GET /v1/events/stream`: server-sent events after `Last-Event-ID` or `after` (from now on
    /// when neither is given), matching `filter`, with a heartbeat comment every `heartbeat` s.
    static func stream(_ request: HTTPRequest, hub: EventStreamHub, requester: Requester) throws -> HTTPResponse {
        func eventID(_ text: String, _ name: String) throws -> Int64 {
            guard let value = Int64(text.filter { $0 != " " }), value >= 0 else {
                // The value is echoed only when it is printable ASCII: a header's bytes that are
                // not UTF-8 arrive as U+FFFD, which is not what was sent.
                let shown = text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F } && text.count <= 64
                let got = shown ? "\"\(text)\"" : "a value that is not printable ASCII (or longer than 64 bytes)"
                throw APIRouter.Failure(status: 400, code: .badRequest, message: "\(name): expected an event id (decimal digits), got \(got)")
            }
            return value
        }
        var after = try request.query["after"].map { try eventID($0, "after") }
        if let resume = request.headers["last-event-id"], !resume.isEmpty { after = try eventID(resume, "Last-Event-ID") }
        let heartbeat =
            try request.query["heartbeat"].map { text -> Double in
                guard let value = Double(text), value >= 0.1, value <= 300 else {
                    throw APIRouter.Failure(status: 400, code: .badRequest, message: "heartbeat: expected 0.1 to 300 seconds, got \"\(text)\"")
                }
                return value
            } ?? 15
        let filter = try MonitorRoutes.filter(request, now: EventFilter.now(), requester: requester)
        if let refusal = request.streamSlot?.claim() {
            throw APIRouter.Failure(status: refusal.status, code: refusal.status == 429 ? .quota : .busy, message: refusal.message)
        }
        let stream: ServerStream
        do {
            stream = try hub.open(after: after, filter: filter, heartbeat: heartbeat)
        } catch {
            switch error {
            case .stopping: throw APIRouter.Failure(status: 503, code: .busy, message: "resmond is stopping; reconnect to the next one")
            case .tooMany: throw APIRouter.Failure(status: 503, code: .busy, message: "too many event streams are open")
            case .noMemory: throw APIRouter.Failure(status: 503, code: .busy, message: "no memory for another event stream")
            }
        }
        return HTTPResponse(
            status: 200, contentType: "text/event-stream", body: [],
            headers: [("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no"), ("Connection", "close")],
            stream: stream)
    }
}
