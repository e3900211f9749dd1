import CResmon
import ResmonAPI
import ResmonClient

#if canImport(Glibc)
    import Glibc
#endif

/// Why a config or control cannot become a MonitorSpec: the message for resmon_last_error.
struct InvalidMonitor: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

private let conditions: [Condition] = [.above, .atOrAbove, .at, .atOrBelow, .below, .notAt]
private let transforms: [Transform] = [Transform.none, .percent, .change, .rate]

/// The API's spec of a C config and control, created stopped (as rmCreateMonitor does).
func monitorSpec(_ config: resmon_monitor_config, _ control: resmon_monitor_control) throws(InvalidMonitor) -> MonitorSpec {
    guard let key = config.key else { throw InvalidMonitor("config.key is NULL") }
    let type: MonitorType
    switch config.type {
    case Int32(RESMON_THRESHOLD.rawValue): type = .threshold
    case Int32(RESMON_WATERMARK.rawValue): type = .watermark
    case Int32(RESMON_LEAKY_BUCKET.rawValue): type = .leakyBucket
    default: throw InvalidMonitor("config.type \(config.type) is not RESMON_THRESHOLD, RESMON_WATERMARK or RESMON_LEAKY_BUCKET")
    }
    var spec = MonitorSpec(target: String(cString: key), type: type)
    spec.name = config.name.map { String(cString: $0) }
    guard transforms.indices.contains(Int(config.transform)) else { throw InvalidMonitor("config.transform \(config.transform) is unknown") }
    if config.transform != 0 { spec.transform = transforms[Int(config.transform)] }
    if type == .threshold {
        if config.condition != 0 {
            guard (1...conditions.count).contains(Int(config.condition)) else {
                throw InvalidMonitor("config.condition \(config.condition) is unknown")
            }
            spec.condition = conditions[Int(config.condition) - 1]
        }
        if !config.value.isNaN { spec.value = config.value }
    }
    spec.severity = try severity(config.severity, "config.severity")
    if type == .threshold {
        // What only a threshold has (resmond refuses it on the others).
        if !config.cancel_value.isNaN { spec.cancelValue = config.cancel_value }
        if control.samples != 0 { spec.samples = Int(control.samples) }
        if control.cancel_samples != 0 { spec.cancelSamples = Int(control.cancel_samples) }
    }
    if type != .watermark {
        spec.cancelSeverity =
            config.cancel_severity == RESMON_SEVERITY_NONE ? "none" : try severity(config.cancel_severity, "config.cancel_severity")
    }
    if type == .watermark {
        switch config.watermark {
        case Int32(RESMON_WATERMARK_HIGH.rawValue): spec.mark = "high"
        case Int32(RESMON_WATERMARK_LOW.rawValue): spec.mark = "low"
        default: throw InvalidMonitor("config.watermark \(config.watermark) is not RESMON_WATERMARK_HIGH or RESMON_WATERMARK_LOW")
        }
    }
    if type == .leakyBucket {
        if !config.bucket_size.isNaN { spec.bucketSize = config.bucket_size }
        if !config.fill_value.isNaN { spec.fillValue = config.fill_value }
    }
    if control.monitoring_rate != 0 { spec.monitoringRate = Double(control.monitoring_rate) }
    if control.micro_monitoring_rate != 0 { spec.microMonitoringRate = Int(control.micro_monitoring_rate) }
    if control.monitoring_interval != 0 { spec.monitoringInterval = Double(control.monitoring_interval) }
    if control.tolerance != 0 { spec.tolerance = control.tolerance }
    if control.logging_rate != 0 { spec.loggingRate = Double(control.logging_rate) }
    if control.data_capture != 0 { spec.dataCapture = true }
    spec.start = false
    return spec
}

private func severity(_ level: Int32, _ field: String) throws(InvalidMonitor) -> Severity {
    guard let kind = Severity.Kind(level: Int(level)) else { throw InvalidMonitor("\(field) \(level) is not a syslog priority (0 to 7)") }
    return Severity(kind)
}

