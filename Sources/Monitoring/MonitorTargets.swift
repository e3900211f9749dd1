import Events
import FoundationEssentials
import ResmonAPI
import ResmonSystem
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
    /// Selected statistics with no instance at the last resolution (a quota, an id another
    /// monitor holds), and the first of them with why: said in the template's state.
    var unwatched = 0
    var unwatchedExample: String?
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
        // Every selector answered first, then the answers applied. Root's first: each gets a
        // share of the budget, cheapest to answer first, then those not done go on in that
        // order with what is left — so a cheap one never waits behind costly ones that churn
        // keeps from finishing (root's `^app:rootr:v$` stayed at 0 members for 38 s behind six
        // of root's own; issue 22, attack 4); then the others' in rotation.
        var rootSelectors: [Selector] = []
        var otherSelectors: [Selector] = []
        for index in aggregateOrder + templateOrder {
            guard let selector = core.aggregates[index]?.selector ?? core.templates[index]?.selector else { continue }
            if core.definitions.owner(index) == 0 { rootSelectors.append(selector) } else { otherSelectors.append(selector) }
        }
        let rootOrder = selections.cheapestFirst(rootSelectors)
        let share = SelectionCache.budget / Double(max(1, rootOrder.count))
        for selector in rootOrder where answered[selector.identity] == nil {
            if let answer = selections.select(selector, until: min(deadline, Clock.threadCPU() + share)) {
                answered[selector.identity] = .some(answer)
            }
        }
        for selector in rootOrder + otherSelectors { _ = selected(by: selector) }
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
        // Instances that took over a pre-upgrade instance's saved state: (its old id, index).
        var adoptions: [(legacy: String, index: Int)] = []
        for index in templateOrder {
            guard var template = core.templates[index], let definition = core.definitions[index],
                let selection = selected(by: template.selector)
            else { continue }
            // Each selected statistic's instance id; ids are injective, so two statistics with
            // one id (or an id another monitor holds) is refused and said, never shared.
            var wanted: [String: StatisticDescriptor] = [:]
            var unwatched: [(key: String, reason: String)] = []
            var ordered: [(id: String, descriptor: StatisticDescriptor)] = []
            for (_, descriptor) in selection {
                let id = MonitorEngine.instanceID(template: definition.id, descriptor: descriptor)
                if let other = wanted[id] {
                    unwatched.append((descriptor.key.text, "its instance id \(id) is \(other.key.text)'s"))
                    continue
                }
                wanted[id] = descriptor
                ordered.append((id, descriptor))
            }
            // What each earlier id stood for, worked out only when a new instance is made.
            var legacy: LegacyIDs?
            for (id, _) in template.instances where wanted[id] == nil {
                if let instance = core.indexByID[id], core.slots[instance].loggedRaised {
                    retiringEvents.append(cancelEvent(instance, core, reason: "its resource went away"))
                }
                retiring.append((index, id))
            }
            var capped = false
            for (id, descriptor) in wanted.sorted(by: { $0.key < $1.key }) where template.instances[id] == nil {
                if capped {
                    unwatched.append((descriptor.key.text, "the template may make no more instances"))
                    continue
                }
                if core.indexByID[id] != nil || core.claims.contains(id) {
                    unwatched.append((descriptor.key.text, "its instance id \(id) is another monitor's"))
                    continue
                }
                guard mayAddInstance(template: index, instances: template.instances.count, owner: definition.owner, owned: &owned, core: &core)
                else {
                    capped = true
                    unwatched.append((descriptor.key.text, "the template may make no more instances"))
                    continue
                }
                guard let instance = makeInstance(id: id, of: definition, for: descriptor) else {
                    unwatched.append((descriptor.key.text, "the template's spec does not apply to it"))
                    continue
                }
                // Its saved state first: an instance that cannot read it (an I/O error) would
                // start clear while the log says raised. It is made at the next cycle instead.
                let saved: SavedState?
                var adopted: String?
                do {
                    if let state = try store.savedInstanceState(id) {
                        saved = state
                    } else {
                        let earlier = legacy ?? LegacyIDs(ordered, template: definition.id)
                        legacy = earlier
                        saved = try legacyState(of: descriptor, for: id, definition.id, earlier, core: &core, adopted: &adopted)
                    }
                } catch {
                    core.selectionsPending = true
                    continue
                }
                let added = add(instance, to: &core)
                if let saved { apply(saved, to: added, core: &core) }
                if let adopted { adoptions.append((adopted, added)) }
                if !core.slots[index].running { core.slots[added].running = false }
                core.slots[added].paused = core.slots[index].paused
                template.instances[id] = descriptor.key.text
                if definition.owner != 0 { owned[definition.owner, default: 0] += 1 }
                changed.append(added)
            }
            template.unwatched = unwatched.count
            template.unwatchedExample = unwatched.first.map { "\($0.key): \($0.reason)" }
            noteUnwatched(template: definition.id, unwatched, core: &core)
            core.templates[index] = template
        }
        adoptLegacyStates(adoptions, core: &core)
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
            if resolved, template.unwatched > 0, let example = template.unwatchedExample {
                return (count, "\(template.unwatched) selected statistics have no instance and stay unwatched (\(example))")
            }
        } else {
            return (nil, nil)
        }
        guard count == 0 else { return (count, nil) }
        let target = core.definitions[index]?.spec.target.description ?? "its target"
        return (0, "\(target) selects no statistic now: \(what) (GET /v1/statistics lists them)")
    }

    /// A template instance's id: the template's, then the statistic's key with its start time —
    /// `<template>.<subsystem>.<resource>[-<start>].<statistic>` (for a process its PID and start
    /// time, so a reused PID starts fresh) when the resource is letters, digits and `_` only and
    /// the start digits, which reads back one way (subsystem and statistic are `[a-z0-9_]+`).
    /// Any other, or an id past 64 bytes, is a readable prefix and `--` and 16 hex digits of a
    /// SHA-256 of template, key and start: a readable id never ends so, so the two forms cannot
    /// meet, and no user can steer a key onto another's hash. Before (issue 22, attack 5), a `.`
    /// in a resource stayed readable and the hash was FNV-1a after a `.`: `app:t_c.b:<hex>` could
    /// spell the id of `app:t c:b`.
    static func instanceID(template: String, descriptor: StatisticDescriptor) -> String {
        let key = descriptor.key
        let start = descriptor.labels["start_time"]
        let identity = key.subsystem + "." + key.resource + (start.map { "-" + $0 } ?? "") + "." + key.statistic
        let id = template + "." + identity
        let readable =
            !key.resource.isEmpty && key.resource.utf8.allSatisfy(MonitorEngine.isWordByte)
            && start.map { !$0.isEmpty && $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } } ?? true
        guard !readable || id.utf8.count > 64 else { return id }
        let digits = String(SHA256.prefix64((template + "\u{0}" + key.text + "\u{0}" + (start ?? "")).utf8), radix: 16)
        let hex = String(repeating: "0", count: 16 - digits.count) + digits
        let kept = String(id.map { MonitorEngine.idCharacter($0) ? $0 : "_" }.prefix(64 - 18))
        return kept + "--" + hex
    }

    /// The id issue 22's fourth attack's fix gave an instance (readable also with a `.` in the
    /// resource, else an FNV-1a after a `.`): its saved state is taken over once, by the
    /// statistic that id then stood for (the first of those that shared it, in order).
    static func fnvInstanceID(template: String, descriptor: StatisticDescriptor) -> String {
        let key = descriptor.key
        let start = descriptor.labels["start_time"]
        let identity = key.subsystem + "." + key.resource + (start.map { "-" + $0 } ?? "") + "." + key.statistic
        let kept = String(identity.map { MonitorEngine.idCharacter($0) ? $0 : "_" })
        let id = template + "." + kept
        let exact = kept == identity && !key.resource.contains("-")
        guard !exact || id.utf8.count > 64 else { return id }
        let hash = MonitorEngine.fnv1a(template + "\u{0}" + key.text + "\u{0}" + (start ?? ""))
        let digits = String(hash, radix: 16)
        let suffix = "." + String(repeating: "0", count: 16 - digits.count) + digits
        return String(id.prefix(64 - suffix.count)) + suffix
    }

    /// The id an instance had before ids were per statistic (`<template>.<resource>`): its
    /// saved state is taken over once, by the statistic that id then stood for.
    static func legacyInstanceID(template: String, descriptor: StatisticDescriptor) -> String {
        var identity = descriptor.key.resource
        if let start = descriptor.labels["start_time"] { identity += "-" + start }
        let kept = identity.map { MonitorEngine.idCharacter($0) ? $0 : "_" }
        let id = template + "." + String(kept)
        guard id.utf8.count > 64 else { return id }
        return String(id.prefix(48)) + "." + String(MonitorEngine.fnv1a(id) % 1_000_000_000_000)
    }

    static func idCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || character == "-" || character == "_" || character == ".")
    }

    /// An ASCII letter, digit or `_`.
    static func isWordByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || byte == 0x5f
    }

    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }

    /// The monitor a template makes for one statistic: the template's spec on that key, named
    /// after it, with the statistic's labels under the template's.
    func makeInstance(id: String, of template: MonitorDefinition, for descriptor: StatisticDescriptor) -> MonitorDefinition? {
        var spec = template.spec
        spec.id = id
        spec.target = .key(descriptor.key.text)
        spec.template = nil
        spec.name = (template.spec.name ?? template.id) + " (" + descriptor.key.resource + ")"
        spec.labels = descriptor.labels.filter { $0.key != "cmdline" && !MonitorDefinition.serverLabels.contains($0.key) }
            .merging(template.spec.labels ?? [:]) { $1 }
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
