import CResmon
import HTTPClient
import ResmonAPI
import ResmonClient
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One `resmon_session`: a ResmonClient and the handles of the monitors it made or found. Every
/// call may come from any thread: the registry is behind a lock, and the client is a value.
final class Session: Sendable {
    let client: ResmonClient

    struct Registry {
        var nextHandle: UInt64 = 1
        var uidByHandle: [UInt64: String] = [:]
        var handleByUID: [String: UInt64] = [:]
        var subscriptions: [ObjectIdentifier: Subscription] = [:]
        /// Inline monitors by handle: they live only in this session.
        var inline: [UInt64: InlineBox] = [:]
        /// The uids of the inline monitors made with `forward`: their events come back from
        /// resmond's stream, and the session's subscriptions had them already.
        var forwarded: Set<String> = []
        /// The inline monitor updated last: a consumer feeding one monitor in a loop finds it
        /// without hashing its handle.
        var lastInline: (handle: UInt64, box: InlineBox)?
    }
    let registry = Mutex(Registry())

    init(client: ResmonClient) {
        self.client = client
    }

    /// The handle of a monitor's uid in this session, made on first sight.
    func handle(for uid: String) -> UInt64 {
        registry.withLock { registry in
            if let handle = registry.handleByUID[uid] { return handle }
            let handle = registry.nextHandle
            registry.nextHandle += 1
            registry.uidByHandle[handle] = uid
            registry.handleByUID[uid] = handle
            return handle
        }
    }

    /// The handle a uid already has in this session, 0 when none.
    func existingHandle(for uid: String) -> UInt64 {
        registry.withLock { $0.handleByUID[uid] ?? 0 }
    }

    func uid(of handle: UInt64) -> String? {
        registry.withLock { $0.uidByHandle[handle] }
    }

    func forget(_ handle: UInt64) {
        registry.withLock { registry in
            if let uid = registry.uidByHandle.removeValue(forKey: handle) { registry.handleByUID[uid] = nil }
        }
    }

