import Events
import FoundationEssentials
import ResmonAPI
import ResmonSystem
import Statistics

/// The API's changes to monitors: create, update (PATCH), delete and the actions (start, stop,
/// pause, resume, reset, reset-notification). Each validates first, then changes memory and
/// the database under the engine's lock, and answers only after the change is committed.
extension MonitorEngine {
    /// Ids with a dot are root's: monitors.d makes `<file stem>.<entry>`, the defaults are
    /// `defaults.*`, a perfmon import `perfmon.*`, a template's instances `<template>.<subsystem>.<resource>.<statistic>`.
    /// Another user's monitor on such an id would stand in the way of root's configuration (a
    /// file added later, a reload), so only root creates them through the API.
    static func dottedIDRefusal(_ id: String) -> String {
        "id \(id): ids with a dot belong to root's configuration (monitors.d's <file>.<entry>, defaults.*, perfmon.*, "
            + "a template's instances); only root may create one: choose an id without a dot"
    }

    /// The spec fields only resmond sets: `template` on a template's instances, `source` on
    /// monitors from monitors.d. From a client they would make a monitor that passes for
    /// what it is not (an instance whose state has no template to be stored with, a file's
    /// monitor that no one may delete).
    static let serverOwnedFields = ["template", "source"]

    static func serverOwnedField(in spec: MonitorSpec) -> String? {
        spec.template != nil ? "template" : spec.source != nil ? "source" : nil
    }

    static func refusal(of field: String) -> String {
        field == "template"
            ? "template: set by resmond on a template's instances; a client cannot set it (use target {\"select\": …, \"each\": true} for a template)"
            : "source: set by resmond on monitors from monitors.d; a client cannot set it (write the file and reload resmond for such a monitor)"
    }

    /// Preconditions on other monitors: the monitor must exist (now or in the same request), and
    /// following them must never come back to where it started.
    func checkDependencies(_ definitions: [MonitorDefinition], _ core: Core) throws(MonitorError) {
        var graph = DependencyGraph(core, adding: definitions)
        for definition in definitions { try graph.check(definition) }
    }

    /// Who depends on whom, by id: the engine's monitors, with the incoming ones (created,
    /// changed, or declared in monitors.d) in place of their namesakes. The one check of
    /// preconditions, for the API and for files alike.
    struct DependencyGraph {
        private var dependsOn: [String: String] = [:]
        private let exists: (String) -> Bool
        /// The owner of an engine monitor that is not incoming (nil: incoming, or none).
        private let ownerOf: (String) -> Int?
        /// Monitors whose chain is known to end without coming back: a walk stops there, so
        /// checking every monitor of a long chain stays linear.
        private var ending: Set<String> = []

        init(_ core: Core, adding incoming: [MonitorDefinition]) {
            self.init(core, ids: Set(incoming.map(\.id)), preconditions: incoming.map { ($0.id, $0.spec.precondition?.monitor) })
        }

        /// `ids`: every incoming monitor; `preconditions`: the monitor each incoming one depends
        /// on (those without one may be left out).
        init(_ core: Core, ids incoming: Set<String>, preconditions: [(String, String?)]) {
            for (index, dependency) in core.dependencies {
                let id = core.definitions.id(index)
                if !incoming.contains(id) { dependsOn[id] = dependency.monitor }
            }
            for (id, monitor) in preconditions { dependsOn[id] = monitor }
            let indexByID = core.indexByID
            let definitions = core.definitions
            exists = { indexByID[$0] != nil || incoming.contains($0) }
            ownerOf = { id in incoming.contains(id) ? nil : indexByID[id].map { definitions.owner($0) } }
        }

        /// The monitors that keep `index` from being deleted: those that depend on it and have
        /// its owner. Another owner's dependent never does (a user would otherwise pin root's
        /// monitors in place, or root a user's): it stays, and its precondition, naming no
        /// monitor, holds it back from raising until a monitor with that id exists again.
        /// `excluding`: dependents that go in the same change (monitors.d's own).
        static func blockers(of index: Int, _ core: Core, excluding: (Int) -> Bool = { _ in false }) -> [String] {
            let id = core.definitions.id(index)
            let owner = core.definitions.owner(index)
            // Monitors a create is storing count as if they were placed already.
            let claimed = core.claims.dependents[id]?.filter { $0.value == owner }.map(\.key) ?? []
            return
                (core.dependencies.filter { dependent, dependency in
                    dependency.monitor == id && core.definitions.owner(dependent) == owner && !excluding(dependent)
                }.map { core.definitions.id($0.key) } + claimed).sorted()
        }

