import Events
import ResmonAPI
import Statistics

/// The hot path: after each sampling cycle, the due rate groups' monitors are evaluated over
/// the flat arrays (`ThresholdSlot`, 96 bytes; no lock per monitor, the engine's one lock held
/// for the cycle), their transitions collected, then turned into events and committed with
/// the state that changed.
extension MonitorEngine {
    /// Evaluates every monitor whose rate group is due at `now` (wall clock), logs what they
    /// find, and writes changed state. Called on the sampling thread after each cycle.
    public func evaluate(now: Double) {
        var pending: [Transition] = []
        var changed: [Int] = []
        // The state before this cycle of each monitor it changes, taken only when a change is
        // found: what the monitor shows while its transition waits in the outbox.
        var backups: [Int: SlotBackup] = [:]
        core.withLock { core in
            retryPendingFiles(core: &core)
            retryOutbox(core: &core)
            table.copyColumns(values: &core.values, raws: &core.raws, times: &core.times, generations: &core.generations)
            var events: [EventRecord] = []
            let version = table.structureVersion
            if version != core.resolvedVersion || core.selectionsPending {
                core.resolvedVersion = version
                core.selectionsPending = false
                resolveSelections(now: now, core: &core, changed: &changed)
            }
            // Groups whose deepest dependent is shallower go first.
            let rates = core.groups.keys.sorted { left, right in
                (core.groups[left]!.members.last.flatMap { core.depth[$0] } ?? 0) < (core.groups[right]!.members.last.flatMap { core.depth[$0] } ?? 0)
            }
            for rate in rates {
                let slack = min(step, rate) / 2
                guard now + slack >= core.groups[rate]!.nextDue else { continue }
                core.groups[rate]!.nextDue = now + rate
                let waiting = !core.outbox.isEmpty
                for index in core.groups[rate]!.members {
                    // Not evaluated past a transition that waits to be written.
                    if waiting && core.outbox[index] != nil { continue }
                    evaluate(index, now: now, core: &core, pending: &pending, changed: &changed, backups: &backups)
                }
            }
            for transition in pending {
                let index = transition.index
                guard core.definitions.contains(index) else { continue }
                let paused = core.slots[index].paused
                switch transition.outcome {
                case .raise, .repeatRaise:
                    guard !paused else { continue }
                    // A repeat of a logged raise says "(still)"; a raise that loggingRate held
                    // back (or the storm limits did) is the first the world hears of it.
                    let repeated = transition.outcome == .repeatRaise && core.slots[index].loggedRaised
                    core.slots[index].notified = true
                    core.slots[index].lastLogged = transition.time
                    // Held back by the storm limits: counted into the summary. A raise held
                    // back leaves nothing for its cancel to end, so that cancel is held too.
                    guard core.storm.admit(index, owner: core.definitions.owner(index), now: now) else {
                        if !repeated { core.slots[index].loggedRaised = false }
                        continue
                    }
                    events.append(builder.raise(eventDefinition(index, core), value: transition.value, time: transition.time, repeated: repeated))
                    core.slots[index].loggedRaised = true
                case .watermark:
                    let side = core.slots[index].side
                    guard !paused, side >= 0, case .watermark(var mark) = core.kinds[side] else { continue }
                    let previous = mark.reported
                    mark.reported = mark.extreme
                    core.kinds[side] = .watermark(mark)
                    core.slots[index].lastLogged = transition.time
                    guard core.storm.admit(index, owner: core.definitions.owner(index), now: now) else { continue }
                    events.append(builder.watermark(eventDefinition(index, core), value: mark.extreme, previous: previous, time: transition.time))
                case .noData:
                    guard !paused, core.storm.admit(index, owner: core.definitions.owner(index), now: now) else { continue }
                    events.append(builder.noData(eventDefinition(index, core), time: transition.time))
                case .dataBack:
                    guard !paused, let raised = core.staleness[index]?.noDataEvent, raised > 0 else { continue }
                    if core.definitions.has(.cancels, index), let severity = core.definitions[index]?.cancelSeverity {
                        var event = cancelEvent(index, core, reason: "values again after no data", value: transition.value, time: transition.time)
                        event.cancels = raised
                        event.severity = severity
                        events.append(event)
                        core.storm.charge(owner: core.definitions.owner(index), now: now)
                    }
                    core.staleness[index]?.noDataEvent = 0
                case .vanished, .returned:
                    guard !paused else { continue }
                    events.append(builder.resource(eventDefinition(index, core), vanished: transition.outcome == .vanished, time: transition.time))
                case .cancel:
                    guard !paused, core.slots[index].loggedRaised else { continue }
                    if core.definitions.has(.cancels, index) {
                        events.append(cancelEvent(index, core, reason: "the condition ended", value: transition.value, time: transition.time))
                        core.storm.charge(owner: core.definitions.owner(index), now: now)
                    }
                    core.slots[index].loggedRaised = false
                    core.slots[index].notified = false
                case .nothing:
                    break
                }
            }
            if let storm = core.storm.summary(now: now) {
                events.append(
                    builder.storm(
                        count: storm.count, monitors: storm.monitors, since: storm.since, now: now,
                        perMonitorPerMinute: core.storm.perMonitorPerMinute,
                        maximumPerSecond: core.storm.maximumPerSecond))
            }
            // What moves between transitions (counts, levels, marks) is not written here: the
            // state writer's snapshot does it (MonitorEngine+Snapshot), off this thread.
            if !events.isEmpty || !changed.isEmpty || !core.unwritten.isEmpty {
                commitCycle(events: events, saving: changed, backups: backups, core: &core)
            }
        }
    }

