import Events
import FoundationEssentials
import ResmonAPI
import ResmonSystem
import Statistics
import Storage

/// One monitor declared in a file of `monitors.d`.
public struct FileMonitor: Sendable {
    /// `<file stem>.<entry name>`: stable across restarts and edits.
    public let id: String
    public let spec: MonitorSpec
    /// `monitors.d/<file>`.
    public let source: String

    public init(id: String, spec: MonitorSpec, source: String) {
        self.id = id
        self.spec = spec
        self.source = source
    }
}

/// A reconcile the state database refused, kept to be retried, and why it failed.
struct PendingFiles: Sendable {
    let prepared: PreparedMonitorFiles
    var failure: String
}

/// monitors.d's entries made into definitions, validated and encoded away from the engine's
/// lock (on the thread that reads the files), so that applying them on the sampling thread is
/// a comparison per monitor.
public struct PreparedMonitorFiles: Sendable {
    struct Entry: Sendable {
        let definition: MonitorDefinition
        /// The stored text of its spec, and that text's hash: what tells a changed entry.
        let text: String
        let fingerprint: Int
    }

    let entries: [String: Entry]
    /// Per entry that cannot be used, why.
    public let problems: [String]
    /// Entries read.
    public var count: Int { entries.count }
}

extension MonitorEngine {
    /// Makes the monitors from files what the files say (see `reconcile(_:)`).
    public func reconcile(files: [FileMonitor]) -> [String] {
        reconcile(prepare(files: files))
    }

    /// Validates and encodes the files' monitors: the costly part of a reconcile, done without
    /// the engine's lock. A declaration may name a statistic that comes later (a plug-in, a disk).
    public func prepare(files: [FileMonitor], now: Double = Clock.wall()) -> PreparedMonitorFiles {
        var problems: [String] = []
        var entries: [String: PreparedMonitorFiles.Entry] = [:]
        for file in files {
            var spec = file.spec
            spec.id = file.id
            spec.source = file.source
            spec.template = nil
            do {
                var definition = try MonitorDefinition(spec: spec, owner: 0, createdAt: now, step: step, table: table, lenient: true)
                definition.spec.source = file.source
                guard let text = try? MonitorStore.text(definition.spec) else { continue }
                entries[file.id] = PreparedMonitorFiles.Entry(definition: definition, text: text, fingerprint: text.hashValue)
            } catch {
                problems.append("\(file.source): \(file.id): \(error.message)")
            }
        }
        return PreparedMonitorFiles(entries: entries, problems: problems)
    }

    /// Makes the monitors from files what the files say: creates the new, changes the changed
    /// (a raised one logs `canceled` first), deletes those no file declares any more. Monitors
    /// from the API are not touched. A precondition is checked as the API checks it: one that
    /// names no monitor or comes back round is refused. Returns, per entry that cannot be used,
    /// why.
    ///
    /// Written first, memory changed after: when the state database refuses the changes (a
    /// full disk), memory stays as it was and the reconcile stays pending (`monitorFilesPending`),
    /// retried at every evaluation until it is written or a newer reload replaces it, so that
    /// a removed monitor's `canceled` is never lost.
    public func reconcile(_ prepared: PreparedMonitorFiles) -> [String] {
        var problems = prepared.problems
        core.withLock { core in
            if let failure = reconcile(prepared, core: &core, problems: &problems) {
                problems.append("monitors.d: cannot store the monitors: \(failure); nothing changed, retried until it can be written")
            }
        }
        return problems
    }

    /// Why the last reconcile could not be written, while it waits to be retried (nil: none waits).
    public var monitorFilesPending: String? { core.withLock { $0.pendingFiles?.failure } }

    /// Retries a reconcile the database refused (at each evaluation, before the monitors run).
    func retryPendingFiles(core: inout Core) {
        guard let pending = core.pendingFiles else { return }
        var ignored: [String] = []
        if let failure = reconcile(pending.prepared, core: &core, problems: &ignored) {
            core.pendingFiles?.failure = failure
        } else {
            report(.recovered("the monitors.d reload that could not be written is written"))
        }
    }