        /// Throws the API's error when `definition`'s precondition names no monitor, or leads
        /// back to a monitor already on its chain.
        mutating func check(_ definition: MonitorDefinition) throws(MonitorError) {
            guard let first = definition.spec.precondition?.monitor else { return }
            guard exists(first) else { throw MonitorError(kind: .invalid, message: "precondition.monitor: no monitor \(first)") }
            // A precondition follows only its owner's monitors and root's (MonitorEngine.follows).
            if let owner = ownerOf(first), !MonitorEngine.follows(upstreamOwner: owner, dependentOwner: definition.owner) {
                throw MonitorError(
                    kind: .invalid,
                    message: "precondition.monitor: monitor \(first) is uid \(owner)'s: a precondition follows only its owner's monitors and root's")
            }
            var seen: [String] = [definition.id]
            var visited: Set<String> = [definition.id]
            var next: String? = first
            while let current = next, !ending.contains(current) {
                guard visited.insert(current).inserted else {
                    throw MonitorError(
                        kind: .invalid, message: "precondition.monitor: \(definition.id) → \(first) … comes back to \(current): dependency cycles are refused")
                }
                seen.append(current)
                next = dependsOn[current]
            }
            ending.formUnion(seen)
        }
    }

    /// Applies a partial spec (PATCH): the fields given replace the stored ones; the monitor is
    /// validated again and starts afresh (a raised one is cancelled first).
    public func update(_ id: String, patch: [String: JSONValue], caller: Int) throws(MonitorError) -> MonitorInfo {
        if patch["id"] != nil { throw MonitorError(kind: .invalid, message: "id cannot be changed") }
        if let field = MonitorEngine.serverOwnedFields.first(where: { patch[$0] != nil }) {
            throw MonitorError(kind: .invalid, message: MonitorEngine.refusal(of: field))
        }
        let encoder = WireJSON.encoder()
        return try core.withLock { core throws(MonitorError) -> MonitorInfo in
            let index = try lookup(id, core, caller: caller)
            try settleOutbox([index] + instanceIndexes(of: index, core), core: &core)
            guard let old = core.definitions[index] else { throw MonitorError(kind: .notFound, message: "no monitor \(id)") }
            if let template = old.spec.template {
                throw MonitorError(kind: .conflict, message: "monitor \(id) is an instance of template \(template): change the template")
            }
            if let source = old.spec.source {
                throw MonitorError(kind: .conflict, message: "monitor \(id) comes from \(source): change the file, then reload resmond")
            }
            let merged: MonitorSpec
            do {
                guard case .object(var fields) = try JSONDecoder().decode(JSONValue.self, from: try encoder.encode(old.spec)) else {
                    throw MonitorError(kind: .invalid, message: "cannot merge")
                }
                for (name, value) in patch { fields[name] = value }
                merged = try JSONDecoder().decode(MonitorSpec.self, from: try encoder.encode(JSONValue.object(fields)))
            } catch let error as MonitorSpec.UnknownField {
                throw MonitorError(kind: .invalid, message: error.description)
            } catch {
                throw MonitorError(kind: .invalid, message: "the patch does not make a valid monitor: \(error)")
            }
            let definition: MonitorDefinition
            do {
                definition = try MonitorDefinition(spec: merged, owner: old.owner, createdAt: old.createdAt, step: step, table: table)
            } catch let error as MonitorSpecError {
                throw MonitorError(kind: error.kind, message: error.message)
            } catch {
                throw MonitorError(kind: .invalid, message: "\(error)")
            }
            try checkDependencies([definition], core)
            // Written first, memory changed after: a change the database refuses changes nothing.
            var events: [EventRecord] = []
            if core.slots[index].loggedRaised { events.append(cancelEvent(index, core, reason: "the monitor was changed")) }
            let retired = instanceCancels(of: index, reason: "its template was changed", core: core, events: &events)
            try commit(events: events, saving: [], core: &core) { database in
                try MonitorStore.forgetInstances(retired, in: database)
                try MonitorStore.update(definition.spec, id: id, in: database)
                // The changed monitor starts afresh: no saved state of the old one is left.
                try MonitorStore.forgetState(id, in: database)
            }
            var ignored: [EventRecord] = []
            _ = removeInstances(of: index, reason: "", core: &core, events: &ignored)
            remove(index, from: &core)
            let newIndex = add(definition, to: &core)
            _ = try? commit(events: [], saving: [newIndex], core: &core)
            return info(newIndex, core, definition: definition)
        }
    }

    /// Deletes a monitor; a raised one logs `canceled` first.
    public func delete(_ id: String, caller: Int) throws(MonitorError) {
        try core.withLock { core throws(MonitorError) in
            let index = try lookup(id, core, caller: caller)
            if core.definitions.has(.instance, index), let template = core.definitions[index]?.spec.template {
                throw MonitorError(kind: .conflict, message: "monitor \(id) is an instance of template \(template): delete or change the template")
            }
            if core.definitions.has(.fromFile, index), let source = core.definitions[index]?.spec.source {
                throw MonitorError(kind: .conflict, message: "monitor \(id) comes from \(source): remove it from the file, then reload resmond")
            }
            let dependents = DependencyGraph.blockers(of: index, core)
            if !dependents.isEmpty {
                throw MonitorError(
                    kind: .conflict, message: "monitors \(dependents.joined(separator: ", ")) depend on \(id) (precondition); change or delete them first")
            }
            try settleOutbox([index] + instanceIndexes(of: index, core), core: &core)
            var events: [EventRecord] = []
            if core.slots[index].loggedRaised { events.append(cancelEvent(index, core, reason: "the monitor was deleted")) }
            let retired = instanceCancels(of: index, reason: "its template was deleted", core: core, events: &events)
            try commit(events: events, saving: [], core: &core) { database in
                try MonitorStore.forgetInstances(retired, in: database)
                try MonitorStore.delete(id, in: database)
            }
            var ignored: [EventRecord] = []
            _ = removeInstances(of: index, reason: "", core: &core, events: &ignored)
            remove(index, from: &core)
        }
    }

