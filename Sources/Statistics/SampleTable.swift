import ResmonSystem

/// An index into the sample table, resolved once from a key.
public struct StatisticHandle: Hashable, Sendable {
    public let index: Int32
    /// Distinguishes a reused slot from the statistic that held it before.
    public let generation: UInt32
}

/// The latest reading of one statistic, as readers outside the sampling loop see it.
public struct Sample: Sendable {
    public let descriptor: StatisticDescriptor
    /// A gauge's value, or a counter's per-second rate; NaN when unknown (first reading, reset).
    public let value: Double
    /// A counter's raw total; NaN for a gauge.
    public let total: Double
    /// A counter's increase over the last interval; NaN for a gauge or when unknown.
    public let increase: Double
    /// Wall-clock time of the reading, seconds since the epoch.
    public let time: Double
}

/// Writes collected in one pass of a subsystem, applied to the table under one lock.
public struct SampleBatch: Sendable {
    struct Entry {
        var handle: StatisticHandle
        var value: Double
    }
    var entries: [Entry] = []

    public init() {}

    /// Records a gauge's value, or a counter's raw total (the table derives its rate).
    public mutating func record(_ handle: StatisticHandle, _ value: Double) {
        entries.append(Entry(handle: handle, value: value))
    }

    public var count: Int { entries.count }
    public mutating func removeAll() { entries.removeAll(keepingCapacity: true) }
}

/// The latest value of every statistic, in flat arrays indexed by handle.
///
/// Keys are resolved to handles once, when a statistic is registered; the sampling loop and the
/// monitor engine then work on handles only. All access goes through one mutex: writers apply a
/// whole batch at a time, readers copy what they need.
public final class SampleTable: Sendable {
    struct Storage {
        var descriptors: [StatisticDescriptor?] = []
        /// Each slot's kind, nil when free: what a cycle's writes and reads need of the
        /// descriptor, without copying it (a descriptor bound to a name is retained field by
        /// field: 10,000 plug-in statistics spent 3 ms a second on it).
        var kinds: [StatisticKind?] = []
        var generations: [UInt32] = []
        var values: [Double] = []
        var totals: [Double] = []
        var increases: [Double] = []
        var times: [Double] = []
        var monotonicTimes: [Double] = []
        var handlesByKey: [String: StatisticHandle] = [:]
        var freeSlots: [Int32] = []
        var liveCount = 0
        /// Bumped when a statistic comes, goes, or changes its labels, kind, unit or help.
        var structureVersion: UInt64 = 0
    }

    private let storage = Lock(Storage())

    public init() {}

    /// Registers a statistic (or returns the handle it already has).
    public func register(_ descriptor: StatisticDescriptor) -> StatisticHandle {
        storage.withLock { storage in
            if let handle = storage.handlesByKey[descriptor.key.text] {
                if let old = storage.descriptors[Int(handle.index)],
                    old.labels != descriptor.labels || old.kind != descriptor.kind
                        || old.unit != descriptor.unit || old.help != descriptor.help || old.family != descriptor.family
                {
                    storage.structureVersion &+= 1
                }
                storage.descriptors[Int(handle.index)] = descriptor
                storage.kinds[Int(handle.index)] = descriptor.kind
                return handle
            }
            storage.structureVersion &+= 1
            let index: Int32
            if let free = storage.freeSlots.popLast() {
                index = free
                let slot = Int(index)
                storage.descriptors[slot] = descriptor
                storage.kinds[slot] = descriptor.kind
                storage.generations[slot] &+= 1
                storage.values[slot] = .nan
                storage.totals[slot] = .nan
                storage.increases[slot] = .nan
                storage.times[slot] = .nan
                storage.monotonicTimes[slot] = .nan
            } else {
                index = Int32(storage.descriptors.count)
                storage.descriptors.append(descriptor)
                storage.kinds.append(descriptor.kind)
                storage.generations.append(0)
                storage.values.append(.nan)
                storage.totals.append(.nan)
                storage.increases.append(.nan)
                storage.times.append(.nan)
                storage.monotonicTimes.append(.nan)
            }
            let handle = StatisticHandle(index: index, generation: storage.generations[Int(index)])
            storage.handlesByKey[descriptor.key.text] = handle
            storage.liveCount += 1
            return handle
        }
    }