@_cdecl("resmon_monitor_config_init")
public func resmonMonitorConfigInit(_ config: UnsafeMutablePointer<resmon_monitor_config>?) {
    guard let config else { return }
    config.pointee = resmon_monitor_config(
        key: nil, name: nil, type: Int32(RESMON_THRESHOLD.rawValue), transform: Int32(RESMON_TRANSFORM_NONE.rawValue), condition: 0,
        value: .nan, cancel_value: .nan, severity: LOG_WARNING, cancel_severity: LOG_NOTICE,
        watermark: Int32(RESMON_WATERMARK_HIGH.rawValue), bucket_size: .nan, fill_value: .nan)
}

@_cdecl("resmon_monitor_control_init")
public func resmonMonitorControlInit(_ control: UnsafeMutablePointer<resmon_monitor_control>?) {
    guard let control else { return }
    control.pointee = resmon_monitor_control()
    control.pointee.location = Int32(RESMON_DAEMON.rawValue)
    control.pointee.samples = 1
}

@_cdecl("resmon_monitor_create")
public func resmonMonitorCreate(
    _ session: OpaquePointer?, _ config: UnsafePointer<resmon_monitor_config>?, _ control: UnsafeMutablePointer<resmon_monitor_control>?,
    _ out: UnsafeMutablePointer<resmon_handle>?
) -> Int32 {
    guard let config, let control, let out else { return failure(EINVAL, "resmon_monitor_create: config, control or out is NULL") }
    out.pointee = 0
    guard control.pointee.location == Int32(RESMON_DAEMON.rawValue) else {
        if control.pointee.location == Int32(RESMON_INLINE.rawValue) {
            guard let object = Session.from(session) else { return failure(EINVAL, "the session is NULL") }
            return createInline(object, config.pointee, control, out)
        }
        return failure(EINVAL, "control.location \(control.pointee.location) is not RESMON_DAEMON or RESMON_INLINE")
    }
    let spec: MonitorSpec
    do {
        spec = try monitorSpec(config.pointee, control.pointee)
    } catch {
        return failure(EINVAL, error.message)
    }
    return call(session) { session throws(ClientError) in
        guard let created = try session.client.createMonitors([spec]).first else {
            throw .malformedResponse("the create answered no monitor")
        }
        copy(created.id.utf8.count < 37 ? created.id : "", into: &control.pointee.uid)
        out.pointee = session.handle(for: created.id)
    }
}

@_cdecl("resmon_monitor_find")
public func resmonMonitorFind(_ session: OpaquePointer?, _ uid: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<resmon_handle>?) -> Int32 {
    guard let uid, let out else { return failure(EINVAL, "resmon_monitor_find: uid or out is NULL") }
    out.pointee = 0
    return call(session) { session throws(ClientError) in
        let info = try session.client.monitor(String(cString: uid))
        out.pointee = session.handle(for: info.id)
    }
}

/// Runs `body` with the uid of a handle of the session.
private func withMonitor(
    _ session: OpaquePointer?, _ handle: resmon_handle, _ body: (Session, String) throws(ClientError) -> Void
) -> Int32 {
    guard let object = Session.from(session) else { return failure(EINVAL, "the session is NULL") }
    guard let uid = object.uid(of: handle) else { return failure(EINVAL, "handle \(handle) is not a monitor of this session") }
    return call(session) { session throws(ClientError) in try body(session, uid) }
}

private func perform(_ action: String, _ session: OpaquePointer?, _ handle: resmon_handle) -> Int32 {
    if let object = Session.from(session), let result = inlineAction(object, handle, action) { return result }
    return withMonitor(session, handle) { session, uid throws(ClientError) in try session.client.perform(action, monitor: uid) }
}

@_cdecl("resmon_monitor_start")
public func resmonMonitorStart(_ session: OpaquePointer?, _ handle: resmon_handle) -> Int32 { perform("start", session, handle) }

@_cdecl("resmon_monitor_stop")
public func resmonMonitorStop(_ session: OpaquePointer?, _ handle: resmon_handle) -> Int32 { perform("stop", session, handle) }

