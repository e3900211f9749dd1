import CResmon
import Events
import ResmonAPI
import ResmonClient
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One `resmon_subscription`: a thread of the library follows resmond's event stream (resuming
/// after the last event it saw when resmond restarts) and hands each event to the callback, or
/// queues it for resmon_event_next with the eventfd counting the queue. Unchecked: `user` is the
/// consumer's pointer, only handed back to its callback; the rest is constant or in `state`.
final class Subscription: @unchecked Sendable {
    let session: Session
    let filter: String?
    /// The filter parsed here, for inline monitors' events (resmond filters the rest).
    let parsedFilter: EventFilter?
    /// The id after which the events begin.
    let startAfter: Int64
    let callback: resmon_event_fn?
    let user: UnsafeMutableRawPointer?
    /// Counts the queued events (semaphore mode): readable while one waits.
    let eventFD: Int32

    struct State {
        var queue: [EventRecord] = []
        var head = 0
        var signal: Int32 = 0
        var stopping = false
        /// The strings of the event resmon_event_next handed out last, freed at the next call.
        /// (Addresses: pointers are not Sendable, and only this type frees them.)
        var handedOut: [UInt] = []
        var thread: pthread_t?
        var failure: String?
    }
    let state = Mutex(State())

    init(session: Session, filter: String?, after: Int64, callback: resmon_event_fn?, user: UnsafeMutableRawPointer?, eventFD: Int32) {
        self.session = session
        self.filter = filter
        self.parsedFilter = filter.flatMap { try? EventFilter($0) }
        self.startAfter = after
        self.callback = callback
        self.user = user
        self.eventFD = eventFD
    }

    deinit {
        close(eventFD)
        state.withLock { state in for address in state.handedOut { free(UnsafeMutableRawPointer(bitPattern: address)) } }
    }

    var stopping: Bool { state.withLock { $0.stopping } }

    /// The thread's body: follows the stream until `end()`.
    func run() {
        do {
            try session.client.followEvents(after: startAfter, filter: filter, heartbeat: 0.5, stopping: { self.stopping }) { event in
                deliver(event)
                return !stopping
            }
        } catch {
            state.withLock { $0.failure = error.description }
        }
    }

    /// Whether an inline monitor's event matches the subscription's filter.
    func accepts(_ record: EventRecord) -> Bool {
        filter == nil || parsedFilter?.matches(record) == true
    }

    /// Events a polled subscription holds at most: past that, its thread waits for the consumer
    /// (resmond's stream then overflows, and the thread resumes from the log: nothing is lost).
    static let queueLimit = 65_536

    private func deliver(_ record: EventRecord) {
        if callback == nil {
            while !stopping && state.withLock({ $0.queue.count - $0.head }) >= Subscription.queueLimit { usleep(10_000) }
        }
        if Subscription.isOwnForwarded(record, session) { return }
        deliver(record, handle: record.monitorId.map { session.existingHandle(for: $0) } ?? 0)
    }

    /// This process's user, as resmond marks the events it appends (`labels.uid`).
    static let user = String(geteuid())

    /// Whether an event from resmond's stream is one this session's inline monitor forwarded:
    /// its subscriptions had it during resmon_inline_update already.
    static func isOwnForwarded(_ record: EventRecord, _ session: Session) -> Bool {
        guard record.labels["source"] == "application", record.labels["uid"] == user, let id = record.monitorId else { return false }
        return session.registry.withLock { $0.forwarded.contains(id) }
    }

    /// Hands an event to the callback (on the calling thread) or the queue, and signals.
    func deliver(_ record: EventRecord, handle: UInt64) {
        if let callback {
            var strings: [UnsafeMutablePointer<CChar>] = []
            var event = cEvent(record, handle: handle, strings: &strings)
            callback(&event, user)
            for text in strings { free(text) }
        } else {
            state.withLock { state in state.queue.append(record) }
            rsclib_eventfd_post(eventFD)
        }
        let signal = state.withLock { $0.signal }
        if signal != 0 { _ = rsclib_sigqueue(signal, Int32(truncatingIfNeeded: handle)) }
    }

    /// The C view of an event; its strings are appended to `strings` for the caller to free.
    func cEvent(_ record: EventRecord, handle: UInt64, strings: inout [UnsafeMutablePointer<CChar>]) -> resmon_event {
        func keep(_ text: String?) -> UnsafePointer<CChar>? {
            guard let text, let copied = strdup(text) else { return nil }
            strings.append(copied)
            return UnsafePointer(copied)
        }
        return resmon_event(
            id: record.id, time: record.time, code: Int32(truncatingIfNeeded: record.code), type: keep(record.type.rawValue),
            severity: Int32(record.severity.level ?? 7), monitor_id: keep(record.monitorId), monitor_name: keep(record.monitorName),
            key: keep(record.key), host: keep(record.host), message: keep(record.message), value: record.value ?? .nan,
            threshold: record.threshold ?? .nan, cancels: record.cancels ?? 0, handle: handle)
    }

    /// Takes the oldest queued event (the eventfd's count was taken already).
    func dequeue() -> EventRecord? {
        state.withLock { state in
            guard state.head < state.queue.count else { return nil }
            let record = state.queue[state.head]
            state.head += 1
            if state.head > 1024 && state.head * 2 > state.queue.count {
                state.queue.removeFirst(state.head)
                state.head = 0
            }
            return record
        }
    }