    /// The reconcile itself, under the engine's lock; returns why its commit failed, if it did
    /// (it is then pending, memory untouched).
    private func reconcile(_ prepared: PreparedMonitorFiles, core: inout Core, problems: inout [String]) -> String? {
        let now = Clock.wall()
        let encoder = WireJSON.encoder()
        // Looked up, never copied: the entries hold a definition each.
        let wanted = prepared.entries
        // The refused entries, then those found unchanged: neither is added.
        var settled = refuseDependencyProblems(wanted, core, problems: &problems)
        var events: [EventRecord] = []
        // Planned without touching memory: the monitors to retire and the entries to add.
        var removing: [Int] = []
        var adding: [PreparedMonitorFiles.Entry] = []
        // The monitors' table changes, made in the transaction that logs the events.
        var changes: [(Database) throws -> Void] = []
        var fingerprints: [String: Int] = [:]
        // Gone from the files, or changed: retire the old monitor.
        for index in core.definitions.occupied where core.definitions.has(.fromFile, index) && !core.definitions.has(.instance, index) {
            let id = core.definitions.id(index)
            let replacement = settled.contains(id) ? nil : wanted[id]
            if let replacement {
                // Unchanged: by the fingerprint of what was applied, else (the first time
                // after a start) by the stored definition.
                let unchanged: Bool
                if let applied = core.fileFingerprints[id] {
                    unchanged = applied == replacement.fingerprint
                } else if let definition = core.definitions[index] {
                    unchanged = (try? encoder.encode(replacement.definition.spec)) == (try? encoder.encode(definition.spec))
                } else {
                    unchanged = false
                }
                if unchanged {
                    fingerprints[id] = replacement.fingerprint
                    settled.insert(id)
                    continue
                }
            }
            if replacement == nil, case let blockers = DependencyGraph.blockers(of: index, core, excluding: { core.definitions.has(.fromFile, $0) }),
                !blockers.isEmpty
            {
                problems.append(
                    "\(core.definitions[index]?.spec.source ?? ""): \(id): root's monitors \(blockers.joined(separator: ", ")) from the API depend on it; it stays until they go"
                )
                continue
            }
            if core.slots[index].loggedRaised {
                events.append(cancelEvent(index, core, reason: replacement == nil ? "its file no longer declares it" : "its file changed it"))
            }
            let retired = instanceCancels(of: index, reason: "its template's file changed", core: core, events: &events)
            removing.append(index)
            changes.append { database in
                try MonitorStore.forgetInstances(retired, in: database)
                try MonitorStore.delete(id, in: database)
            }
        }
        for id in wanted.keys.filter({ !settled.contains($0) }).sorted() {
            guard let entry = wanted[id] else { continue }
            if core.claims.contains(id) {
                // Root is creating a monitor with this id through the API (only root may use a dot).
                problems.append("\(entry.definition.spec.source ?? ""): \(id): a monitor root created through the API has this id")
                continue
            }
            if let existing = core.indexByID[id], !core.definitions.has(.fromFile, existing) {
                let source = entry.definition.spec.source ?? ""
                let owner = core.definitions.owner(existing)
                guard owner != 0 else {
                    problems.append("\(source): \(id): a monitor root created through the API has this id")
                    continue
                }
                // Another user's, made before such ids were root's: the file's monitor wins.
                problems.append(
                    "\(source): \(id): uid \(owner)'s monitor with this id (created through the API before ids with a dot were root's) is removed; the file's takes its place"
                )
                evict(existing, reason: "its id belongs to \(source)", core: core, events: &events, removing: &removing, changes: &changes)
            }
            let text = entry.text
            changes.append { database in try MonitorStore.put(id: id, specText: text, owner: 0, createdAt: now, in: database) }
            adding.append(entry)
            fingerprints[id] = entry.fingerprint
        }
        if !events.isEmpty || !changes.isEmpty {
            do {
                try commit(events: events, saving: [], core: &core) { database in
                    for change in changes { try change(database) }
                }
            } catch {
                core.pendingFiles = PendingFiles(prepared: prepared, failure: error.message)
                return error.message
            }
        }
        // Committed: memory follows.
        core.pendingFiles = nil
        var ignored: [EventRecord] = []
        for index in removing {
            _ = removeInstances(of: index, reason: "", core: &core, events: &ignored)
            if core.definitions.has(.instance, index), let template = core.definitions[index]?.spec.template, let owner = core.indexByID[template] {
                // An instance that goes on its own (evicted): its template does not make it again.
                core.templates[owner]?.instances[core.definitions.id(index)] = nil
            }
            remove(index, from: &core)
        }
        let added = adding.map { add($0.definition, to: &core) }
        core.fileFingerprints = fingerprints
        // Their fresh state; what is not written now is written at their first change.
        if !added.isEmpty { try? commit(events: [], saving: added, core: &core) }
        return nil
    }

    /// Plans removing a monitor another user created on a file's id: its `canceled` (and its
    /// instances') if raised, and its rows, in the reconcile's transaction.
    private func evict(
        _ index: Int, reason: String, core: Core, events: inout [EventRecord], removing: inout [Int],
        changes: inout [(Database) throws -> Void]
    ) {
        let id = core.definitions.id(index)
        if core.slots[index].loggedRaised { events.append(cancelEvent(index, core, reason: reason)) }
        let retired = instanceCancels(of: index, reason: reason, core: core, events: &events)
        let instance = core.definitions.has(.instance, index)
        removing.append(index)
        changes.append { database in
            try MonitorStore.forgetInstances(retired + (instance ? [id] : []), in: database)
            try MonitorStore.delete(id, in: database)
        }
    }

    /// The entries whose precondition names no monitor or comes back round (the API's check),
    /// again until none is left: an entry that depended on a refused one goes too. Only entries
    /// with a precondition can close a cycle, so only they are walked.
    private func refuseDependencyProblems(
        _ wanted: [String: PreparedMonitorFiles.Entry], _ core: Core, problems: inout [String]
    ) -> Set<String> {
        let dependents = wanted.filter { $0.value.definition.spec.precondition?.monitor != nil }
        var refused: Set<String> = []
        guard !dependents.isEmpty else { return refused }
        let ids = Set(wanted.keys)
        while true {
            var graph = DependencyGraph(
                core, ids: ids.subtracting(refused),
                preconditions: dependents.compactMap { refused.contains($0.key) ? nil : ($0.key, $0.value.definition.spec.precondition?.monitor) })
            var more = false
            for (id, entry) in dependents.sorted(by: { $0.key < $1.key }) where !refused.contains(id) {
                do {
                    try graph.check(entry.definition)
                } catch {
                    problems.append("\(entry.definition.spec.source ?? ""): \(id): \(error.message)")
                    refused.insert(id)
                    more = true
                }
            }
            if !more { return refused }
        }
    }
}
