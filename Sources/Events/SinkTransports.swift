import Dispatch
import FoundationEssentials
import HTTPClient
import ResmonAPI
import ResmonSystem
import Storage

#if canImport(Glibc)
    import Glibc
#endif

/// `2026-11-22T02:11:16.357549Z`: RFC 3339 in UTC with microseconds.
func rfc3339(_ time: Double) -> String {
    var seconds = time_t(time.rounded(.down))
    var parts = tm()
    gmtime_r(&seconds, &parts)
    let micros = Int(((time - time.rounded(.down)) * 1e6).rounded(.down))
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    let fraction = String(micros + 1_000_000).dropFirst()
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(fraction)Z"
}

private let jsonEncoder: JSONEncoder = WireJSON.encoder()

/// A number as text without a needless `.0`.
private func numberText(_ value: Double?) -> String {
    guard let value else { return "" }
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return String(value)
}

// MARK: - syslog

/// RFC 5424 over a datagram socket: `<PRI>1 TIME HOST APP PID TYPE [resmon@32473 …][labels@32473 …] MESSAGE`.
/// Sendable by hand: `socket` is opened and used by the one sink thread that calls `deliver`.
final class SyslogTransport: SinkTransport, @unchecked Sendable {
    // `descriptor` is only touched by the sink's own thread.
    private let target: SinkConfiguration.SyslogTarget
    private let facility: Int
    private let appName: String
    private let host: String
    private var socket: DatagramSocket?

    /// 32473 is the private enterprise number RFC 5612 sets aside for documentation and examples.
    static let enterprise = "32473"

    init(target: SinkConfiguration.SyslogTarget, facility: Int, appName: String, host: String) {
        self.target = target
        self.facility = facility
        self.appName = appName
        self.host = host
    }

    func deliver(_ event: EventRecord, owner _: Int) -> DeliveryResult {
        let line = Array(SyslogTransport.format(event, facility: facility, appName: appName, host: host).utf8)
        if socket == nil, let failure = open() { return .retry(failure) }
        do {
            try socket?.send(line)
        } catch {
            socket = nil
            return .retry("syslog: \(error)")
        }
        return .delivered
    }

    /// Connects the datagram socket; the reason when it cannot.
    private func open() -> String? {
        switch target {
        case .unixSocket(let path):
            do {
                socket = try DatagramSocket(unixPath: path)
            } catch {
                return "\(path): \(error)"
            }
        case .udp(let host, let port):
            do {
                guard let connected = try DatagramSocket(udpHost: host, port: port) else { return "\(host): not a numeric address" }
                socket = connected
            } catch {
                return "\(host):\(port): \(error)"
            }
        }
        return nil
    }

    static func format(_ event: EventRecord, facility: Int, appName: String, host: String) -> String {
        let severity = event.severity.level ?? Severity.Kind.info.level
        var fields: [(String, String)] = [("id", String(event.id)), ("code", String(event.code)), ("severity", event.severity.rawValue)]
        if let id = event.monitorId { fields.append(("monitorId", id)) }
        if let name = event.monitorName { fields.append(("monitorName", name)) }
        if let key = event.key { fields.append(("key", key)) }
        if event.value != nil { fields.append(("value", numberText(event.value))) }
        if event.threshold != nil { fields.append(("threshold", numberText(event.threshold))) }
        if let cancels = event.cancels { fields.append(("cancels", String(cancels))) }
        var data = element("resmon@" + enterprise, fields)
        if !event.labels.isEmpty { data += element("labels@" + enterprise, event.labels.sorted { $0.key < $1.key }) }
        let header =
            "<\(facility * 8 + severity)>1 \(rfc3339(event.time)) \(token(host, 255)) \(token(appName, 48)) \(getpid()) \(token(event.type.rawValue, 32)) "
        return header + data + " " + event.message
    }

    /// An SD-ELEMENT; names are printable ASCII without `= ] "` or space (at most 32), values escape `" \ ]`.
    private static func element(_ id: String, _ parameters: [(String, String)]) -> String {
        "[" + id
            + parameters.map { name, value in
                var escaped = ""
                for character in value {
                    if character == "\"" || character == "\\" || character == "]" { escaped.append("\\") }
                    escaped.append(character)
                }
                return " " + token(name, 32) + "=\"" + escaped + "\""
            }.joined() + "]"
    }

