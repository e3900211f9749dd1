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

extension MonitorEngine {
    /// Makes the monitors from files what the files say: creates the new, changes the changed
    /// (a raised one logs `canceled` first), deletes those no file declares any more. Monitors
    /// from the API are not touched. Returns, per entry that cannot be used, why.
    public func reconcile(files: [FileMonitor]) -> [String] {
        var problems: [String] = []
        let now = Clock.wall()
        let encoder = WireJSON.encoder()
        var wanted: [String: MonitorDefinition] = [:]
        for file in files {
            var spec = file.spec
            spec.id = file.id
            spec.source = file.source
            spec.template = nil
            do {
                // A declaration may name a statistic that comes later (a plug-in, a disk).
                var definition = try MonitorDefinition(spec: spec, owner: 0, createdAt: now, step: step, table: table, lenient: true)
                definition.spec.source = file.source
                wanted[file.id] = definition
            } catch {
                problems.append("\(file.source): \(file.id): \(error.message)")
            }
        }
        core.withLock { core in
            var events: [EventRecord] = []
            var saving: [Int] = []
            // The monitors' table changes, made in the transaction that logs the events.
            var changes: [(Database) throws -> Void] = []
            // Gone from the files, or changed: retire the old monitor.
            for index in core.definitions.occupied where core.definitions.has(.fromFile, index) {
                guard let definition = core.definitions[index] else { continue }
                let replacement = wanted[definition.id]
                if let replacement, let new = try? encoder.encode(replacement.spec), new == (try? encoder.encode(definition.spec)) {
                    wanted[definition.id] = nil  // unchanged
                    continue
                }
                if core.dependencies.contains(where: { $0.value.monitor == definition.id && !core.definitions.has(.fromFile, $0.key) }) && replacement == nil {
                    problems.append("\(definition.spec.source ?? ""): \(definition.id): monitors from the API depend on it; it stays until they go")
                    continue
                }
                if core.slots[index].loggedRaised {
                    events.append(cancelEvent(index, core, reason: replacement == nil ? "its file no longer declares it" : "its file changed it"))
                }
                let retired = removeInstances(of: index, reason: "its template's file changed", core: &core, events: &events)
                remove(index, from: &core)
                let id = definition.id
                changes.append { database in
                    try MonitorStore.forgetInstances(retired, in: database)
                    try MonitorStore.delete(id, in: database)
                }
            }
            for (id, definition) in wanted.sorted(by: { $0.key < $1.key }) {
                if let existing = core.indexByID[id], !core.definitions.has(.fromFile, existing) {
                    problems.append("\(definition.spec.source ?? ""): \(id): a monitor created through the API has this id")
                    continue
                }
                guard let text = try? MonitorStore.text(definition.spec) else { continue }
                changes.append { database in try MonitorStore.put(id: id, specText: text, owner: 0, createdAt: now, in: database) }
                saving.append(add(definition, to: &core))
            }
            guard !events.isEmpty || !changes.isEmpty else { return }
            do {
                try commit(events: events, saving: saving, core: &core) { database in
                    for change in changes { try change(database) }
                }
            } catch {
                problems.append("monitors.d: cannot store the monitors: \(error)")
            }
        }
        return problems
    }
}
