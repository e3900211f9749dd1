import CResmon
import Events
import FoundationEssentials
import Monitoring
import ResmonAPI
import ResmonClient

#if canImport(Glibc)
    import Glibc
#endif

/// An inline monitor (`RESMON_INLINE`): the Monitoring engine's state machine in this process,
/// fed by resmon_inline_update; its events go to the session's subscriptions at once.
struct InlineEntry: Sendable {
    var monitor: InlineMonitor
    /// A leaky bucket: its raise is counterRateExceeded.
    let bucket: Bool
    let uid: String
    let key: String
    let name: String
    let condition: Condition.Kind
    let threshold: Double
    let severity: Severity
    /// nil: one-directional (cancels silently).
    let cancelSeverity: Severity?
    /// The control as given, for resmon_monitor_get_control.
    let control: ControlCopy
    var running = false
    var paused = false
}

/// An inline monitor's entry by reference, so that an update mutates it in place under the
/// session's lock instead of copying it out and back (its strings would be retained and
/// released on every reading). Unchecked: only touched under the session's lock.
final class InlineBox: @unchecked Sendable {
    /// Unchecked: the session's lock is the exclusivity, and a dynamic check costs each reading
    /// a thread-local access set (a fifth of an update's time on a release build).
    @exclusivity(unchecked) var entry: InlineEntry
    init(_ entry: InlineEntry) { self.entry = entry }

    /// One reading, under the session's lock; what it fired, copied for delivery outside the
    /// lock (nil, the common case, copies nothing).
    func update(value: Double, time: Double) -> InlineFired? {
        guard entry.running && !entry.paused, let event = entry.monitor.update(value: value, time: time) else { return nil }
        return InlineFired(
            event: event, reading: entry.monitor.lastValue, bucket: entry.bucket, uid: entry.uid, key: entry.key, name: entry.name,
            condition: entry.condition, threshold: entry.threshold, severity: entry.severity, cancelSeverity: entry.cancelSeverity,
            forward: entry.control.forward != 0)
    }
}

/// What an inline update fired, and what its event needs of the monitor.
struct InlineFired {
    let event: InlineMonitor.Event
    let reading: Double
    let bucket: Bool
    let uid, key, name: String
    let condition: Condition.Kind
    let threshold: Double
    let severity: Severity
    let cancelSeverity: Severity?
    let forward: Bool
}

/// resmon_monitor_control without its uid (a C array), Sendable.
struct ControlCopy: Sendable {
    let monitoringRate, microMonitoringRate, monitoringInterval, samples, cancelSamples, loggingRate: UInt32
    let tolerance: Double
    let dataCapture, forward: Int32
}

