import CShim
import Dispatch
import Events
import FoundationEssentials
import ResmonAPI
import ResmonSystem
import Statistics
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One server-sent event stream's body: a bounded buffer in the C shim that libmicrohttpd drains
/// while the connection lives. Writes never block; a full buffer says so.
/// Sendable by hand: the shim's buffer behind `pointer` has its own lock; `writtenBytes` is atomic.
public final class ServerStream: @unchecked Sendable {
    // The shim's stream is thread-safe; this class only owns one reference to it.
    let pointer: OpaquePointer

    public enum WriteResult: Sendable { case written, full, closed }

    /// Bytes written so far (the hub's queue writes, after the stream's first line in `open`).
    private let writtenBytes = Atomic<UInt64>(0)

    public init?(capacity: Int) {
        guard let pointer = rs_stream_create(capacity) else { return nil }
        self.pointer = pointer
    }

    deinit { rs_stream_release(pointer) }

    public func write(_ bytes: [UInt8]) -> WriteResult {
        let result = rs_stream_write(pointer, bytes, bytes.count)  // the shim copies them under its lock
        switch result {
        case 0:
            writtenBytes.add(UInt64(bytes.count), ordering: .relaxed)
            return .written
        case 1: return .full
        default: return .closed
        }
    }

    public var space: Int { rs_stream_space(pointer) }
    public var isClosed: Bool { rs_stream_closed(pointer) != 0 }
    /// Ends the body after what is buffered has been sent.
    public func finish() { rs_stream_finish(pointer) }

    /// Bytes written so far; compare with `handed`.
    public var written: UInt64 { writtenBytes.load(ordering: .relaxed) }

    /// Bytes the server has taken to send so far: whole frames, unless one was longer than its
    /// block.
    public var handed: UInt64 { rs_stream_handed(pointer) }

    /// Drops what the server has not taken to send yet (unless it has taken part of a frame) and
    /// releases the buffer; returns how many of the bytes `written` will be sent.
    public func discardUnsent() -> UInt64 { rs_stream_discard_unsent(pointer) }

    /// Appends a last message of at most 1 KiB, which fits however full the buffer is, and ends
    /// the body.
    @discardableResult
    public func finish(with bytes: [UInt8]) -> Bool { rs_stream_finish_with(pointer, bytes, bytes.count) == 0 }
}

/// Feeds `GET /v1/events/stream` consumers: each stream first catches up from the event log
/// (after the id it resumes from), then receives events as the engine commits them. Everything
/// runs on one serial queue, so a stream sees ids in order, with no gap and no duplicate; the
/// engine only enqueues and is never slowed by a consumer. A consumer that falls a buffer behind
/// is told so (`event: overflow`) and its stream ends; it resumes from the log with its last id.
public final class EventStreamHub: Sendable {
    /// Reads up to `limit` events after an id from the durable log, oldest first.
    public typealias LogReader = @Sendable (_ after: Int64, _ limit: Int) throws -> [EventRecord]

    public struct Settings: Sendable {
        public var bufferBytes = 256 * 1024
        public var maximumStreams = 4096
        public init() {}
    }

    /// Sendable by hand: touched only on the hub's serial queue (`resmond.streams`).
    private final class Subscriber: @unchecked Sendable {
        // Touched only on the hub's queue.
        let stream: ServerStream
        let filter: EventFilter?
        let heartbeat: Double
        var cursor: Int64
        var catchingUp: Bool
        var lastWrite: Double
        var retryScheduled = false
        /// Where each event written ends in the stream (`ServerStream.written`), oldest first,
        /// back to the last one the server surely took: what an overflow notice's `after` is
        /// found from.
        var frames: [(end: UInt64, id: Int64)] = []
        /// The last event the server took before `frames` begins.
        var handedID: Int64

        init(stream: ServerStream, filter: EventFilter?, heartbeat: Double, cursor: Int64, catchingUp: Bool, now: Double) {
            self.stream = stream
            self.filter = filter
            self.heartbeat = heartbeat
            self.cursor = cursor
            self.catchingUp = catchingUp
            self.lastWrite = now
            self.handedID = cursor
        }
    }

    /// Sendable by hand: touched only on the hub's serial queue (`resmond.streams`).
    private final class State: @unchecked Sendable {
        // Touched only on the hub's queue.
        var subscribers: [ObjectIdentifier: Subscriber] = [:]
        var timer: (any DispatchSourceTimer)?
    }