    /// A header field: printable ASCII without spaces (`-` when empty).
    private static func token(_ text: String, _ limit: Int) -> String {
        let kept = text.unicodeScalars.map { scalar -> Character in
            scalar.value > 32 && scalar.value < 127 && scalar != "=" && scalar != "]" && scalar != "\"" ? Character(scalar) : "_"
        }
        return kept.isEmpty ? "-" : String(kept.prefix(limit))
    }
}

// MARK: - HTTP

/// One HTTP POST through libcurl (loaded on first use).
func post(url: String, body: [UInt8], headers: [String], timeoutSeconds: Double) -> (status: Int, body: String, error: String?) {
    do {
        let answer = try HTTPClient.fetch(
            url, method: "POST", body: body,
            headers: ["Content-Type: application/json", "User-Agent: resmond/\(ResmonVersion.current)"] + headers,
            timeoutMilliseconds: Int(timeoutSeconds * 1000), maximumBytes: 1 << 20)
        return (answer.status, String(decoding: answer.body.prefix(512), as: UTF8.self), nil)
    } catch {
        return (0, "", error.description)
    }
}

/// How an HTTP answer counts for delivery: 2xx delivered; 408, 429, 5xx and no answer retried;
/// any other status rejected.
func outcome(_ answer: (status: Int, body: String, error: String?), url: String) -> DeliveryResult {
    if let error = answer.error { return .retry("\(url): \(error)") }
    switch answer.status {
    case 200..<300: return .delivered
    case 408, 429, 500...: return .retry("\(url) answered \(answer.status)")
    default: return .rejected("\(url) answered \(answer.status): \(answer.body)")
    }
}

/// A JSON POST per event, with `X-Resmon-Event-Id` for the receiver to drop duplicates.
final class WebhookTransport: SinkTransport {
    let url: String
    let headers: [String]
    let timeoutSeconds: Double

    init(url: String, headers: [String: String], timeoutSeconds: Double) {
        self.url = url
        self.headers = headers.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        self.timeoutSeconds = timeoutSeconds
    }

    func deliver(_ event: EventRecord, owner _: Int) -> DeliveryResult {
        guard let body = try? jsonEncoder.encode(event) else { return .rejected("the event cannot be encoded") }
        let answer = post(
            url: url, body: Array(body), headers: headers + ["X-Resmon-Event-Id: \(event.id)"],
            timeoutSeconds: timeoutSeconds)
        return outcome(answer, url: url)
    }
}

// MARK: - Alertmanager

/// Alertmanager API v2 (`POST /api/v2/alerts`): a raise starts a firing alert, re-sent every
/// `resendSeconds` with `endsAt` four intervals ahead (as Prometheus does, so the alert resolves
/// by itself if resmond goes away); a cancel sends it with `endsAt` set to the cancel's time.
/// Firing alerts are kept in `sink_alerts` so that re-sending survives a restart, each under its
/// owner's uid and its monitor id: an application's `monitorId` is in its own uid's namespace, so
/// another user's cancel or raise of the same id never resolves or replaces root's alert.
/// Sendable by hand: `lastResend` is read and written by the one sink thread that calls
/// `deliver` and `idle`; firing alerts live in the database.
final class AlertmanagerTransport: SinkTransport, @unchecked Sendable {
    // `lastResend` is only touched by the sink's own thread.
    struct Alert: Codable, Sendable {
        var labels: [String: String]
        var annotations: [String: String]
        var startsAt: String
        var endsAt: String?
        var generatorURL: String?
    }

    let sink: String
    let endpoint: String
    let resendSeconds: Double
    let timeoutSeconds: Double
    let host: String
    let database: StateDatabase
    let log: @Sendable (String) -> Void
    private var lastResend = 0.0

    init(
        sink: String, url: String, resendSeconds: Double, timeoutSeconds: Double, host: String, database: StateDatabase,
        log: @escaping @Sendable (String) -> Void
    ) {
        self.sink = sink
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        endpoint = base + "/api/v2/alerts"
        self.resendSeconds = resendSeconds
        self.timeoutSeconds = timeoutSeconds
        self.host = host
        self.database = database
        self.log = log
    }

    func deliver(_ event: EventRecord, owner: Int) -> DeliveryResult {
        guard let monitor = event.monitorId else { return .delivered }
        if event.type.isCancel {
            guard var alert = firing(owner: owner, monitor: monitor) else { return .delivered }
            alert.endsAt = rfc3339(event.time)
            let result = send([alert])
            if result == .delivered || result.isRejected { forget(owner: owner, monitor: monitor) }
            return result
        }
        guard event.type.isRaise else { return .delivered }
        let alert = AlertmanagerTransport.alert(for: event, host: host)
        var sent = alert
        sent.endsAt = rfc3339(EventFilter.now() + 4 * resendSeconds)
        let result = send([sent])
        if result == .delivered { remember(alert, owner: owner, monitor: monitor) }
        return result
    }