    /// Removes a statistic whose resource has gone; its slot may be reused under a new generation.
    public func retire(_ handle: StatisticHandle) {
        storage.withLock { storage in
            let slot = Int(handle.index)
            guard slot < storage.descriptors.count, storage.generations[slot] == handle.generation,
                let descriptor = storage.descriptors[slot]
            else { return }
            storage.handlesByKey[descriptor.key.text] = nil
            storage.descriptors[slot] = nil
            storage.kinds[slot] = nil
            storage.freeSlots.append(handle.index)
            storage.liveCount -= 1
            storage.structureVersion &+= 1
        }
    }

    /// Applies one subsystem's readings, all taken at the same moment.
    public func apply(_ batch: SampleBatch, time: Double, monotonicTime: Double) {
        storage.withLock { storage in
            for entry in batch.entries {
                let slot = Int(entry.handle.index)
                guard slot < storage.kinds.count, storage.generations[slot] == entry.handle.generation, let kind = storage.kinds[slot]
                else { continue }
                switch kind {
                case .gauge:
                    storage.values[slot] = entry.value
                case .counter:
                    let wrapsAt = storage.descriptors[slot]?.wrapsAt
                    let increase = SampleTable.increase(from: storage.totals[slot], to: entry.value, wrapsAt: wrapsAt)
                    let elapsed = monotonicTime - storage.monotonicTimes[slot]
                    storage.increases[slot] = increase
                    storage.values[slot] = elapsed > 0 ? increase / elapsed : .nan
                    storage.totals[slot] = entry.value
                    storage.monotonicTimes[slot] = monotonicTime
                }
                storage.times[slot] = time
            }
        }
    }

    /// The increase of a counter between two raw totals: NaN on the first reading and after a
    /// reset (a decrease that is not a wrap of a fixed-width counter).
    static func increase(from previous: Double, to current: Double, wrapsAt modulus: Double?) -> Double {
        guard !previous.isNaN, !current.isNaN else { return .nan }
        if current >= previous { return current - previous }
        if let modulus, previous < modulus, previous - current > modulus / 2 {
            return modulus - previous + current
        }
        return .nan
    }

    /// The handle of a key, if the statistic exists now.
    public func handle(for key: String) -> StatisticHandle? {
        storage.withLock { $0.handlesByKey[key] }
    }

    /// The latest reading of one statistic.
    public func sample(_ handle: StatisticHandle) -> Sample? {
        storage.withLock { storage in storage.sample(at: Int(handle.index), generation: handle.generation) }
    }

    /// The latest reading of one statistic by its text key.
    public func sample(forKey key: String) -> Sample? {
        storage.withLock { storage in
            guard let handle = storage.handlesByKey[key] else { return nil }
            return storage.sample(at: Int(handle.index), generation: handle.generation)
        }
    }

    /// Changes whenever a statistic comes, goes or changes its labels, kind, unit or help:
    /// consumers that resolve selections (aggregates, templates) or lay out /metrics redo it only then.
    public var structureVersion: UInt64 { storage.withLock { $0.structureVersion } }

    /// The handles and descriptors a selector chooses, in slot order.
    public func handles(selectedBy selector: Selector) -> [(handle: StatisticHandle, descriptor: StatisticDescriptor)] {
        handles(describedBy: selector.matches)
    }

    /// The handles and descriptors of the live statistics whose descriptor passes `include`, in slot order.
    public func handles(describedBy include: (StatisticDescriptor) -> Bool = { _ in true })
        -> [(handle: StatisticHandle, descriptor: StatisticDescriptor)]
    {
        storage.withLock { storage in
            var found: [(handle: StatisticHandle, descriptor: StatisticDescriptor)] = []
            for slot in storage.descriptors.indices {
                guard let descriptor = storage.descriptors[slot], include(descriptor) else { continue }
                found.append((StatisticHandle(index: Int32(slot), generation: storage.generations[slot]), descriptor))
            }
            return found
        }
    }

