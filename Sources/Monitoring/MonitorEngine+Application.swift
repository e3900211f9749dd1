import Events
import ResmonAPI

/// Events an application's own monitors found (`POST /v1/events`: libresmon's inline monitors
/// with `forward`): appended to the log under the engine's lock, through the same storm limits
/// and the same commit and publication as the engine's own events, so streams, sinks and
/// filters see them like any other. They never touch a monitor of resmond's.
extension MonitorEngine {
    /// How many application monitors' logged raises are remembered for their cancels'
    /// `cancels`; past it a raise is still logged, and its cancel is rate-limited like a raise.
    static let applicationRaisesLimit = 10_000

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
            let pairing = "\(caller) \(monitorID)"
            var event = event
            event.id = 0
            event.cancels = nil
            let raise = event.type.isCancel ? nil : pairing
            if event.type.isCancel, let raised = core.applicationRaises[pairing] {
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
            if let raise {
                if core.applicationRaises[raise] != nil || core.applicationRaises.count < MonitorEngine.applicationRaisesLimit {
                    core.applicationRaises[raise] = stored.id
                }
            } else {
                core.applicationRaises[pairing] = nil
            }
            return stored
        }
    }
}
