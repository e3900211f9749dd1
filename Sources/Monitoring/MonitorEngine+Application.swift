import Events
import ResmonAPI

/// Events an application's own monitors found (`POST /v1/events`: libresmon's inline monitors
/// with `forward`): appended to the log under the engine's lock, through the same storm limits
/// and the same commit and publication as the engine's own events, so streams, sinks and
/// filters see them like any other. They never touch a monitor of resmond's.
extension MonitorEngine {
    /// Appends `event` (its id, `cancels` and storm accounting are the engine's), found by an
    /// application of uid `caller`, and returns it as stored. Refuses (`conflict`) a monitor id
    /// that is one of resmond's monitors; holds back (`quota`, counted into the next
    /// `eventStorm` summary) what the storm limits do not admit, as for resmond's monitors: a
    /// raise, and a cancel whose raise was not logged. A cancel of a logged raise always passes.
    public func appendApplicationEvent(_ event: EventRecord, caller: Int, now: Double) throws(MonitorError) -> EventRecord {
        guard let monitorID = event.monitorId else { throw MonitorError(kind: .invalid, message: "monitorId: required") }
        return try core.withLock { core throws(MonitorError) -> EventRecord in
            if core.indexByID[monitorID] != nil {
                throw MonitorError(
                    kind: .conflict, message: "monitorId \(monitorID) is one of resmond's monitors: an application's events need an id of their own")
            }
            var event = event
            event.id = 0
            event.cancels = nil
            if event.type.isCancel, let raised = core.applicationRaises.raise(of: caller, monitor: monitorID) {
                event.cancels = raised
                core.storm.charge(owner: caller, now: now)
            } else {
                var hasher = Hasher()
                hasher.combine(caller)
                hasher.combine(monitorID)
                // Storm buckets by a negative key: resmond's monitors have their slot indexes.
                let bucket = -1 - (hasher.finalize() & Int.max)
                guard core.storm.admit(bucket, owner: caller, now: now) else {
                    let perUser = caller == 0 ? "" : ", \(Int(core.storm.perUserPerSecond)) a second for uid \(caller)"
                    throw MonitorError(
                        kind: .quota,
                        message: "held back by the event storm limits (\(core.storm.perMonitorPerMinute) a minute per monitor\(perUser), "
                            + "\(core.storm.maximumPerSecond) a second in all): counted in the next eventStorm event")
                }
            }
            // Retention counts it against the application's uid, not root's (issue 22).
            guard let stored = try commit(events: [event], saving: [], core: &core, owner: caller).first else {
                throw MonitorError(kind: .storage, message: "the event was not stored")
            }
            if event.type.isCancel {
                core.applicationRaises.forget(of: caller, monitor: monitorID)
            } else {
                core.applicationRaises.remember(stored.id, of: caller, monitor: monitorID)
            }
            return stored
        }
    }
}

/// Applications' logged raises (`monitorId` → event id), per uid, for their cancels' `cancels`.
/// Bounded per uid and in all, root apart: one uid's raises never cancelled fill its own share
/// only, never another uid's or root's (issue 22). Past its share a raise is still logged, and
/// its cancel is rate-limited like a raise.
struct ApplicationRaises {
    /// Raises remembered for one uid other than root (its monitors' quota is as many).
    static let perUser = 1_000
    /// For all uids other than root together, and for root alone.
    static let othersInAll = 10_000
    static let root = 10_000

    private var byOwner: [Int: [String: Int64]] = [:]
    /// How many are remembered for uids other than root.
    private var others = 0

    func raise(of owner: Int, monitor: String) -> Int64? { byOwner[owner]?[monitor] }

    /// Remembers `id` as uid `owner`'s raise of `monitor`, when its share has room (a monitor
    /// raised again replaces its entry).
    mutating func remember(_ id: Int64, of owner: Int, monitor: String) {
        let count = byOwner[owner]?.count ?? 0
        if byOwner[owner]?[monitor] == nil {
            if owner == 0 {
                guard count < ApplicationRaises.root else { return }
            } else {
                guard count < ApplicationRaises.perUser, others < ApplicationRaises.othersInAll else { return }
                others += 1
            }
        }
        byOwner[owner, default: [:]][monitor] = id
    }

    mutating func forget(of owner: Int, monitor: String) {
        guard byOwner[owner]?.removeValue(forKey: monitor) != nil else { return }
        if owner != 0 { others -= 1 }
        if byOwner[owner]?.isEmpty == true { byOwner[owner] = nil }
    }
}