    /// Every live statistic a selector chooses, in key order.
    public func samples(selectedBy selector: Selector) -> [Sample] {
        samples(describedBy: selector.matches)
    }

    /// Every live statistic whose key passes `include`, in key order.
    public func samples(where include: (String) -> Bool = { _ in true }) -> [Sample] {
        samples { include($0.key.text) }
    }

    /// Every live statistic whose descriptor passes `include`, in key order.
    public func samples(describedBy include: (StatisticDescriptor) -> Bool) -> [Sample] {
        let found: [Sample] = storage.withLock { storage in
            var found: [Sample] = []
            found.reserveCapacity(storage.liveCount)
            for slot in storage.descriptors.indices {
                guard let descriptor = storage.descriptors[slot], include(descriptor) else { continue }
                if let sample = storage.sample(at: slot, generation: storage.generations[slot]) { found.append(sample) }
            }
            return found
        }
        return found.sorted { $0.descriptor.key.text < $1.descriptor.key.text }
    }

    /// A reading without its descriptor, for consumers that walk every statistic each cycle.
    public struct Reading: Sendable {
        public let handle: StatisticHandle
        public let isCounter: Bool
        /// A gauge's value or a counter's raw total.
        public let value: Double
        public let time: Double
    }

    /// Every live statistic's latest reading, in slot order, without copying descriptors.
    public func readings(into readings: inout [Reading]) {
        readings.removeAll(keepingCapacity: true)
        storage.withLock { storage in
            for slot in storage.kinds.indices {
                guard let kind = storage.kinds[slot] else { continue }
                let isCounter = kind == .counter
                readings.append(
                    Reading(
                        handle: StatisticHandle(index: Int32(slot), generation: storage.generations[slot]),
                        isCounter: isCounter, value: isCounter ? storage.totals[slot] : storage.values[slot],
                        time: storage.times[slot]))
            }
        }
    }

    /// Flat copies of the table's columns by slot, for evaluating many monitors without a lock
    /// per reading: a gauge's value or a counter's rate, the raw value (gauge value or counter
    /// total), the reading's time, and the slot's generation (UInt32.max for a free slot).
    public func copyColumns(values: inout [Double], raws: inout [Double], times: inout [Double], generations: inout [UInt32]) {
        storage.withLock { storage in
            let count = storage.descriptors.count
            values = storage.values
            times = storage.times
            raws.removeAll(keepingCapacity: true)
            generations.removeAll(keepingCapacity: true)
            for slot in 0..<count {
                let kind = storage.kinds[slot]
                raws.append(kind == .counter ? storage.totals[slot] : storage.values[slot])
                generations.append(kind == nil ? UInt32.max : storage.generations[slot])
            }
        }
    }

    /// The descriptor of a live statistic.
    public func descriptor(_ handle: StatisticHandle) -> StatisticDescriptor? {
        storage.withLock { storage in
            let slot = Int(handle.index)
            guard slot < storage.descriptors.count, storage.generations[slot] == handle.generation else { return nil }
            return storage.descriptors[slot]
        }
    }

    /// How many statistics are live.
    public var count: Int { storage.withLock { $0.liveCount } }
}

extension SampleTable.Storage {
    func sample(at slot: Int, generation: UInt32) -> Sample? {
        guard slot >= 0, slot < descriptors.count, generations[slot] == generation,
            let descriptor = descriptors[slot]
        else { return nil }
        let isCounter = descriptor.kind == .counter
        return Sample(
            descriptor: descriptor, value: values[slot], total: isCounter ? totals[slot] : .nan,
            increase: isCounter ? increases[slot] : .nan, time: times[slot])
    }
}