    /// Keeps a monitor's state from before this cycle, once, when its first change is found
    /// (before anything of it in `core` is changed): the slot is computed out of place, so the
    /// loop copies nothing for the monitors that do not change.
    @inline(never)  // the cold path: kept out of the loop's code
    private func keepBackup(_ index: Int, _ core: inout Core, _ backups: inout [Int: SlotBackup], kind: KindState? = nil) {
        guard backups[index] == nil else { return }
        var backup = SlotBackup(index, &core)
        if let kind { backup.kind = kind }
        backup.lastRaiseEvent = core.lastRaiseEvent[index]
        backups[index] = backup
    }

    private func evaluate(
        _ index: Int, now: Double, core: inout Core,
        pending: inout [Transition], changed: inout [Int], backups: inout [Int: SlotBackup]
    ) {
        guard core.slots[index].running else { return }
        evaluateReading(index, now: now, core: &core, pending: &pending, changed: &changed, backups: &backups)
        guard core.slots[index].stale, var extra = core.staleness[index], extra.staleAfter > 0, core.slots[index].running else { return }
        // noData: its own raise and cancel, apart from the threshold's state.
        if extra.lastKnown.isNaN { extra.lastKnown = now }  // the grace period starts with the monitor
        if !extra.noDataRaised && now - extra.lastKnown >= extra.staleAfter {
            keepBackup(index, &core, &backups)
            extra.noDataRaised = true
            pending.append(Transition(index: index, outcome: .noData, value: .nan, time: now))
            changed.append(index)
        } else if extra.noDataRaised && now - extra.lastKnown < extra.staleAfter {
            keepBackup(index, &core, &backups)
            extra.noDataRaised = false
            pending.append(Transition(index: index, outcome: .dataBack, value: core.slots[index].lastValue, time: now))
            changed.append(index)
        }
        core.staleness[index] = extra
    }

    /// Whether a monitor's preconditions on other monitors allow it to raise now.
    private func mayRaise(_ index: Int, _ core: inout Core) -> Bool {
        guard core.slots[index].dependent, let dependency = core.dependencies[index] else { return true }
        guard let upstream = core.indexByID[dependency.monitor],
            MonitorEngine.follows(upstreamOwner: core.definitions.owner(upstream), dependentOwner: core.definitions.owner(index))
        else { return false }
        return core.slots[upstream].phase.isRaised == dependency.raised
    }

    /// Whether a precondition follows a monitor of `upstreamOwner`'s: only its own owner's, or
    /// root's. The id it names may be deleted and made again by anyone; before, a dependent
    /// followed whoever made it next, another ordinary user included (issue 22, attack 4).
    static func follows(upstreamOwner: Int, dependentOwner: Int) -> Bool {
        upstreamOwner == dependentOwner || upstreamOwner == 0
    }

