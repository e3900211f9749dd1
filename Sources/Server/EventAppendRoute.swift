import Events
import FoundationEssentials
import Monitoring
import ResmonAPI
import Statistics

/// `POST /v1/events`: an application appends an event its own monitor found (libresmon's inline
/// monitors with `forward`). Any writer may (the Unix socket's users; TCP with the bearer
/// token); resmond stamps the event as the caller's (`labels.source = "application"`,
/// `labels.uid`), takes only monitor event types, refuses the ids of its own monitors, and
/// bounds the rate with the event storm limits (docs/EVENTS.md, "Application events").
struct EventAppendRoute {
    let engine: MonitorEngine

    /// The largest body accepted: an event's fields are bounded well below it.
    static let bodyLimit = 8192
    static let textLimits = ["monitorName": 256, "key": 256, "message": 1024]
    /// How far an event's time may lie from resmond's clock: a day back, five minutes ahead.
    static let pastLimit = 86_400.0
    static let futureLimit = 300.0
    /// What an application's monitor may report: what resmond's monitors raise, and their cancel.
    static let types: [EventType.Kind] = [
        .above, .atOrAbove, .at, .atOrBelow, .below, .notAtBelow, .notAtAbove, .counterRateExceeded, .watermark, .canceled
    ]
    static let fields: Set = ["type", "severity", "monitorId", "monitorName", "key", "value", "threshold", "message", "time"]

    func append(_ request: HTTPRequest, caller: Int, now: Double) throws -> EventRecord {
        let body = try EventAppendRoute.decode(request)
        guard let type = EventType(rawValue: body.type).kind, EventAppendRoute.types.contains(type) else {
            throw EventAppendRoute.invalid("type \"\(body.type)\": expected \(EventAppendRoute.types.map(\.rawValue).joined(separator: ", "))")
        }
        let severityText = body.severity ?? (type == .canceled ? "notice" : "warning")
        guard let severity = Severity(rawValue: severityText).kind else {
            throw EventAppendRoute.invalid("severity \"\(severityText)\": expected \(Severity.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let id = body.monitorId
        guard (1...128).contains(id.utf8.count), id.utf8.allSatisfy(EventAppendRoute.isIDByte) else {
            throw EventAppendRoute.invalid("monitorId: expected 1 to 128 of A-Z a-z 0-9 . _ : -")
        }
        for (field, text) in [("monitorName", body.monitorName), ("key", body.key), ("message", body.message)] {
            guard let text else { continue }
            let limit = EventAppendRoute.textLimits[field] ?? 256
            guard text.utf8.count <= limit else { throw EventAppendRoute.invalid("\(field) is longer than \(limit) bytes") }
            // Shown in terminals, syslog lines, webhooks and Alertmanager: no escape sequence, line
            // break, bidirectional override or zero-width character gets in, as for a push (HiddenText).
            if let hidden = HiddenText.first(in: text) {
                throw EventAppendRoute.invalid(
                    "\(field): \(hidden) is not allowed (control, format, bidirectional, zero-width and line separator characters are refused)")
            }
        }
        // A statistic key, parsed as a push's: an application's monitor names what it watches
        // (its claim, as `source: application` says), never a malformed `statistic` label.
        var key = body.key
        if let text = body.key {
            guard let parsed = StatisticKey(parsing: text) else {
                throw EventAppendRoute.invalid(
                    "key: \"\(text)\" is not a statistic key: expected subsystem:resource:statistic with subsystem and statistic in [a-z0-9_]+")
            }
            key = parsed.text
        }
        guard !body.message.isEmpty else { throw EventAppendRoute.invalid("message: required, 1 to 1024 bytes") }
        for (field, number) in [("value", body.value), ("threshold", body.threshold)] where number.map({ !$0.isFinite }) ?? false {
            throw EventAppendRoute.invalid("\(field): expected a finite number")
        }
        let time = body.time ?? now
        guard time.isFinite, time >= now - EventAppendRoute.pastLimit, time <= now + EventAppendRoute.futureLimit else {
            throw EventAppendRoute.invalid("time: expected seconds since the epoch within a day before and five minutes after resmond's clock")
        }
        let event = EventRecord(
            id: 0, time: time, code: type.code, type: EventType(type), severity: Severity(severity), monitorId: id,
            monitorName: body.monitorName, key: key, value: body.value, threshold: body.threshold, host: engine.hostName,
            message: body.message, cancels: nil, labels: engine.identity.labeling(["source": "application", "uid": String(caller)]), annotations: [:])
        do {
            return try engine.appendApplicationEvent(event, caller: caller, now: now)
        } catch {
            throw MonitorRoutes.failure(error)
        }
    }

    private static func decode(_ request: HTTPRequest) throws -> EventAppendRequest {
        guard request.body.count <= bodyLimit else {
            throw APIRouter.Failure(status: 413, code: .payloadTooLarge, message: "an event's body is larger than \(bodyLimit) bytes")
        }
        try APIRouter.requireStrictJSON(request)
        if case .object(let given)? = try? StrictJSON.parse(request.body),
            let unknown = given.keys.sorted().first(where: { !fields.contains($0) })
        {
            throw invalid("unknown field \"\(unknown)\" in an event; expected \(fields.sorted().joined(separator: ", "))")
        }
        do {
            return try JSONDecoder().decode(EventAppendRequest.self, from: Data(request.body))
        } catch {
            throw invalid(
                "expected a JSON body {\"type\": TYPE, \"monitorId\": ID, \"message\": TEXT, \"severity\", \"monitorName\", \"key\", "
                    + "\"value\", \"threshold\", \"time\"}")
        }
    }

    private static func isIDByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "-"): true
        default: false
        }
    }

    private static func invalid(_ message: String) -> APIRouter.Failure {
        APIRouter.Failure(status: 400, code: .badRequest, message: message)
    }
}
