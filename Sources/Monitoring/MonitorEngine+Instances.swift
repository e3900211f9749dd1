import Statistics
import Storage

/// Template instances' ids changed from one per resource (`<template>.<resource>`) to one per
/// statistic (issue 22, attack 4): an instance's saved state stored under the old id is taken
/// over, once, by the statistic that id stood for, and statistics a template leaves without an
/// instance are logged and said in its state.
extension MonitorEngine {
    /// The saved state of the pre-upgrade instance `descriptor`'s new instance `id` replaces, if
    /// `legacy` (old id → the new id it stands for now) says this is the statistic it watched
    /// and nothing took it over yet; `adopted` is then its old id.
    func legacyState(
        of descriptor: StatisticDescriptor, for id: String, _ template: String, _ legacy: [String: String],
        core: inout Core, adopted: inout String?
    ) throws -> SavedState? {
        let old = MonitorEngine.legacyInstanceID(template: template, descriptor: descriptor)
        guard old != id, legacy[old] == id, core.indexByID[old] == nil, !core.legacyAdopted.contains(old),
            let state = try store.savedInstanceState(old)
        else { return nil }
        core.legacyAdopted.insert(old)
        adopted = old
        return state
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
            report(.problem("template instance \(old) is now \(core.definitions.id(index)) (one instance per statistic): its state carried over"))
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