    func idle(now: Double) {
        guard now - lastResend >= resendSeconds else { return }
        lastResend = now
        let alerts = firing().map { alert -> Alert in
            var sent = alert
            sent.endsAt = rfc3339(now + 4 * resendSeconds)
            return sent
        }
        guard !alerts.isEmpty else { return }
        if case .retry(let reason) = send(alerts) { log("sink \(sink): re-sending \(alerts.count) firing alerts failed: \(reason)") }
    }

    static func alert(for event: EventRecord, host: String) -> Alert {
        var labels: [String: String] = [:]
        for (name, value) in event.labels { labels[labelName(name)] = value }
        labels["alertname"] = event.monitorName ?? event.monitorId ?? "resmon"
        labels["host"] = event.host.isEmpty ? host : event.host
        labels["monitor"] = event.monitorId ?? ""
        labels["severity"] = event.severity.rawValue
        if let key = event.key { labels["statistic"] = key }
        var annotations = event.annotations
        annotations["summary"] = annotations["summary"] ?? event.message
        if event.value != nil { annotations["value"] = numberText(event.value) }
        if event.threshold != nil { annotations["threshold"] = numberText(event.threshold) }
        annotations["event"] = String(event.id)
        return Alert(labels: labels, annotations: annotations, startsAt: rfc3339(event.time), endsAt: nil, generatorURL: nil)
    }

    /// Prometheus label names: `[a-zA-Z_][a-zA-Z0-9_]*`.
    static func labelName(_ name: String) -> String {
        var result = String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") ? $0 : "_" })
        if result.first?.isNumber ?? true { result = "_" + result }
        return result
    }

    private func send(_ alerts: [Alert]) -> DeliveryResult {
        guard let body = try? jsonEncoder.encode(alerts) else { return .rejected("the alert cannot be encoded") }
        return outcome(post(url: endpoint, body: Array(body), headers: [], timeoutSeconds: timeoutSeconds), url: endpoint)
    }

    /// Every firing alert of this sink.
    private func firing() -> [Alert] {
        let rows =
            (try? database.withDatabase { database in
                try database.execute("SELECT alert FROM sink_alerts WHERE sink = ?", [.text(sink)])
            }) ?? []
        return rows.compactMap { row in row[0].text.flatMap { try? JSONDecoder().decode(Alert.self, from: Data($0.utf8)) } }
    }

    /// The firing alert of uid `owner`'s monitor `monitor`, if any.
    private func firing(owner: Int, monitor: String) -> Alert? {
        let rows =
            (try? database.withDatabase { database in
                try database.execute(
                    "SELECT alert FROM sink_alerts WHERE sink = ? AND owner = ? AND monitor_id = ?",
                    [.text(sink), .integer(Int64(owner)), .text(monitor)])
            }) ?? []
        return rows.first?[0].text.flatMap { try? JSONDecoder().decode(Alert.self, from: Data($0.utf8)) }
    }

    private func remember(_ alert: Alert, owner: Int, monitor: String) {
        guard let text = try? jsonEncoder.encode(alert) else { return }
        _ = try? database.withDatabase { database in
            try database.execute(
                "INSERT OR REPLACE INTO sink_alerts (sink, owner, monitor_id, alert) VALUES (?, ?, ?, ?)",
                [.text(sink), .integer(Int64(owner)), .text(monitor), .text(String(decoding: text, as: UTF8.self))])
        }
    }

    private func forget(owner: Int, monitor: String) {
        _ = try? database.withDatabase { database in
            try database.execute(
                "DELETE FROM sink_alerts WHERE sink = ? AND owner = ? AND monitor_id = ?", [.text(sink), .integer(Int64(owner)), .text(monitor)])
        }
    }
}

extension DeliveryResult {
    var isRejected: Bool { if case .rejected = self { return true }; return false }
}

// MARK: - exec

/// Runs a program (from root-owned configuration only) per event: posix_spawn in its own process
/// group with an empty signal mask, the event as JSON on stdin and as RESMON_* variables, at most
/// `concurrency` at once, the group killed at `timeoutSeconds`. A failing program is logged, not
/// retried: a program is not a receiver that comes back.
/// Sendable by hand: the children table, shared with the reaper timer, is behind a Lock; the
/// rest is immutable.
final class ExecTransport: SinkTransport, @unchecked Sendable {
    let command: [String]
    let timeoutSeconds: Double
    let concurrency: Int
    let log: @Sendable (String) -> Void
    /// Running children: pid → (deadline, event id).
    final class Children: Sendable {
        let state = Lock<[pid_t: Child]>([:])
    }
    struct Child: Sendable {
        var deadline: Double
        var event: Int64
    }
    private let children = Children()
    private let reaper: any DispatchSourceTimer