    /// Stops the thread and waits for it, unless called on it (from the callback): then it ends
    /// after the callback returns.
    func end() {
        let thread = state.withLock { state in
            state.stopping = true
            defer { state.thread = nil }
            return state.thread
        }
        guard let thread else { return }
        if pthread_equal(thread, pthread_self()) != 0 {
            pthread_detach(thread)
        } else {
            pthread_join(thread, nil)
        }
    }

    static func from(_ pointer: OpaquePointer?) -> Subscription? {
        pointer.map { Unmanaged<Subscription>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
    }
}

@_cdecl("resmon_subscribe")
public func resmonSubscribe(
    _ session: OpaquePointer?, _ filter: UnsafePointer<CChar>?, _ after: Int64, _ fn: resmon_event_fn?, _ user: UnsafeMutableRawPointer?,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
    guard let out else { return failure(EINVAL, "resmon_subscribe: out is NULL") }
    out.pointee = nil
    guard let owner = Session.from(session) else { return failure(EINVAL, "the session is NULL") }
    guard after >= -1 else { return failure(EINVAL, "resmon_subscribe: after \(after) is neither an event id nor -1") }
    let filterText = filter.map { String(cString: $0) }
    // The filter is checked, and "from now" fixed to the newest event id, before returning: an
    // event logged after resmon_subscribe returns is delivered.
    var start = after
    do {
        _ = try owner.client.events(limit: 1, filter: filterText, newestFirst: true)
        if after < 0 { start = try owner.client.events(limit: 1, newestFirst: true).events.first?.id ?? 0 }
    } catch {
        return failure(error)
    }
    let descriptor = rsclib_eventfd()
    guard descriptor >= 0 else { return failure(errno, "eventfd: \(String(cString: strerror(errno)))") }
    let subscription = Subscription(session: owner, filter: filterText, after: start, callback: fn, user: user, eventFD: descriptor)
    let context = Unmanaged.passRetained(subscription).toOpaque()
    var thread = pthread_t()
    // The thread holds its own reference, released when it ends.
    let started = pthread_create(
        &thread, nil,
        { context in
            rsclib_block_signals()
            let subscription = Unmanaged<Subscription>.fromOpaque(context!).takeRetainedValue()
            subscription.run()
            return nil
        }, context)
    guard started == 0 else {
        Unmanaged<Subscription>.fromOpaque(context).release()
        return failure(started, "cannot start the subscription's thread: \(String(cString: strerror(started)))")
    }
    subscription.state.withLock { $0.thread = thread }
    owner.registry.withLock { $0.subscriptions[ObjectIdentifier(subscription)] = subscription }
    out.pointee = OpaquePointer(Unmanaged.passRetained(subscription).toOpaque())
    return 0
}

@_cdecl("resmon_event_next")
public func resmonEventNext(_ subscription: OpaquePointer?, _ timeout: Int32, _ out: UnsafeMutablePointer<resmon_event>?) -> Int32 {
    guard let subscription = Subscription.from(subscription), let out else { return failure(EINVAL, "resmon_event_next: subscription or out is NULL") }
    guard subscription.callback == nil else { return failure(EINVAL, "resmon_event_next: this subscription delivers to its callback") }
    let taken = rsclib_eventfd_take(subscription.eventFD, timeout)
    if taken != 0 {
        if let reason = subscription.state.withLock({ $0.failure }) { return failure(EIO, "the subscription ended: \(reason)") }
        return failure(-taken, taken == -ETIMEDOUT ? "no event within \(timeout) ms" : String(cString: strerror(-taken)))
    }
    guard let record = subscription.dequeue() else { return failure(EIO, "the event queue and its count disagree") }
    var strings: [UnsafeMutablePointer<CChar>] = []
    let handle = record.monitorId.map { subscription.session.existingHandle(for: $0) } ?? 0
    out.pointee = subscription.cEvent(record, handle: handle, strings: &strings)
    let addresses = strings.map { UInt(bitPattern: $0) }
    let old = subscription.state.withLock { state in
        defer { state.handedOut = addresses }
        return state.handedOut
    }
    for address in old { free(UnsafeMutableRawPointer(bitPattern: address)) }
    return 0
}

@_cdecl("resmon_subscription_fd")
public func resmonSubscriptionFD(_ subscription: OpaquePointer?) -> Int32 {
    guard let subscription = Subscription.from(subscription) else { return failure(EINVAL, "resmon_subscription_fd: subscription is NULL") }
    return subscription.eventFD
}

@_cdecl("resmon_subscription_signal")
public func resmonSubscriptionSignal(_ subscription: OpaquePointer?, _ signo: Int32) -> Int32 {
    guard let subscription = Subscription.from(subscription) else { return failure(EINVAL, "resmon_subscription_signal: subscription is NULL") }
    guard signo == 0 || (signo >= 1 && signo <= 64) else { return failure(EINVAL, "resmon_subscription_signal: \(signo) is not a signal") }
    subscription.state.withLock { $0.signal = signo }
    return 0
}

@_cdecl("resmon_unsubscribe")
public func resmonUnsubscribe(_ subscription: OpaquePointer?) {
    guard let pointer = subscription, let subscription = Subscription.from(pointer) else { return }
    subscription.end()
    _ = subscription.session.registry.withLock { $0.subscriptions.removeValue(forKey: ObjectIdentifier(subscription)) }
    Unmanaged<Subscription>.fromOpaque(UnsafeRawPointer(pointer)).release()
}
