import ResmonAPI
import Statistics

/// Placing monitors in the engine's flat arrays and taking them out: a slot, its rate group
/// (in dependency order), its side state, and the collector's sampling requests.
extension MonitorEngine {
    /// Places a definition in a slot and its rate group.
    func add(_ definition: MonitorDefinition, to core: inout Core) -> Int {
        let spec = definition.spec
        let handle = definition.key.flatMap { table.handle(for: $0.text) }
        let bound = definition.key.flatMap { table.sample(forKey: $0.text)?.descriptor.upperBound } ?? .nan
        var slot = ThresholdSlot(
            kind: definition.kind,
            handle: handle.map { $0.index } ?? -1, generation: handle?.generation ?? 0, transform: definition.transform,
            condition: definition.condition, threshold: spec.value ?? 0, samples: Int32(spec.samples ?? 1),
            cancelSamples: Int32(spec.cancelSamples ?? spec.samples ?? 1), capture: spec.dataCapture ?? false,
            running: spec.start ?? true)
        // startedAt is set by the first evaluation, on the evaluation clock.
        let settings = SlotSettings(
            tolerance: spec.tolerance ?? 0, cancelThreshold: spec.cancelValue ?? .nan,
            upperBound: definition.transform == .percent ? bound : .nan, loggingRate: spec.loggingRate ?? 0,
            interval: spec.monitoringInterval ?? 0)
        // A percentage's bound is looked up again when its statistic comes back: it needs the entry.
        slot.tuned = !settings.isDefault || definition.transform == .percent
        let index: Int
        if let reused = core.free.popLast() {
            index = reused
            core.definitions.place(definition, at: index)
            core.slots[index] = slot
        } else {
            index = core.slots.count
            core.definitions.place(definition, at: index)
            core.slots.append(slot)
        }
        core.settings[index] = slot.tuned ? settings : nil
        core.lastRaiseEvent[index] = nil
        core.indexByID[definition.id] = index
        setSideState(index, for: definition, &core)
        if definition.spec.precondition?.armed == true {
            core.slots[index].needsArming = true
            core.slots[index].armed = false
        }
        core.slots[index].stale = definition.spec.staleAfter != nil
        core.slots[index].dependent = definition.spec.precondition?.monitor != nil
        if case .aggregate = definition.target { core.slots[index].isAggregate = true }
        if let monitor = definition.spec.precondition?.monitor {
            core.dependencies[index] = (monitor, definition.spec.precondition?.raised ?? true)
            var depth = 1
            var next = core.indexByID[monitor]
            while let current = next, let upstream = core.dependencies[current], depth < 64 {
                depth += 1
                next = core.indexByID[upstream.monitor]
            }
            core.depth[index] = depth
        }
        switch definition.target {
        case .key: break
        case .aggregate(let selector, let function):
            core.aggregates[index] = AggregateMembers(selector: selector, function: function)
            core.resolvedVersion = .max
        case .template(let selector):
            // A template is not evaluated itself: its instances are.
            core.templates[index] = TemplateInstances(selector: selector)
            core.resolvedVersion = .max
            return index
        }
        // Dependents go after what they depend on (members are kept in depth order).
        // (In place: copying the members out and back made creating n monitors cost n².)
        let depth = core.depth[index] ?? 0
        var position = core.groups[definition.rate]?.members.count ?? 0
        while position > 0, depth < core.depth[core.groups[definition.rate]!.members[position - 1]] ?? 0 { position -= 1 }
        core.groups[definition.rate, default: Group()].members.insert(index, at: position)
        if let key = definition.key { countSampling(key.subsystem, definition.rate, by: 1, &core) }
        if definition.rate < step { scheduleChanged() }
        return index
    }

    /// Monitors reading a subsystem at a rate: the collector hears of a (subsystem, rate) pair
    /// when its first monitor comes and when its last goes, not of every monitor (10,000
    /// requests by monitor id cost the collector ~1 MB).
    private func countSampling(_ subsystem: String, _ rate: Double, by change: Int, _ core: inout Core) {
        let before = core.samplingCounts[subsystem, default: [:]][rate, default: 0]
        let after = before + change
        core.samplingCounts[subsystem, default: [:]][rate] = after > 0 ? after : nil
        if core.samplingCounts[subsystem]?.isEmpty == true { core.samplingCounts[subsystem] = nil }
        let requester = "monitors:\(subsystem)@\(rate)"
        if before == 0 && after > 0 { samplingRequest(subsystem, rate, requester) }
        if before > 0 && after <= 0 { samplingRequest(subsystem, nil, requester) }
    }

    /// Gives a slot fresh side state: a watermark's or leaky bucket's (in `kinds`, at the
    /// slot's `side`), and noData's for a staleAfter.
    func setSideState(_ index: Int, for definition: MonitorDefinition, _ core: inout Core) {
        clearSideState(index, &core)
        let kind: KindState? =
            switch definition.kind {
            case .threshold: nil
            case .watermarkHigh, .watermarkLow: .watermark(Watermark(events: definition.spec.events ?? false))
            case .leakyBucket:
                .bucket(
                    LeakyBucket(
                        size: definition.spec.bucketSize ?? 1, fill: definition.spec.fillValue ?? 1,
                        period: definition.rate))
            }
        if let kind { core.slots[index].side = core.kinds.add(kind) }
        core.staleness[index] = definition.spec.staleAfter.map { StaleState(staleAfter: $0) }
    }

    private func clearSideState(_ index: Int, _ core: inout Core) {
        if core.slots[index].side >= 0 {
            core.kinds.remove(core.slots[index].side)
            core.slots[index].side = -1
        }
        core.staleness[index] = nil
    }

    func remove(_ index: Int, from core: inout Core) {
        guard core.definitions.contains(index) else { return }
        let id = core.definitions.id(index)
        let rate = core.definitions.rate(index)
        if let subsystem = core.definitions.subsystem(index) { countSampling(subsystem, rate, by: -1, &core) }
        core.indexByID[id] = nil
        core.groups[rate]?.members.removeAll { $0 == index }
        if core.groups[rate]?.members.isEmpty == true { core.groups[rate] = nil }
        core.definitions.clear(index)
        core.slots[index].running = false
        core.captures[index] = nil
        clearSideState(index, &core)
        core.settings[index] = nil
        core.lastRaiseEvent[index] = nil
        core.outbox[index] = nil
        core.aggregates[index] = nil
        core.templates[index] = nil
        core.dependencies[index] = nil
        core.depth[index] = nil
        core.storm.forget(index)
        core.free.append(index)
    }
}