    private let queue = DispatchQueue(label: "resmond.streams")
    private let state = State()
    private let read: LogReader
    private let newest: @Sendable () throws -> Int64
    private let settings: Settings
    private let stopped = Atomic<Bool>(false)
    private let open = Atomic<Int>(0)
    private static let page = 500

    /// A hub that catches streams up from the event log's store.
    public convenience init(settings: Settings = Settings(), store: EventStore) {
        self.init(
            settings: settings, read: { after, limit in try store.events(after: after, limit: limit) },
            newest: { try store.lastID() })
    }

    /// A hub reading through closures: for a daemon that opens the state database after the
    /// hub exists (streams are refused until then: the closures throw or find nothing).
    public init(settings: Settings = Settings(), read: @escaping LogReader, newest: @escaping @Sendable () throws -> Int64) {
        self.settings = settings
        self.read = read
        self.newest = newest
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + 1, repeating: 1, leeway: .milliseconds(200))
        timer.setEventHandler { [self] in tick() }
        timer.resume()
        state.timer = timer
    }

    /// Streams currently open.
    public var count: Int { open.load(ordering: .relaxed) }

    public enum OpenError: Error, Sendable { case stopping, tooMany, noMemory }

    /// A new stream resuming after `after` (nil: from now on), with `filter`, a heartbeat comment
    /// every `heartbeat` seconds.
    public func open(after: Int64?, filter: EventFilter?, heartbeat: Double) throws(OpenError) -> ServerStream {
        guard !stopped.load(ordering: .acquiring) else { throw .stopping }
        guard open.load(ordering: .relaxed) < settings.maximumStreams else { throw .tooMany }
        guard let stream = ServerStream(capacity: settings.bufferBytes) else { throw .noMemory }
        open.add(1, ordering: .relaxed)
        _ = stream.write(Array(": resmon event stream\nretry: 2000\n\n".utf8))
        queue.async { [self] in
            let subscriber: Subscriber
            if let after {
                subscriber = Subscriber(stream: stream, filter: filter, heartbeat: heartbeat, cursor: after, catchingUp: true, now: Clock.monotonic())
            } else {
                // From now on: whatever the log holds is history; later events arrive live.
                let cursor = (try? newest()) ?? 0
                subscriber = Subscriber(
                    stream: stream, filter: filter, heartbeat: heartbeat,
                    cursor: cursor, catchingUp: false, now: Clock.monotonic())
            }
            state.subscribers[ObjectIdentifier(subscriber)] = subscriber
            if stopped.load(ordering: .acquiring) { stream.finish() }
            if subscriber.catchingUp { catchUp(subscriber) }
        }
        return stream
    }

    /// Events the engine has just committed, in id order.
    public func publish(_ events: [EventRecord]) {
        guard !events.isEmpty else { return }
        queue.async { [self] in
            for subscriber in state.subscribers.values where !subscriber.catchingUp {
                deliver(events, to: subscriber)
            }
        }
    }

    /// Ends every stream (their consumers reconnect to the next resmond) and waits until
    /// libmicrohttpd has released them, so that no connection is suspended when servers stop.
    public func stop(deadline: Double = 3) {
        stopped.store(true, ordering: .releasing)
        let subscribers = queue.sync { () -> [Subscriber] in
            state.timer?.cancel()
            state.timer = nil
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.stream.finish() }
        let end = Clock.monotonic() + deadline
        while subscribers.contains(where: { !$0.stream.isClosed }) && Clock.monotonic() < end {
            usleep(10_000)
        }
    }

    // MARK: - On the queue

    private func deliver(_ events: [EventRecord], to subscriber: Subscriber) {
        for event in events where event.id > subscriber.cursor {
            if subscriber.filter?.matches(event) ?? true {
                guard send(event, to: subscriber) else { return }
            }
            subscriber.cursor = event.id
        }
    }

    /// Writes one event; false when the stream ended (closed, or overflowed and told so).
    private func send(_ event: EventRecord, to subscriber: Subscriber) -> Bool {
        switch write(event, to: subscriber) {
        case .written:
            return true
        case .full:
            overflow(subscriber)
            return false
        case .closed:
            remove(subscriber)
            return false
        }
    }

    /// Writes one event's frame and notes where it ends.
    private func write(_ event: EventRecord, to subscriber: Subscriber) -> ServerStream.WriteResult {
        let result = subscriber.stream.write(EventStreamHub.frame(event))
        guard result == .written else { return result }
        subscriber.lastWrite = Clock.monotonic()
        subscriber.frames.append((subscriber.stream.written, event.id))
        if subscriber.frames.count >= 1024 {
            // Forget the frames the server has taken: the consumer has them, or will.
            let handed = subscriber.stream.handed
            let taken = subscriber.frames.prefix { $0.end <= handed }
            if let last = taken.last { subscriber.handedID = last.id }
            subscriber.frames.removeFirst(taken.count)
        }
        return result
    }

    /// Ends the stream of a consumer that fell a buffer behind: what the server has not taken
    /// yet is dropped (it would only delay the notice, and the consumer catches up from the log
    /// anyway), then the notice, which always fits, says after which event to resume.
    private func overflow(_ subscriber: Subscriber) {
        let sent = subscriber.stream.discardUnsent()
        let after = subscriber.frames.last { $0.end <= sent }?.id ?? subscriber.handedID
        let notice =
            "event: overflow\ndata: {\"after\":\(after),\"reason\":\"the consumer fell more than \(settings.bufferBytes) bytes behind; resume with Last-Event-ID\"}\n\n"
        subscriber.stream.finish(with: Array(notice.utf8))
        remove(subscriber)
    }

    private func remove(_ subscriber: Subscriber) {
        if state.subscribers.removeValue(forKey: ObjectIdentifier(subscriber)) != nil {
            open.subtract(1, ordering: .relaxed)
        }
    }

    /// Reads the log page by page while the buffer has room; once a page comes back short the
    /// stream has caught up and takes live events. A full buffer retries shortly.
    private func catchUp(_ subscriber: Subscriber) {
        subscriber.retryScheduled = false
        while subscriber.catchingUp {
            guard !subscriber.stream.isClosed else { return remove(subscriber) }
            guard subscriber.stream.space >= settings.bufferBytes / 2 else {
                subscriber.retryScheduled = true
                queue.asyncAfter(deadline: .now() + .milliseconds(20)) { [self] in
                    if state.subscribers[ObjectIdentifier(subscriber)] != nil { catchUp(subscriber) }
                }
                return
            }
            let page: [EventRecord]
            do {
                page = try read(subscriber.cursor, Self.page)
            } catch {
                return retryLater(subscriber)
            }
            for event in page {
                if subscriber.filter?.matches(event) ?? true {
                    switch write(event, to: subscriber) {
                    case .written: break
                    case .full: return retryLater(subscriber)
                    case .closed: return remove(subscriber)
                    }
                }
                subscriber.cursor = event.id
            }
            if page.count < Self.page { subscriber.catchingUp = false }
        }
    }

    private func retryLater(_ subscriber: Subscriber) {
        subscriber.retryScheduled = true
        queue.asyncAfter(deadline: .now() + .milliseconds(100)) { [self] in
            if state.subscribers[ObjectIdentifier(subscriber)] != nil { catchUp(subscriber) }
        }
    }

    /// Once a second: drop streams whose peer is gone, and send heartbeats, whose writes are
    /// also what notices a peer that went away while its connection was suspended.
    private func tick() {
        let now = Clock.monotonic()
        for subscriber in Array(state.subscribers.values) {
            if subscriber.stream.isClosed {
                remove(subscriber)
            } else if now - subscriber.lastWrite >= subscriber.heartbeat {
                switch subscriber.stream.write(Array(": heartbeat\n\n".utf8)) {
                case .written: break
                case .closed: remove(subscriber)
                // A live consumer that cannot take a heartbeat has fallen a buffer behind; one
                // catching up from the log is paced by its buffer instead.
                case .full: if !subscriber.catchingUp { overflow(subscriber) }
                }
                subscriber.lastWrite = now
            }
        }
    }

    /// One event as a server-sent event: its id, and its JSON on one data line.
    static func frame(_ event: EventRecord) -> [UInt8] {
        let json = (try? encoder.encode(event)).map { Array($0) } ?? Array("{}".utf8)
        return Array("id: \(event.id)\ndata: ".utf8) + json + Array("\n\n".utf8)
    }

    private static let encoder: JSONEncoder = WireJSON.encoder()
}