/// Creates an inline monitor for resmon_monitor_create.
func createInline(
    _ session: Session, _ config: resmon_monitor_config, _ control: UnsafeMutablePointer<resmon_monitor_control>,
    _ out: UnsafeMutablePointer<resmon_handle>
) -> Int32 {
    let given = control.pointee
    let spec: MonitorSpec
    do {
        spec = try monitorSpec(config, given)
    } catch {
        return failure(EINVAL, error.message)
    }
    let transform = spec.transform?.kind ?? .none
    guard transform != .percent else { return failure(EINVAL, "transform percent: an inline monitor's readings have no upper bound") }
    let key = spec.target.key ?? ""
    let monitor: InlineMonitor
    var condition = Condition.Kind.above
    var threshold = Double.nan
    let name: String
    switch spec.type?.kind ?? .threshold {
    case .threshold:
        guard let kind = spec.condition?.kind else { return failure(EINVAL, "condition: expected \(Condition.knownList)") }
        guard let value = spec.value, value.isFinite else { return failure(EINVAL, "value: a threshold monitor needs a finite number") }
        (condition, threshold) = (kind, value)
        monitor = InlineMonitor(
            condition: condition, threshold: threshold, transform: transform, samples: spec.samples ?? 1, cancelSamples: spec.cancelSamples,
            cancelValue: spec.cancelValue ?? .nan, tolerance: spec.tolerance ?? 0, loggingRate: spec.loggingRate ?? 0)
        name = "\(key) \(condition.rawValue) \(threshold)"
    case .watermark:
        monitor = InlineMonitor(watermarkHigh: spec.mark != "low")
        name = "\(key) \(spec.mark ?? "high") watermark"
    case .leakyBucket:
        guard let size = spec.bucketSize, size.isFinite, size > 0 else { return failure(EINVAL, "bucket_size: a leaky bucket needs a size above 0") }
        guard let fill = spec.fillValue, fill.isFinite, fill > 0 else { return failure(EINVAL, "fill_value: a leaky bucket needs a refill above 0") }
        guard transform == .none else { return failure(EINVAL, "transform does not apply to a leaky bucket (it reads the counter's increase)") }
        // What refills per monitoring period: the rate given, else a second (no base step here).
        let period = Double(given.monitoring_rate) + Double(given.micro_monitoring_rate) / 1e6
        monitor = InlineMonitor(bucketSize: size, fill: fill, period: period > 0 ? period : 1, loggingRate: spec.loggingRate ?? 0)
        (threshold, condition) = (size, .below)
        name = "\(key) leaky bucket \(size)"
    }
    let uid = UUID().uuidString.lowercased()
    let entry = InlineEntry(
        monitor: monitor, bucket: spec.type == .leakyBucket,
        uid: uid, key: key, name: spec.name ?? name, condition: condition, threshold: threshold,
        severity: spec.severity ?? .warning, cancelSeverity: spec.cancelSeverity?.rawValue == "none" ? nil : spec.cancelSeverity ?? .notice,
        control: ControlCopy(
            monitoringRate: given.monitoring_rate, microMonitoringRate: given.micro_monitoring_rate, monitoringInterval: given.monitoring_interval,
            samples: given.samples == 0 ? 1 : given.samples, cancelSamples: given.cancel_samples == 0 ? max(1, given.samples) : given.cancel_samples,
            loggingRate: given.logging_rate, tolerance: given.tolerance, dataCapture: given.data_capture, forward: given.forward))
    let handle = session.handle(for: uid)
    session.registry.withLock { registry in
        registry.inline[handle] = InlineBox(entry)
        if given.forward != 0 { registry.forwarded.insert(uid) }
    }
    copy(uid, into: &control.pointee.uid)
    out.pointee = handle
    return 0
}

/// The actions on an inline monitor; nil when the handle is not one.
func inlineAction(_ session: Session, _ handle: UInt64, _ action: String) -> Int32? {
    session.registry.withLock { registry -> Int32? in
        guard let box = registry.inline[handle] else { return nil }
        switch action {
        case "start":
            box.entry.running = true
            box.entry.paused = false
        case "stop": box.entry.running = false
        case "pause": box.entry.paused = true
        case "resume": box.entry.paused = false
        case "reset": box.entry.monitor.reset()
        case "reset-notification": box.entry.monitor.resetNotification()
        case "delete":
            registry.inline[handle] = nil
            if registry.lastInline?.handle == handle { registry.lastInline = nil }
            if let uid = registry.uidByHandle.removeValue(forKey: handle) { registry.handleByUID[uid] = nil }
            return 0
        default: return nil
        }
        return 0
    }
}

func inlineState(_ session: Session, _ handle: UInt64) -> resmon_monitor_state? {
    session.registry.withLock { registry in
        guard let entry = registry.inline[handle]?.entry else { return nil }
        let phase: resmon_phase =
            switch entry.monitor.phase {
            case .clear: RESMON_CLEAR
            case .pending: RESMON_PENDING
            case .raised: RESMON_RAISED
            case .pendingCancel: RESMON_PENDING_CANCEL
            }
        return resmon_monitor_state(
            phase: Int32(phase.rawValue), count: UInt32(clamping: entry.monitor.count), running: entry.running ? 1 : 0,
            last_value: entry.monitor.lastValue, last_time: entry.monitor.lastTime, watermark_value: entry.monitor.watermark.value,
            watermark_time: entry.monitor.watermark.time, bucket_level: entry.monitor.bucketLevel)
    }
}

func inlineControl(_ session: Session, _ handle: UInt64) -> resmon_monitor_control? {
    session.registry.withLock { registry in
        guard let entry = registry.inline[handle]?.entry else { return nil }
        var control = resmon_monitor_control()
        let given = entry.control
        control.location = Int32(RESMON_INLINE.rawValue)
        control.monitoring_rate = given.monitoringRate
        control.micro_monitoring_rate = given.microMonitoringRate
        control.monitoring_interval = given.monitoringInterval
        control.tolerance = given.tolerance
        control.samples = given.samples
        control.cancel_samples = given.cancelSamples
        control.logging_rate = given.loggingRate
        control.data_capture = given.dataCapture
        control.forward = given.forward
        copy(entry.uid, into: &control.uid)
        return control
    }
}

