/// Per-uid bounds on monitors: one ordinary socket user's templates made an instance per
/// statistic it pushed (437 MB, 2 cycles in 20 s for everyone; issue 22). A uid other than root
/// has at most `perUidLimit` monitors, its templates' instances included, and a template at
/// most `maximumInstances` instances whoever owns it.
extension MonitorEngine {
    /// The monitors (instances included) one uid other than root may have.
    public static let perUidLimit = 1_000
    /// The instances one template may have; beyond, matching statistics get none (logged).
    public static let maximumInstances = 1_000

    /// How many monitors `owner` has now, its templates' instances included.
    func monitorCount(ownedBy owner: Int, _ core: Core) -> Int {
        // Those a create is storing count already: two requests at once cannot pass the quota.
        var count = core.claims.byOwner[owner] ?? 0
        for index in core.indexByID.values where core.definitions.owner(index) == owner { count += 1 }
        return count
    }

    /// Refuses `adding` more monitors for `owner` when that would pass its quota (root has none).
    func checkQuota(owner: Int, adding: Int, _ core: Core) throws(MonitorError) {
        guard owner != 0 else { return }
        let count = monitorCount(ownedBy: owner, core)
        guard count + adding > MonitorEngine.perUidLimit else { return }
        throw MonitorError(
            kind: .quota,
            message:
                "uid \(owner) has \(count) monitors (its templates' instances included) and may have at most \(MonitorEngine.perUidLimit); delete some first")
    }

    /// Whether a template may make one more instance now, given its owner's count so far
    /// (`owned`, kept by the caller across one resolution). The first refusal of each
    /// template is logged, once until it may again.
    func mayAddInstance(template index: Int, instances: Int, owner: Int, owned: inout [Int: Int], core: inout Core) -> Bool {
        let id = core.definitions.id(index)
        var reason: String?
        if instances >= MonitorEngine.maximumInstances {
            reason = "it has \(instances) instances, the most a template may have"
        } else if owner != 0 {
            let count = owned[owner] ?? monitorCount(ownedBy: owner, core)
            owned[owner] = count
            if count >= MonitorEngine.perUidLimit {
                reason = "uid \(owner) has \(count) monitors, the most one uid other than root may have"
            }
        }
        guard let reason else {
            core.instanceQuotaNoted.remove(id)
            return true
        }
        if core.instanceQuotaNoted.insert(id).inserted {
            report(.problem("template \(id) makes no more instances: \(reason) (statistics it selects beyond stay unwatched)"))
        }
        return false
    }
}
