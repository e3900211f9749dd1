import Events
import FoundationEssentials
import ResmonAPI
import Statistics
import Storage

/// The members of an aggregate target: the statistics its selector chooses now.
struct AggregateMembers: Sendable {
    let selector: Selector
    let function: AggregateFunction
    var handles: [StatisticHandle] = []

    init(selector: Selector, function: AggregateFunction) {
        self.selector = selector
        self.function = function
    }

    /// The aggregate of the members' latest readings, skipping unknown ones: the value, the
    /// same function over raw totals (for `change` and `rate`), and the newest member's time.
    /// An empty set (or all unknown) is unknown, except for `count`, which is then 0.
    func reading(
        values columns: [Double], raws: [Double], times: [Double], generations: [UInt32],
        resolvedAt: Double
    ) -> (value: Double, raw: Double, time: Double) {
        // One pass, no allocation: the function over the values and over the raw totals.
        var count = 0
        var value = 0.0, raw = 0.0
        var time = -Double.infinity
        for handle in handles {
            let slot = Int(handle.index)
            guard slot < generations.count, generations[slot] == handle.generation else { continue }
            let member = columns[slot]
            guard member.isFinite else { continue }
            let memberRaw = raws[slot]
            if count == 0 {
                value = member
                raw = memberRaw
            } else {
                switch function {
                case .sum:
                    value += member
                    raw += memberRaw
                case .average:
                    // A running mean: finite members near ±1.8e308 have a finite mean, where
                    // their sum would not.
                    value += (member - value) / Double(count + 1)
                    raw += (memberRaw - raw) / Double(count + 1)
                case .count:
                    break
                case .min:
                    value = Swift.min(value, member)
                    raw = Swift.min(raw, memberRaw)
                case .max:
                    value = Swift.max(value, member)
                    raw = Swift.max(raw, memberRaw)
                }
            }
            count += 1
            time = Swift.max(time, times[slot])
        }
        guard count > 0 else {
            // Nothing to read: a count is 0 (say, no process named nginx), anything else unknown.
            return function == .count ? (0, 0, resolvedAt) : (.nan, .nan, resolvedAt)
        }
        if function == .count { return (Double(count), Double(count), time) }
        // Finite members can still sum past ±1.8e308: such a result is unknown, as a reading
        // that is not a number is, rather than a raise with no value to report (issue 22).
        guard value.isFinite else { return (.nan, .nan, time) }
        return (value, raw, time)
    }
}

/// A template's instances: instance monitor id → the key it watches.
struct TemplateInstances: Sendable {
    let selector: Selector
    var instances: [String: String] = [:]
}

extension MonitorEngine {
    /// Brings aggregates' members and templates' instances up to date with the statistics that
    /// exist now: new matching statistics join (or get an instance), vanished ones leave (an
    /// instance that was raised is cancelled as it retires). Called when the sample table's
    /// structure has changed.
    func resolveSelections(now: Double, core: inout Core, changed: inout [Int]) {
        core.resolvedAt = now
        // The table read once, without matching under its lock; each distinct selector is
        // answered once per resolution, from its answers kept up to date with what changed
        // (SelectionCache), new statistics matched within the resolution's CPU budget. A selector not fully answered
        // changes nothing now (no aggregate is computed over half its members) and is finished
        // at the next cycle; each resolution starts with another one, so none waits for ever.
        let round = selections.begin(table.handles())
        let deadline = SelectionCache.deadline()
        var answered: [String: SelectionCache.Selection?] = [:]
        func selected(by selector: Selector) -> SelectionCache.Selection? {
            if let answer = answered[selector.identity] { return answer }
            let answer = selections.select(selector, until: deadline)
            answered[selector.identity] = .some(answer)
            if answer == nil { core.selectionsPending = true }
            return answer
        }
        defer { selections.keep(only: Set(answered.keys)) }
        let aggregateOrder = MonitorEngine.rotated(Array(core.aggregates.keys), by: round, rootFirst: { core.definitions.owner($0) == 0 })
        let templateOrder = MonitorEngine.rotated(Array(core.templates.keys), by: round, rootFirst: { core.definitions.owner($0) == 0 })
        for index in aggregateOrder {
            guard var members = core.aggregates[index] else { continue }
            guard let handles = selected(by: members.selector)?.map(\.handle) else { continue }
            if handles != members.handles {
                members.handles = handles
                core.aggregates[index] = members
                // A new membership makes a new series: the next change or rate starts afresh.
                core.slots[index].previousRaw = .nan
                core.slots[index].previousTime = .nan
            }
        }
        // Instances whose resource went away, retired only once their cancels are written.
        var retiring: [(template: Int, id: String)] = []
        var retiringEvents: [EventRecord] = []
        // Monitors by owner, counted on the first instance a non-root template would add.
        var owned: [Int: Int] = [:]
        for index in templateOrder {
            guard var template = core.templates[index], let definition = core.definitions[index],
                let selection = selected(by: template.selector)
            else { continue }
            var wanted: [String: StatisticDescriptor] = [:]
            for (_, descriptor) in selection {
                wanted[MonitorEngine.instanceID(template: definition.id, descriptor: descriptor)] = descriptor
            }
            for (id, _) in template.instances where wanted[id] == nil {
                if let instance = core.indexByID[id], core.slots[instance].loggedRaised {
                    retiringEvents.append(cancelEvent(instance, core, reason: "its resource went away"))
                }
                retiring.append((index, id))
            }
            for (id, descriptor) in wanted.sorted(by: { $0.key < $1.key }) where template.instances[id] == nil {
                guard core.indexByID[id] == nil, !core.claims.contains(id) else { continue }
                guard mayAddInstance(template: index, instances: template.instances.count, owner: definition.owner, owned: &owned, core: &core)
                else { break }
                guard let instance = makeInstance(id: id, of: definition, for: descriptor) else { continue }
                // Its saved state first: an instance that cannot read it (an I/O error) would
                // start clear while the log says raised. It is made at the next cycle instead.
                let saved: SavedState?
                do {
                    saved = try store.savedInstanceState(id)
                } catch {
                    core.selectionsPending = true
                    continue
                }
                let added = add(instance, to: &core)
                if let saved { apply(saved, to: added, core: &core) }
                if !core.slots[index].running { core.slots[added].running = false }
                core.slots[added].paused = core.slots[index].paused
                template.instances[id] = descriptor.key.text
                if definition.owner != 0 { owned[definition.owner, default: 0] += 1 }
                changed.append(added)
            }
            core.templates[index] = template
        }
        guard !retiring.isEmpty else { return }
        // Memory follows the log: the cancels and the forgotten state are written first; when
        // they cannot be, the instances stay (raised ones raised) and retire at a later cycle.
        let ids = retiring.map(\.id)
        do {
            try commit(events: retiringEvents, saving: [], core: &core) { database in try MonitorStore.forgetInstances(ids, in: database) }
        } catch {
            core.selectionsPending = true
            return
        }
        for (index, id) in retiring {
            if let instance = core.indexByID[id] { remove(instance, from: &core) }
            core.templates[index]?.instances[id] = nil
        }
    }