/// This host's name, for inline events (as resmond names its host).
private let hostName: String = {
    var name = [CChar](repeating: 0, count: 256)
    gethostname(&name, name.count - 1)
    return name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}()

@_cdecl("resmon_inline_update")
public func resmonInlineUpdate(_ pointer: OpaquePointer?, _ handle: resmon_handle, _ value: Double, _ time: Double) -> Int32 {
    guard let pointer else { return failure(EINVAL, "the session is NULL") }
    var now = time
    if now.isNaN {
        var clock = timespec()
        clock_gettime(CLOCK_REALTIME, &clock)
        now = Double(clock.tv_sec) + Double(clock.tv_nsec) / 1e9
    }
    // The consumer holds the session for the call: no retain and release of it per reading.
    return Unmanaged<Session>.fromOpaque(UnsafeRawPointer(pointer))._withUnsafeGuaranteedRef { session in
        var found = true
        let fired = session.registry.withLock { registry -> InlineFired? in
            if let last = registry.lastInline, last.handle == handle { return last.box.update(value: value, time: now) }
            guard let box = registry.inline[handle] else {
                found = false
                return nil
            }
            registry.lastInline = (handle, box)
            return box.update(value: value, time: now)
        }
        guard found else { return failure(EINVAL, "handle \(handle) is not an inline monitor of this session") }
        guard let fired else { return 0 }
        return deliver(fired, handle: handle, time: now, session)
    }
}

/// Delivers what an inline update fired to the session's subscriptions, then to resmond's log
/// when the monitor forwards.
private func deliver(_ entry: InlineFired, handle: UInt64, time now: Double, _ session: Session) -> Int32 {
    let event = entry.event
    let reading = entry.reading
    let type: EventType
    let severity: Severity
    let message: String
    switch event {
    case .raise(let repeated):
        if entry.bucket {
            type = .counterRateExceeded
            message = "\(entry.key) ran its leaky bucket of \(entry.threshold) empty\(repeated ? " (still)" : "") (inline)"
        } else {
            switch entry.condition {
            case .notAt: type = EventType(reading < entry.threshold ? .notAtBelow : .notAtAbove)
            default: type = EventType(rawValue: entry.condition.rawValue)
            }
            message = "\(entry.key) is \(reading), \(entry.condition.rawValue) \(entry.threshold)\(repeated ? " (still)" : "") (inline)"
        }
        severity = entry.severity
    case .cancel:
        guard let cancelSeverity = entry.cancelSeverity else { return 0 }
        type = .canceled
        severity = cancelSeverity
        message = "\(entry.key) is \(reading): the condition ended (inline)"
    }
    let record = EventRecord(
        id: 0, time: now, code: type.code ?? 0, type: type, severity: severity, monitorId: entry.uid, monitorName: entry.name, key: entry.key,
        value: reading, threshold: entry.threshold, host: hostName, message: message, cancels: nil, labels: [:], annotations: [:])
    let subscriptions = session.registry.withLock { Array($0.subscriptions.values) }
    for subscription in subscriptions where subscription.accepts(record) {
        subscription.deliver(record, handle: handle)
    }
    guard entry.forward else { return 0 }
    return forward(record, session)
}

/// Appends an inline monitor's event to resmond's log (`forward`): after the session's own
/// subscriptions have it, so a refusal (-EBUSY when the event storm limits hold it back) leaves
/// the monitor's state and the local delivery as they are and reports only the forwarding.
private func forward(_ record: EventRecord, _ session: Session) -> Int32 {
    func finite(_ number: Double?) -> Double? { number.flatMap { $0.isFinite ? $0 : nil } }
    let request = EventAppendRequest(
        type: record.type.rawValue, severity: record.severity.rawValue, monitorId: record.monitorId ?? "",
        monitorName: record.monitorName, key: record.key.flatMap { $0.isEmpty ? nil : $0 }, value: finite(record.value),
        threshold: finite(record.threshold), message: record.message, time: record.time)
    do {
        _ = try session.client.appendEvent(request)
        return 0
    } catch {
        return failure(error, context: "forwarding the event to resmond's log: ")
    }
}
