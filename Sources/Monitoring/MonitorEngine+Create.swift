import ResmonAPI
import ResmonSystem

/// Ids a create has claimed and is storing, not yet placed in the flat arrays.
struct CreateClaims {
    var ids: Set<String> = []
    /// Claimed monitors by owner (the quota counts them).
    var byOwner: [Int: Int] = [:]
    /// Monitor id → the claimed monitors that depend on it (id → owner): a delete waits for them
    /// as for placed dependents.
    var dependents: [String: [String: Int]] = [:]

    func contains(_ id: String) -> Bool { ids.contains(id) }

    mutating func claim(_ definitions: [MonitorDefinition], owner: Int) {
        for definition in definitions {
            ids.insert(definition.id)
            if let monitor = definition.spec.precondition?.monitor { dependents[monitor, default: [:]][definition.id] = owner }
        }
        byOwner[owner, default: 0] += definitions.count
    }

    mutating func release(_ definitions: some Collection<MonitorDefinition>, owner: Int) {
        for definition in definitions {
            ids.remove(definition.id)
            if let monitor = definition.spec.precondition?.monitor {
                dependents[monitor]?[definition.id] = nil
                if dependents[monitor]?.isEmpty == true { dependents[monitor] = nil }
            }
        }
        let left = (byOwner[owner] ?? 0) - definitions.count
        byOwner[owner] = left > 0 ? left : nil
    }
}

/// Creating monitors (`POST /v1/monitors`, a perfmon import): validated, encoded and stored with
/// no engine lock held, so that a bulk create never holds up the evaluation (a 5,000-monitor
/// request held the lock for its whole database write: 489 ms cycles at 1,000,000, issue 17).
extension MonitorEngine {
    /// Monitors placed in memory per hold of the engine's lock (a few ms at most).
    static let placementChunk = 1_000

    /// Validates and stores monitors, all or none, in one transaction; answers only after they
    /// are committed. The engine's lock is held only to claim the ids (checking them, the quota
    /// and the preconditions, as one step) and then to place the monitors, a chunk at a time;
    /// the database write holds the database's lock alone. A claimed id is taken for every
    /// other create (409) until placed.
    public func create(_ specs: [MonitorSpec], owner: Int) throws(MonitorError) -> [MonitorInfo] {
        try createEncoded(specs, owner: owner).monitors
    }

    /// As `create`, with each monitor's spec as the monitors' table stores it (WireWriter's
    /// JSON), which an answer writes as it is rather than encoding it again.
    public func createEncoded(_ input: [MonitorSpec], owner: Int) throws(MonitorError) -> (monitors: [MonitorInfo], specJSON: [[UInt8]]) {
        try refuseWhenBusy()
        let now = Clock.wall()
        // The ids resmond gives, drawn at once (as the definitions would draw them one by one).
        var specs = input
        var ids = MonitorDefinition.randomUUIDs(specs.count { $0.id == nil }).makeIterator()
        for position in specs.indices where specs[position].id == nil { specs[position].id = ids.next() }
        var definitions: [MonitorDefinition] = []
        definitions.reserveCapacity(specs.count)
        for (position, spec) in specs.enumerated() {
            if let field = MonitorEngine.serverOwnedField(in: spec) {
                throw MonitorError(kind: .invalid, message: (specs.count > 1 ? "monitors[\(position)]: " : "") + MonitorEngine.refusal(of: field))
            }
            do {
                definitions.append(try MonitorDefinition(spec: spec, owner: owner, createdAt: now, step: step, table: table))
            } catch {
                throw MonitorError(
                    kind: error.kind, message: specs.count > 1 ? "monitors[\(position)]: \(error.message)" : error.message)
            }
        }
        let taken = definitions.map(\.id)
        if owner != 0, let position = taken.firstIndex(where: { $0.contains(".") }) {
            throw MonitorError(kind: .forbidden, message: (specs.count > 1 ? "monitors[\(position)]: " : "") + MonitorEngine.dottedIDRefusal(taken[position]))
        }
        if Set(taken).count != taken.count { throw MonitorError(kind: .conflict, message: "the same id appears twice in one request") }
        let json: [[UInt8]]
        do {
            json = try definitions.map { definition in try definition.spec.wireJSON() }
        } catch {
            throw MonitorError(kind: .storage, message: "cannot store the monitors: \(error)")
        }
        try core.withLock { core throws(MonitorError) in
            if let taken = taken.first(where: { core.indexByID[$0] != nil || core.claims.contains($0) }) {
                throw MonitorError(kind: .conflict, message: "a monitor with id \(taken) exists")
            }
            try checkQuota(owner: owner, adding: definitions.count, core)
            if definitions.contains(where: { $0.spec.precondition?.monitor != nil }) { try checkDependencies(definitions, core) }
            core.claims.claim(definitions, owner: owner)
            // Counted before the write, under the engine's lock, as every write to the
            // monitors' tables is (the state snapshot's writer checks it).
            stateWrites.add(1, ordering: .releasing)
        }
        do {
            try store.insert(definitions, specTexts: json.map { String(decoding: $0, as: UTF8.self) }, owner: owner, createdAt: now)
        } catch {
            noteStorage(failure: "\(error)")
            core.withLock { core in core.claims.release(definitions, owner: owner) }
            throw MonitorError(kind: .storage, message: "cannot store the monitors: \(error)")
        }
        noteStorage(failure: nil)
        // Placed in dependency order, so that each dependent's depth counts what it depends on.
        let ordered = MonitorEngine.dependencyOrder(definitions)
        var infos: [MonitorInfo?] = Array(repeating: nil, count: definitions.count)
        var start = 0
        while start < ordered.count {
            let chunk = ordered[start..<min(start + MonitorEngine.placementChunk, ordered.count)]
            core.withLock { core in
                core.claims.release(chunk.lazy.map { definitions[$0] }, owner: owner)
                for position in chunk {
                    let index = add(definitions[position], to: &core)
                    infos[position] = info(index, core, definition: definitions[position])
                }
            }
            start += MonitorEngine.placementChunk
        }
        return (infos.compactMap { $0 }, json)
    }

    /// Positions in `definitions` with every monitor after the one its precondition names (when
    /// that is in the request too); a cycle, refused before, would keep its order.
    static func dependencyOrder(_ definitions: [MonitorDefinition]) -> [Int] {
        guard definitions.contains(where: { $0.spec.precondition?.monitor != nil }) else { return Array(definitions.indices) }
        var pending = Array(definitions.indices)
        var ordered: [Int] = []
        while !pending.isEmpty {
            let waiting = Set(pending.map { definitions[$0].id })
            let ready = pending.filter { position in definitions[position].spec.precondition?.monitor.map { !waiting.contains($0) } ?? true }
            ordered += ready.isEmpty ? pending : ready
            let readySet = Set(ready)
            pending = ready.isEmpty ? [] : pending.filter { !readySet.contains($0) }
        }
        return ordered
    }
}