@_cdecl("resmon_monitor_pause")
public func resmonMonitorPause(_ session: OpaquePointer?, _ handle: resmon_handle) -> Int32 { perform("pause", session, handle) }

@_cdecl("resmon_monitor_resume")
public func resmonMonitorResume(_ session: OpaquePointer?, _ handle: resmon_handle) -> Int32 { perform("resume", session, handle) }

@_cdecl("resmon_monitor_reset")
public func resmonMonitorReset(_ session: OpaquePointer?, _ handle: resmon_handle) -> Int32 { perform("reset", session, handle) }

@_cdecl("resmon_monitor_reset_notification")
public func resmonMonitorResetNotification(_ session: OpaquePointer?, _ handle: resmon_handle) -> Int32 {
    perform("reset-notification", session, handle)
}

@_cdecl("resmon_monitor_delete")
public func resmonMonitorDelete(_ session: OpaquePointer?, _ handle: resmon_handle) -> Int32 {
    if let object = Session.from(session), let result = inlineAction(object, handle, "delete") { return result }
    return withMonitor(session, handle) { session, uid throws(ClientError) in
        try session.client.deleteMonitor(uid)
        session.forget(handle)
    }
}

@_cdecl("resmon_monitor_get_control")
public func resmonMonitorGetControl(_ session: OpaquePointer?, _ handle: resmon_handle, _ out: UnsafeMutablePointer<resmon_monitor_control>?) -> Int32 {
    guard let out else { return failure(EINVAL, "resmon_monitor_get_control: out is NULL") }
    if let object = Session.from(session), let control = inlineControl(object, handle) {
        out.pointee = control
        return 0
    }
    return withMonitor(session, handle) { session, uid throws(ClientError) in
        let spec = try session.client.monitor(uid).spec
        var control = resmon_monitor_control()
        control.location = Int32(RESMON_DAEMON.rawValue)
        control.monitoring_rate = UInt32(clamping: Int((spec.monitoringRate ?? 0).rounded()))
        control.micro_monitoring_rate = UInt32(clamping: spec.microMonitoringRate ?? 0)
        control.monitoring_interval = UInt32(clamping: Int((spec.monitoringInterval ?? 0).rounded()))
        control.tolerance = spec.tolerance ?? 0
        control.samples = UInt32(clamping: spec.samples ?? 1)
        control.cancel_samples = UInt32(clamping: spec.cancelSamples ?? spec.samples ?? 1)
        control.logging_rate = UInt32(clamping: Int((spec.loggingRate ?? 0).rounded()))
        control.data_capture = spec.dataCapture == true ? 1 : 0
        copy(uid.utf8.count < 37 ? uid : "", into: &control.uid)
        out.pointee = control
    }
}

@_cdecl("resmon_monitor_get_state")
public func resmonMonitorGetState(_ session: OpaquePointer?, _ handle: resmon_handle, _ out: UnsafeMutablePointer<resmon_monitor_state>?) -> Int32 {
    guard let out else { return failure(EINVAL, "resmon_monitor_get_state: out is NULL") }
    if let object = Session.from(session), let state = inlineState(object, handle) {
        out.pointee = state
        return 0
    }
    return withMonitor(session, handle) { session, uid throws(ClientError) in
        let state: MonitorStateInfo = try session.client.get("/v1/monitors/\(uid)/state")
        var phase = RESMON_CLEAR
        switch state.phase {
        case "pending": phase = RESMON_PENDING
        case "raised": phase = RESMON_RAISED
        case "pendingCancel": phase = RESMON_PENDING_CANCEL
        default: phase = RESMON_CLEAR
        }
        out.pointee = resmon_monitor_state(
            phase: Int32(phase.rawValue), count: UInt32(clamping: state.count), running: state.running ? 1 : 0,
            last_value: state.lastValue ?? .nan, last_time: state.lastEvaluated ?? .nan, watermark_value: state.watermark ?? .nan,
            watermark_time: state.watermarkTime ?? .nan, bucket_level: state.level ?? .nan)
    }
}