    private func evaluateReading(
        _ index: Int, now: Double, core: inout Core,
        pending: inout [Transition], changed: inout [Int], backups: inout [Int: SlotBackup]
    ) {
        var slot = core.slots[index]
        let settings = slot.tuned ? core.settings[index] ?? .defaults : .defaults
        if settings.interval > 0 {
            // monitoringInterval: the monitor stops itself once it has run that long.
            if settings.startedAt.isNaN { core.settings[index]?.startedAt = now }
            if now - (settings.startedAt.isNaN ? now : settings.startedAt) >= settings.interval {
                keepBackup(index, &core, &backups)
                core.slots[index].running = false
                changed.append(index)
                return
            }
        }
        let reading: (value: Double, raw: Double, time: Double)
        if slot.isAggregate, let aggregate = core.aggregates[index] {
            reading = aggregate.reading(
                values: core.values, raws: core.raws, times: core.times, generations: core.generations,
                resolvedAt: core.resolvedAt)
        } else {
            var handle = Int(slot.handle)
            if handle < 0 || handle >= core.generations.count || core.generations[handle] != slot.generation {
                // The statistic went away or has not appeared yet: look its key up again.
                let key = core.definitions.keyText(index)
                guard let key, let found = table.handle(for: key) else {
                    slot.lastEvaluated = now
                    // An instance's statistic gone retires it, with its own cancel (resolveSelections):
                    // no vanished event, even when its retirement waits for the disk.
                    if slot.handle >= 0 && !slot.vanished && key != nil && !core.definitions.has(.instance, index) {
                        keepBackup(index, &core, &backups)
                        // The statistic went away (a process exited, a disk was removed): unknown.
                        slot.vanished = true
                        slot.lastValue = .nan
                        pending.append(Transition(index: index, outcome: .vanished, value: .nan, time: now))
                        changed.append(index)
                    }
                    core.slots[index] = slot
                    return
                }
                if slot.vanished {
                    keepBackup(index, &core, &backups)
                    slot.vanished = false
                    pending.append(Transition(index: index, outcome: .returned, value: .nan, time: now))
                }
                slot.handle = found.index
                slot.generation = found.generation
                slot.previousRaw = .nan
                if slot.transform == .percent { core.settings[index]?.upperBound = table.sample(forKey: key)?.descriptor.upperBound ?? .nan }
                handle = Int(found.index)
                guard handle < core.generations.count, core.generations[handle] == found.generation else {
                    core.slots[index] = slot
                    return
                }
            }
            reading = (core.values[handle], core.raws[handle], core.times[handle])
        }
        let time = reading.time
        guard time != slot.lastSeen else { return }  // no new reading since the last evaluation
        slot.lastSeen = time
        let raw = reading.raw
        let increase = raw - slot.previousRaw
        let elapsed = time - slot.previousTime
        let upperBound = slot.transform == .percent ? core.settings[index]?.upperBound ?? .nan : .nan
        let value = slot.transformed(value: reading.value, raw: raw, time: time, upperBound: upperBound)
        let before = slot.phase
        // The side state before this reading: written into `core` below, before the backup is
        // known to be needed.
        let kindBefore = slot.side >= 0 ? core.kinds[slot.side] : nil
        let outcome: Outcome
        switch slot.kind {
        case .threshold:
            outcome = slot.evaluate(value, settings, now: time, mayRaise: !slot.dependent || mayRaise(index, &core))
        case .leakyBucket:
            slot.lastEvaluated = now
            let allowed = !slot.dependent || mayRaise(index, &core)
            if slot.side >= 0, case .bucket(var bucket) = core.kinds[slot.side] {
                outcome = bucket.leak(&slot, settings, increase: increase, elapsed: elapsed, now: time, mayRaise: allowed)
                core.kinds[slot.side] = .bucket(bucket)
            } else {
                outcome = .nothing
            }
        case .watermarkHigh, .watermarkLow:
            slot.lastValue = value
            slot.lastEvaluated = now
            if slot.side >= 0, case .watermark(var mark) = core.kinds[slot.side] {
                outcome = mark.mark(&slot, settings, value: value, high: slot.kind == .watermarkHigh, now: time)
                core.kinds[slot.side] = .watermark(mark)
            } else {
                outcome = .nothing
            }
        }
        // `core` still holds the slot from before this reading.
        if before != slot.phase || outcome != .nothing { keepBackup(index, &core, &backups, kind: kindBefore) }
        core.slots[index] = slot
        if slot.stale, value.isFinite { core.staleness[index]?.lastKnown = now }
        if slot.capture {
            var ring = core.captures[index] ?? []
            if ring.count >= MonitorEngine.captureLimit { ring.removeFirst(ring.count - MonitorEngine.captureLimit + 1) }
            ring.append(CapturedReading(time: time, raw: raw.isFinite ? raw : nil, value: value.isFinite ? value : nil))
            core.captures[index] = ring
        }
        if outcome != .nothing { pending.append(Transition(index: index, outcome: outcome, value: value, time: time)) }
        if before != slot.phase || outcome != .nothing { changed.append(index) }
    }
}