    static func from(_ pointer: OpaquePointer?) -> Session? {
        pointer.map { Unmanaged<Session>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
    }
}

// MARK: - Errors

/// Records `message` as this thread's last error and returns `-code`.
func failure(_ code: Int32, _ message: String) -> Int32 {
    rsclib_set_error(message)
    return -code
}

/// The negative errno of a ClientError, as DESIGN.md's table maps HTTP answers; `context`
/// goes before the message.
func failure(_ error: ClientError, context: String = "") -> Int32 {
    func failure(_ code: Int32, _ message: String) -> Int32 { Libresmon.failure(code, context + message) }
    switch error {
    case .unreachable(let socket, let reason):
        let lowered = reason.lowercased()
        if lowered.contains("timeout") || lowered.contains("timed out") { return failure(ETIMEDOUT, error.description) }
        if socket.contains("://") { return failure(ECONNREFUSED, error.description) }
        return failure(access(socket, F_OK) == 0 ? ECONNREFUSED : ENOENT, error.description)
    case .api(let status, _, let message):
        let code: Int32 =
            switch status {
            case 400: EINVAL
            case 403: EACCES
            case 404: ENOENT
            case 409: EEXIST
            case 413: E2BIG
            // 429: the caller's quota or the event storm limits; busy for now, as the RMF's EBUSY.
            case 429, 503: EBUSY
            case 504: ETIMEDOUT
            default: EIO
            }
        return failure(code, message)
    case .malformedResponse: return failure(EIO, error.description)
    case .invalidSetting: return failure(EINVAL, error.description)
    }
}

/// Runs a request against the session; 0, or the failure's negative errno.
func call(_ session: OpaquePointer?, _ body: (Session) throws(ClientError) -> Void) -> Int32 {
    guard let session = Session.from(session) else { return failure(EINVAL, "the session is NULL") }
    do {
        try body(session)
        return 0
    } catch {
        return failure(error)
    }
}

/// Copies `text` into a fixed C array (a tuple), cut to fit with its NUL.
func copy<Storage>(_ text: String, into storage: inout Storage) {
    withUnsafeMutableBytes(of: &storage) { buffer in
        let bytes = Array(text.utf8.prefix(buffer.count - 1))
        buffer.copyBytes(from: bytes)
        buffer[bytes.count] = 0
    }
}

/// The text of a fixed C array (a tuple) up to its NUL.
func text<Storage>(of storage: inout Storage) -> String {
    withUnsafeBytes(of: &storage) { buffer in
        let end = buffer.firstIndex(of: 0) ?? buffer.count
        return String(decoding: buffer[..<end], as: UTF8.self)
    }
}

// MARK: - Sessions

@_cdecl("resmon_open")
public func resmonOpen(_ socketPath: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let out else { return failure(EINVAL, "resmon_open: out is NULL") }
    out.pointee = nil
    let client = ResmonClient(socketPath: socketPath.map { String(cString: $0) }, timeoutMilliseconds: 10_000)
    return open(client, out)
}

@_cdecl("resmon_open_url")
public func resmonOpenURL(
    _ url: UnsafePointer<CChar>?, _ tokenFile: UnsafePointer<CChar>?, _ caFile: UnsafePointer<CChar>?,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
    guard let out else { return failure(EINVAL, "resmon_open_url: out is NULL") }
    out.pointee = nil
    func text(_ pointer: UnsafePointer<CChar>?) -> String? { pointer.map { String(cString: $0) } }
    guard let url = text(url) ?? getenv("RESMON_URL").map({ String(cString: $0) }), !url.isEmpty else {
        return failure(EINVAL, "resmon_open_url: url is NULL and $RESMON_URL is not set")
    }
    let client: ResmonClient
    do {
        client = try ResmonClient.configured(
            socketPath: nil, url: url, tokenFile: text(tokenFile), caFile: text(caFile), timeoutMilliseconds: 10_000)
    } catch {
        return failure(error)
    }
    return open(client, out)
}

/// Opens a session on `client` once resmond answers `/healthz`.
private func open(_ client: ResmonClient, _ out: UnsafeMutablePointer<OpaquePointer?>) -> Int32 {
    do {
        _ = try client.health()
    } catch {
        return failure(error)
    }
    out.pointee = OpaquePointer(Unmanaged.passRetained(Session(client: client)).toOpaque())
    return 0
}

@_cdecl("resmon_close")
public func resmonClose(_ session: OpaquePointer?) {
    guard let session else { return }
    let unmanaged = Unmanaged<Session>.fromOpaque(UnsafeRawPointer(session))
    let subscriptions = unmanaged.takeUnretainedValue().registry.withLock { registry in
        defer { registry.subscriptions.removeAll() }
        return Array(registry.subscriptions.values)
    }
    // What resmon_unsubscribe was not called for: stopped and freed with the session.
    for subscription in subscriptions {
        subscription.end()
        Unmanaged.passUnretained(subscription).release()
    }
    unmanaged.release()
}

// MARK: - Statistics

/// Fills a resmon_statistic from the API's answer.
func fill(_ out: inout resmon_statistic, from info: StatisticInfo) {
    out.value = info.value ?? .nan
    out.raw = info.kind == "counter" ? (info.total ?? .nan) : (info.value ?? .nan)
    out.time = info.time ?? .nan
    out.upper_bound = info.upperBound ?? .nan
    out.kind = Int32(info.kind == "counter" ? RESMON_COUNTER.rawValue : RESMON_GAUGE.rawValue)
    copy(info.unit, into: &out.unit)
}

@_cdecl("resmon_statistic_get")
public func resmonStatisticGet(_ session: OpaquePointer?, _ key: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<resmon_statistic>?) -> Int32 {
    guard let key, let out else { return failure(EINVAL, "resmon_statistic_get: key or out is NULL") }
    return call(session) { session throws(ClientError) in
        fill(&out.pointee, from: try session.client.statistic(String(cString: key)))
    }
}

@_cdecl("resmon_statistics_list")
public func resmonStatisticsList(
    _ session: OpaquePointer?, _ regex: UnsafePointer<CChar>?, _ fn: resmon_statistic_fn?, _ user: UnsafeMutableRawPointer?
) -> Int32 {
    guard let fn else { return failure(EINVAL, "resmon_statistics_list: fn is NULL") }
    return call(session) { session throws(ClientError) in
        for info in try session.client.statistics(matching: regex.map { String(cString: $0) }) {
            var statistic = resmon_statistic()
            fill(&statistic, from: info)
            if info.key.withCString({ fn($0, &statistic, user) }) != 0 { return }
        }
    }
}

@_cdecl("resmon_statistic_push")
public func resmonStatisticPush(_ session: OpaquePointer?, _ key: UnsafePointer<CChar>?, _ value: Double, _ unit: UnsafePointer<CChar>?) -> Int32 {
    guard let key else { return failure(EINVAL, "resmon_statistic_push: key is NULL") }
    return call(session) { session throws(ClientError) in
        try session.client.push(String(cString: key), value: value, unit: unit.map { String(cString: $0) } ?? "")
    }
}

/// resmon_last_error, for the Swift tests (the C function is declared in resmon.h too).
func resmon_last_error_for_tests() -> UnsafePointer<CChar> { resmon_last_error() }