    public enum Action: String, Sendable, CaseIterable {
        case start, stop, pause, resume, reset, resetNotification = "reset-notification"
    }

    /// start / stop (keeps state) / pause (evaluates, logs nothing) / resume (logs a state that
    /// differs from the last logged) / reset (back to just created; cancels if raised) /
    /// reset-notification (the next reading that meets the condition logs again).
    /// `now` is the time events and loggingRate's hold see (tests pass the time of their readings).
    public func perform(_ action: Action, on id: String, caller: Int, now: Double = Clock.wall()) throws(MonitorError) -> MonitorInfo {
        if action == .start { try refuseWhenBusy() }
        return try core.withLock { core throws(MonitorError) -> MonitorInfo in
            let index = try lookup(id, core, caller: caller)
            var events: [EventRecord] = []
            // On a template, the action applies to the template and to every instance.
            let targets = [index] + instanceIndexes(of: index, core)
            try settleOutbox(targets, core: &core)
            // Put back if the change cannot be written: memory never runs ahead of the database.
            let backups = targets.map { target in
                var backup = SlotBackup(target, &core)
                backup.lastRaiseEvent = core.lastRaiseEvent[target]
                return (target, backup)
            }
            for index in targets {
                switch action {
                case .start:
                    if !core.slots[index].running { core.settings[index]?.startedAt = .nan }
                    core.slots[index].running = true
                case .stop:
                    core.slots[index].running = false
                case .pause:
                    core.slots[index].paused = true
                case .resume:
                    core.slots[index].paused = false
                    let slot = core.slots[index]
                    let settings = slot.tuned ? core.settings[index] ?? .defaults : .defaults
                    // A raise within loggingRate of the last logged one stays held: the evaluation
                    // logs it once loggingRate has passed, if it is still raised then.
                    if slot.phase.isRaised && !slot.loggedRaised && !slot.heldByLoggingRate(settings, now: now) {
                        events.append(builder.raise(eventDefinition(index, core), value: slot.lastValue, time: now, repeated: false))
                        core.slots[index].loggedRaised = true
                        core.slots[index].notified = true
                        core.slots[index].lastLogged = now
                    } else if !slot.phase.isRaised && slot.loggedRaised {
                        if core.definitions.has(.cancels, index) {
                            events.append(cancelEvent(index, core, reason: "cleared while notifications were paused"))
                        }
                        core.slots[index].loggedRaised = false
                    }
                case .reset:
                    if core.slots[index].loggedRaised { events.append(cancelEvent(index, core, reason: "the monitor was reset")) }
                    let running = core.slots[index].running
                    let paused = core.slots[index].paused
                    var fresh = core.slots[index]
                    fresh.phase = .clear
                    fresh.count = 0
                    fresh.notified = false
                    fresh.loggedRaised = false
                    fresh.previousRaw = .nan
                    fresh.previousTime = .nan
                    fresh.lastSeen = .nan
                    fresh.lastValue = .nan
                    fresh.lastLogged = .nan
                    fresh.raisedAt = .nan
                    fresh.running = running
                    fresh.paused = paused
                    fresh.armed = !fresh.needsArming
                    core.slots[index] = fresh
                    core.settings[index]?.startedAt = .nan
                    if let definition = core.definitions[index] { setSideState(index, for: definition, &core) }
                case .resetNotification:
                    core.slots[index].notified = false
                }
            }
            do throws(MonitorError) {
                try commit(events: events, saving: targets, core: &core)
            } catch {
                for (target, backup) in backups { restore(backup, to: target, core: &core) }
                throw error
            }
            return info(index, core)
        }
    }

    private func instanceIndexes(of index: Int, _ core: Core) -> [Int] {
        core.templates[index]?.instances.keys.compactMap { core.indexByID[$0] } ?? []
    }

    private func lookup(_ id: String, _ core: Core, caller: Int) throws(MonitorError) -> Int {
        guard let index = core.indexByID[id] else {
            throw MonitorError(kind: .notFound, message: "no monitor \(id)")
        }
        let owner = core.definitions.owner(index)
        if caller != 0 && caller != owner {
            throw MonitorError(kind: .forbidden, message: "monitor \(id) belongs to uid \(owner); only its owner or root may change it")
        }
        return index
    }
}
