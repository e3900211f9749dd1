import Statistics
import Storage

/// Template instances' ids changed twice: from one per resource (`<template>.<resource>`) to one
/// per statistic (issue 22, attack 4), then to a scheme whose readable and hashed forms cannot
/// meet (attack 5). An instance's saved state stored under an earlier id is taken over, once, by
/// the statistic that id stood for, and statistics a template leaves without an instance are
/// logged and said in its state.
extension MonitorEngine {
    /// Earlier ids → the current id of the statistic each stood for, per scheme: a per-resource
    /// id the last of its resource's selected statistics in order, an FNV-1a one the first that
    /// had it (as each scheme gave them out).
    struct LegacyIDs {
        var perResource: [String: String] = [:]
        var fnv: [String: String] = [:]

        /// From the selected statistics, in order, with their current ids.
        init(_ selected: [(id: String, descriptor: StatisticDescriptor)], template: String) {
            for (id, descriptor) in selected {
                perResource[MonitorEngine.legacyInstanceID(template: template, descriptor: descriptor)] = id
                let earlier = MonitorEngine.fnvInstanceID(template: template, descriptor: descriptor)
                if fnv[earlier] == nil { fnv[earlier] = id }
            }
        }
    }

    /// The saved state of the pre-upgrade instance `descriptor`'s new instance `id` replaces, if
    /// `legacy` says this is the statistic it watched and nothing took it over yet; `adopted` is
    /// then its old id. The latest scheme's first.
    func legacyState(
        of descriptor: StatisticDescriptor, for id: String, _ template: String, _ legacy: LegacyIDs,
        core: inout Core, adopted: inout String?
    ) throws -> SavedState? {
        let earlier = [
            (MonitorEngine.fnvInstanceID(template: template, descriptor: descriptor), legacy.fnv),
            (MonitorEngine.legacyInstanceID(template: template, descriptor: descriptor), legacy.perResource)
        ]
        for (old, stoodFor) in earlier {
            guard old != id, stoodFor[old] == id, core.indexByID[old] == nil, !core.legacyAdopted.contains(old),
                let state = try store.savedInstanceState(old)
            else { continue }
            core.legacyAdopted.insert(old)
            adopted = old
            return state
        }
        return nil
    }

    /// Writes the adopting instances' state and forgets the old ids' rows, in one transaction;
    /// when that cannot be written, the old rows stay (not taken over again in this run).
    func adoptLegacyStates(_ adoptions: [(legacy: String, index: Int)], core: inout Core) {
        guard !adoptions.isEmpty else { return }
        let ids = adoptions.map(\.legacy)
        _ = try? commit(events: [], saving: adoptions.map(\.index), core: &core) { database in
            try MonitorStore.forgetInstances(ids, in: database)
        }
        for (old, index) in adoptions {
            report(.problem("template instance \(old) is now \(core.definitions.id(index)) (instance ids changed form): its state carried over"))
        }
    }

    /// Logs, once until it leaves none again, that a template left selected statistics unwatched.
    func noteUnwatched(template id: String, _ unwatched: [(key: String, reason: String)], core: inout Core) {
        guard let first = unwatched.first else {
            core.unwatchedNoted.remove(id)
            return
        }
        guard core.unwatchedNoted.insert(id).inserted else { return }
        report(.problem("template \(id) leaves \(unwatched.count) selected statistics without an instance, unwatched: \(first.key): \(first.reason)"))
    }
}