    init(command: [String], timeoutSeconds: Double, concurrency: Int, log: @escaping @Sendable (String) -> Void) {
        self.command = command
        self.timeoutSeconds = timeoutSeconds
        self.concurrency = concurrency
        self.log = log
        reaper = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "resmond.exec-reaper"))
        reaper.schedule(deadline: .now() + 0.05, repeating: 0.05, leeway: .milliseconds(20))
        reaper.setEventHandler { [children, log, command] in ExecTransport.reap(children, log: log, command: command) }
        reaper.resume()
    }

    deinit { reaper.cancel() }

    func deliver(_ event: EventRecord, owner _: Int) -> DeliveryResult {
        while children.state.withLock({ $0.count }) >= concurrency {
            usleep(10_000)
        }
        guard let json = try? jsonEncoder.encode(event) else { return .rejected("the event cannot be encoded") }
        let pipeEnds: (read: FileDescriptor, write: FileDescriptor)
        do { pipeEnds = try FileDescriptor.pipe() } catch { return .retry("pipe: \(error.description)") }
        var environment = [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "RESMON_EVENT_ID=\(event.id)", "RESMON_EVENT_TIME=\(rfc3339(event.time))",
            "RESMON_EVENT_CODE=\(event.code)", "RESMON_EVENT_TYPE=\(event.type)",
            "RESMON_SEVERITY=\(event.severity)", "RESMON_HOST=\(event.host)", "RESMON_MESSAGE=\(event.message)"
        ]
        if let id = event.monitorId { environment.append("RESMON_MONITOR_ID=\(id)") }
        if let name = event.monitorName { environment.append("RESMON_MONITOR_NAME=\(name)") }
        if let key = event.key { environment.append("RESMON_KEY=\(key)") }
        if event.value != nil { environment.append("RESMON_VALUE=\(numberText(event.value))") }
        if event.threshold != nil { environment.append("RESMON_THRESHOLD=\(numberText(event.threshold))") }
        let pid: pid_t
        do {
            pid = try ProcessGroup.spawn(command, environment: environment, stdin: pipeEnds.read.rawValue)
        } catch {
            pipeEnds.read.close()
            pipeEnds.write.close()
            log("sink exec: cannot start \(command[0]): \(error)")
            return .rejected("cannot start \(command[0]): \(error)")
        }
        pipeEnds.read.close()
        children.state.withLock { $0[pid] = Child(deadline: EventFilter.now() + timeoutSeconds, event: event.id) }
        // The event fits a pipe's buffer; a program that never reads must not block the sink.
        _ = fcntl(pipeEnds.write.rawValue, F_SETFL, fcntl(pipeEnds.write.rawValue, F_GETFL) | O_NONBLOCK)
        try? pipeEnds.write.writeAll(Array(json) + [0x0a])
        pipeEnds.write.close()
        return .delivered
    }

    /// Collects finished children and kills the groups of those past their deadline.
    private static func reap(_ children: Children, log: @Sendable (String) -> Void, command: [String]) {
        let now = EventFilter.now()
        var reaped = false
        defer {
            // What a finished program left running outside its group was re-parented to resmond.
            if reaped { ProcessGroup.reapOrphans() }
        }
        for (pid, child) in children.state.withLock({ $0 }) {
            var status: Int32 = 0
            let result = ProcessGroup.wait(pid, status: &status, options: WNOHANG)
            if result == pid {
                reaped = true
                children.state.withLock { _ = $0.removeValue(forKey: pid) }
                let exited = status & 0x7f == 0
                let code = (status >> 8) & 0xff
                if !exited || code != 0 {
                    log("sink exec: \(command[0]) for event \(child.event) " + (exited ? "exited with \(code)" : "was killed by signal \(status & 0x7f)"))
                }
            } else if result < 0 {
                children.state.withLock { _ = $0.removeValue(forKey: pid) }
            } else if now >= child.deadline {
                kill(0 - pid, SIGKILL)
                log("sink exec: \(command[0]) for event \(child.event) ran past its timeout; its process group was killed")
                children.state.withLock { $0[pid] = Child(deadline: Double.infinity, event: child.event) }
            }
        }
    }
}
