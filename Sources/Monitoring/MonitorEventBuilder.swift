import Events
import ResmonAPI
import Statistics

/// Makes the events monitors log, one builder per kind: raise, cancel, noData, watermark,
/// resource change and the event-storm summary. It knows nothing of slots: the engine hands it
/// the monitor's definition and what the evaluation found. The message words come from
/// EventText.swift (`subject`, `shown`). Events leave here with id 0; the event log numbers them.
struct MonitorEventBuilder: Sendable {
    /// The host every event names, and the fleet labels under each event's own.
    let identity: HostIdentity
    var host: String { identity.host }
    /// Where the words look up units and process or unit names.
    let table: SampleTable

    /// A monitor's event's labels: the fleet labels, the monitor's over them, and `uid`, its
    /// owner's, over all (a monitor's labels cannot name it, nor `source`).
    func labels(of definition: MonitorDefinition) -> [String: String] {
        var labels = identity.labeling(definition.spec.labels?.filter { !MonitorDefinition.serverLabels.contains($0.key) } ?? [:])
        labels["uid"] = String(definition.owner)
        return labels
    }

    func noData(_ definition: MonitorDefinition, time: Double) -> EventRecord {
        let spec = definition.spec
        return EventRecord(
            id: 0, time: time, code: EventType.Kind.noData.code, type: .noData,
            severity: definition.severity, monitorId: definition.id, monitorName: spec.name,
            key: definition.targetText, value: nil, threshold: spec.staleAfter, host: host,
            message: "\(definition.subject(in: table)) has had no value for \(MonitorDefinition.number(spec.staleAfter ?? 0)) s",
            cancels: nil, labels: labels(of: definition), annotations: spec.annotations ?? [:])
    }

    /// The monitor's statistic went away (`vanished`) or came back.
    func resource(_ definition: MonitorDefinition, vanished: Bool, time: Double) -> EventRecord {
        let spec = definition.spec
        return EventRecord(
            id: 0, time: time, code: EventType.Kind.resourceConfigurationChange.code,
            type: .resourceConfigurationChange, severity: .notice,
            monitorId: definition.id, monitorName: spec.name, key: definition.targetText, value: nil, threshold: nil,
            host: host, message: "\(definition.subject(in: table)) " + (vanished ? "went away; the monitor reads unknown until it returns" : "is back"),
            cancels: nil, labels: labels(of: definition), annotations: spec.annotations ?? [:])
    }

    func watermark(_ definition: MonitorDefinition, value: Double, previous: Double, time: Double) -> EventRecord {
        let spec = definition.spec
        let message =
            "\(definition.subject(in: table)) \(spec.transform == Transform.none ? "" : "(\(spec.transform ?? "")) ")\(spec.mark ?? "high") watermark moved to \(definition.shown(value, in: table)) (from \(definition.shown(previous, in: table)))"
        return EventRecord(
            id: 0, time: time, code: EventType.Kind.watermark.code, type: .watermark,
            severity: definition.severity, monitorId: definition.id, monitorName: spec.name,
            key: definition.targetText, value: value, threshold: previous.isFinite ? previous : nil, host: host,
            message: message, cancels: nil, labels: labels(of: definition), annotations: spec.annotations ?? [:])
    }

    /// A threshold's or a leaky bucket's raise; `repeated` says "(still)" on a repeat of a
    /// logged raise.
    func raise(_ definition: MonitorDefinition, value: Double, time: Double, repeated: Bool) -> EventRecord {
        let spec = definition.spec
        if definition.kind == .leakyBucket {
            let message =
                "\(definition.subject(in: table)) grew faster than \(MonitorDefinition.number(spec.fillValue ?? 0)) per \(MonitorDefinition.number(definition.rate)) s: its leaky bucket of \(MonitorDefinition.number(spec.bucketSize ?? 0)) is empty"
                + (repeated ? " (still)" : "")
            return EventRecord(
                id: 0, time: time, code: EventType.Kind.counterRateExceeded.code, type: .counterRateExceeded,
                severity: definition.severity, monitorId: definition.id, monitorName: spec.name,
                key: definition.targetText, value: value.isFinite ? value : nil, threshold: spec.fillValue, host: host,
                message: message, cancels: nil, labels: labels(of: definition), annotations: spec.annotations ?? [:])
        }
        let type = definition.raiseType(value: value)
        let message =
            "\(definition.subject(in: table)) \(spec.transform == Transform.none ? "" : "(\(spec.transform ?? "")) ")is \(definition.shown(value, in: table)), \(type.rawValue) \(definition.shown(spec.value ?? 0, in: table))"
            + (repeated ? " (still)" : "")
        return EventRecord(
            id: 0, time: time, code: type.code, type: EventType(type), severity: definition.severity,
            monitorId: definition.id, monitorName: spec.name, key: definition.targetText,
            value: value.isFinite ? value : nil, threshold: spec.value, host: host, message: message,
            cancels: nil, labels: labels(of: definition), annotations: spec.annotations ?? [:])
    }

    /// Ends what the event `cancels` raised (0: nothing known, the field is left out).
    func cancel(_ definition: MonitorDefinition, cancels: Int64, reason: String, value: Double, time: Double) -> EventRecord {
        let spec = definition.spec
        return EventRecord(
            id: 0, time: time, code: EventType.Kind.canceled.code, type: .canceled,
            severity: definition.cancelSeverity ?? .notice, monitorId: definition.id,
            monitorName: spec.name, key: definition.targetText, value: value.isFinite ? value : nil,
            threshold: definition.kind == .leakyBucket ? spec.fillValue : spec.value, host: host,
            message: "\(spec.name ?? definition.id): \(reason)",
            cancels: cancels > 0 ? cancels : nil, labels: labels(of: definition), annotations: spec.annotations ?? [:])
    }

    /// What the storm limits held back since the last summary, and the limits that did it.
    func storm(count: Int, monitors: Int, since: Double, now: Double, perMonitorPerMinute: Int, maximumPerSecond: Int) -> EventRecord {
        let seconds = Int((now - since).rounded(.up))
        return EventRecord(
            id: 0, time: now, code: EventType.Kind.eventStorm.code, type: .eventStorm,
            severity: .warning, monitorId: nil, monitorName: nil, key: nil, value: Double(count),
            threshold: nil, host: host,
            message: "event storm: \(count) raise events from \(monitors) monitors held back in the last \(max(1, seconds)) s "
                + "(limits: \(perMonitorPerMinute) per monitor per minute, \(maximumPerSecond) per second)",
            cancels: nil, labels: identity.labels, annotations: [:])
    }
}
