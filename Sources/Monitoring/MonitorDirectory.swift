import FoundationEssentials
import Statistics
import Storage

/// Who the monitor in each slot is, in a few bytes a monitor: its id, owner, statistic key and
/// rate (both interned: many monitors share them) and a few flags. The full definition (spec,
/// severity, labels, annotations) stays in the state database, where `create` put it, and is
/// read back when an event, the API or a change needs it; a small cache keeps the recent ones.
/// Template instances, which the database does not hold, keep their definitions here.
///
/// Keeping every definition in memory cost ~800 bytes a monitor (DESIGN.md's bar is 200 for
/// the whole monitor); evaluation never needed them.
struct MonitorDirectory {
    struct Flags: OptionSet {
        let rawValue: UInt8
        static let occupied = Flags(rawValue: 1)
        /// A raise is followed by a `canceled` event (cancelSeverity is not none).
        static let cancels = Flags(rawValue: 2)
        /// Declared in monitors.d (changed only through its file).
        static let fromFile = Flags(rawValue: 4)
        static let instance = Flags(rawValue: 8)
    }

    private var ids: [CompactID] = []
    private var owners: [Int32] = []
    private var keys: [Int32] = []
    private var rates: [Int32] = []
    private var flags: [Flags] = []
    private var keyTexts = Interned<String>()
    private var rateValues = Interned<Double>()
    /// Boxed: a definition is about a kilobyte inline, and a dictionary reserves value space for
    /// every bucket of its capacity.
    private var instances: [Int: StoredDefinition] = [:]
    private let cache: DefinitionCache

    /// `load` reads a stored monitor's definition by id (nil: it is not there, or no longer valid).
    init(load: @escaping (String) -> MonitorDefinition?) {
        cache = DefinitionCache(load: load)
    }

    var count: Int { ids.count }

    /// Slots holding a monitor, in slot order.
    var occupied: [Int] { flags.indices.filter { flags[$0].contains(.occupied) } }

    func contains(_ index: Int) -> Bool { index < flags.count && flags[index].contains(.occupied) }
    func id(_ index: Int) -> String { ids[index].text }
    func owner(_ index: Int) -> Int { Int(owners[index]) }
    func rate(_ index: Int) -> Double { rateValues[rates[index]] }
    func has(_ flag: Flags, _ index: Int) -> Bool { index < flags.count && flags[index].contains(flag) }

    /// The statistic key of a single-key target (nil for aggregates and templates).
    func keyText(_ index: Int) -> String? { keys[index] < 0 ? nil : keyTexts[keys[index]] }

    func subsystem(_ index: Int) -> String? { keyText(index).map { String($0.prefix { $0 != ":" }) } }

    /// The whole definition: an instance's from memory, a stored monitor's from the cache or
    /// the database. Never call it inside `StateDatabase.withDatabase` (the load takes that lock).
    subscript(index: Int) -> MonitorDefinition? {
        guard contains(index) else { return nil }
        if flags[index].contains(.instance) { return instances[index]?.definition }
        return cache.definition(index, id: ids[index].text)
    }

    /// Puts a definition in a slot (appending when the slot is the next one).
    mutating func place(_ definition: MonitorDefinition, at index: Int) {
        var flag: Flags = .occupied
        if definition.cancelSeverity != nil { flag.insert(.cancels) }
        if definition.spec.source != nil { flag.insert(.fromFile) }
        if definition.spec.template != nil { flag.insert(.instance) }
        let key = definition.key.map { keyTexts.number(for: $0.text) } ?? -1
        let rate = rateValues.number(for: definition.rate)
        if index == ids.count {
            ids.append(CompactID(definition.id))
            owners.append(Int32(truncatingIfNeeded: definition.owner))
            keys.append(key)
            rates.append(rate)
            flags.append(flag)
        } else {
            ids[index] = CompactID(definition.id)
            owners[index] = Int32(truncatingIfNeeded: definition.owner)
            keys[index] = key
            rates[index] = rate
            flags[index] = flag
        }
        if flag.contains(.instance) { instances[index] = StoredDefinition(definition) } else { cache.put(definition, at: index) }
    }

    mutating func clear(_ index: Int) {
        guard contains(index) else { return }
        ids[index] = .text("")
        flags[index] = []
        instances[index] = nil
        cache.forget(index)
    }

}

/// Values many monitors share (statistic keys, rates), each stored once and named by a number.
/// Never shrinks: a key or rate once used is likely to be used again.
struct Interned<Value: Hashable> {
    private var values: [Value] = []
    private var numbers: [Value: Int32] = [:]

    subscript(number: Int32) -> Value { values[Int(number)] }

    mutating func number(for value: Value) -> Int32 {
        if let number = numbers[value] { return number }
        let number = Int32(values.count)
        values.append(value)
        numbers[value] = number
        return number
    }
}

/// A definition on the heap, so that tables of them hold a pointer each.
final class StoredDefinition: Sendable {
    let definition: MonitorDefinition
    init(_ definition: MonitorDefinition) { self.definition = definition }
}

/// The definitions read back recently, by slot. A class so that reading through a `Core` that
/// is not `inout` (event builders) can still fill it; it is only touched under the engine's lock.
final class DefinitionCache: @unchecked Sendable {
    private var entries: [Int: StoredDefinition] = [:]
    private let load: (String) -> MonitorDefinition?
    /// Enough for every monitor an evaluation cycle's events or an API request touch at once.
    static let capacity = 512

    init(load: @escaping (String) -> MonitorDefinition?) { self.load = load }

    func definition(_ index: Int, id: String) -> MonitorDefinition? {
        if let cached = entries[index]?.definition, cached.id == id { return cached }
        guard let loaded = load(id) else { return nil }
        put(loaded, at: index)
        return loaded
    }

    func put(_ definition: MonitorDefinition, at index: Int) {
        if entries.count >= DefinitionCache.capacity, entries[index] == nil { entries.removeAll(keepingCapacity: true) }
        entries[index] = StoredDefinition(definition)
    }

    func forget(_ index: Int) { entries[index] = nil }
}