    /// `keys` in their order (of indexes), those `rootFirst` says are root's first, then the
    /// others started at `round` modulo their number: a uid's costly selectors once kept root's
    /// aggregate at 0 members for 69 s (issue 22, third attack).
    static func rotated(_ keys: [Int], by round: Int, rootFirst: (Int) -> Bool = { _ in false }) -> [Int] {
        let sorted = keys.sorted()
        let root = sorted.filter(rootFirst)
        let others = sorted.filter { !rootFirst($0) }
        guard !others.isEmpty else { return root }
        let start = Int(UInt(bitPattern: round) % UInt(others.count))
        return root + others[start...] + others[..<start]
    }

    /// How many statistics a selection target selects now, and a warning when it selects none:
    /// such a monitor stays unknown (an aggregate) or has no instances (a template) until one
    /// appears, which its reader must be told rather than left to guess.
    func selectionReport(_ index: Int, _ core: Core) -> (members: Int?, warning: String?) {
        let resolved = core.resolvedVersion != .max
        let count: Int
        let what: String
        if let members = core.aggregates[index] {
            count = resolved ? members.handles.count : selections.count(members.selector, in: table)
            what = "it stays unknown until one appears"
        } else if let template = core.templates[index] {
            count = resolved ? template.instances.count : selections.count(template.selector, in: table)
            what = "it has no instances until one appears"
        } else {
            return (nil, nil)
        }
        guard count == 0 else { return (count, nil) }
        let target = core.definitions[index]?.spec.target.description ?? "its target"
        return (0, "\(target) selects no statistic now: \(what) (GET /v1/statistics lists them)")
    }

    /// A template instance's id: the template's, then the resource's identity — for a process
    /// its PID and start time, so a reused PID starts fresh.
    static func instanceID(template: String, descriptor: StatisticDescriptor) -> String {
        var identity = descriptor.key.resource
        if let start = descriptor.labels["start_time"] { identity += "-" + start }
        let kept = identity.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") ? $0 : "_" }
        let id = template + "." + String(kept)
        guard id.utf8.count > 64 else { return id }
        // Too long: a prefix and a hash of the whole, stable across runs (FNV-1a, not hashValue,
        // which Swift seeds per process) so the instance keeps its state across restarts.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in id.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(id.prefix(48)) + "." + String(hash % 1_000_000_000_000)
    }

    /// The monitor a template makes for one statistic: the template's spec on that key, named
    /// after it, with the statistic's labels under the template's.
    func makeInstance(id: String, of template: MonitorDefinition, for descriptor: StatisticDescriptor) -> MonitorDefinition? {
        var spec = template.spec
        spec.id = id
        spec.target = .key(descriptor.key.text)
        spec.template = nil
        spec.name = (template.spec.name ?? template.id) + " (" + descriptor.key.resource + ")"
        spec.labels = descriptor.labels.filter { $0.key != "cmdline" }.merging(template.spec.labels ?? [:]) { $1 }
        guard
            var instance = try? MonitorDefinition(
                spec: spec, owner: template.owner, createdAt: template.createdAt, step: step,
                table: table, lenient: true)
        else { return nil }
        instance.spec.template = template.id
        return instance
    }

    /// The `canceled` events of a template's raised instances, and the instances' ids, without
    /// removing them: what deleting or changing the template writes before memory changes.
    func instanceCancels(of index: Int, reason: String, core: Core, events: inout [EventRecord]) -> [String] {
        guard let template = core.templates[index] else { return [] }
        for id in template.instances.keys {
            guard let instance = core.indexByID[id], core.slots[instance].loggedRaised else { continue }
            events.append(cancelEvent(instance, core, reason: reason))
        }
        return Array(template.instances.keys)
    }

    /// Removes a template's instances (the template is deleted or changed); raised ones cancel.
    func removeInstances(of index: Int, reason: String, core: inout Core, events: inout [EventRecord]) -> [String] {
        guard let template = core.templates[index] else { return [] }
        for id in template.instances.keys {
            guard let instance = core.indexByID[id] else { continue }
            if core.slots[instance].loggedRaised { events.append(cancelEvent(instance, core, reason: reason)) }
            remove(instance, from: &core)
        }
        core.templates[index]?.instances = [:]
        return Array(template.instances.keys)
    }
}
