/// Where the collectors read the kernel: `/proc` and `/sys`, or a fixture tree in tests.
public struct HostPaths: Sendable {
    public var procRoot: String
    public var sysRoot: String

    public init(procRoot: String = "/proc", sysRoot: String = "/sys") {
        self.procRoot = procRoot
        self.sysRoot = sysRoot
    }

    public func proc(_ relative: String) -> String { procRoot + "/" + relative }
    public func sys(_ relative: String) -> String { sysRoot + "/" + relative }
}

/// A subsystem that cannot collect on this host (the kernel lacks it, a file is unreadable).
public struct SubsystemUnavailable: Error, Sendable, CustomStringConvertible {
    public let reason: String
    /// What `/v1/subsystems` shows: `unavailable`, or a plug-in's `over-limit` or `stuck`.
    public let state: SubsystemStatus.State
    public init(_ reason: String, state: SubsystemStatus.State = .unavailable) {
        self.reason = reason
        self.state = state
    }
    public var description: String { reason }
}

/// A source of statistics: one family of kernel files read together.
///
/// `collect` runs on the sampling thread only; it registers statistics as resources appear,
/// retires them as they go, and records readings into the batch.
public protocol Subsystem: AnyObject {
    /// `[a-z0-9_]+`, the first part of every key the subsystem owns.
    var name: String { get }
    /// One line for `resmon subsystems`.
    var summary: String { get }
    /// Reads the kernel once. Throws `SubsystemUnavailable` (or a `ReadError`) when it cannot.
    func collect(into batch: inout SampleBatch) throws
    /// Removes every statistic the subsystem registered (it is being disabled).
    func retireAll()
}

/// How one statistic of a subsystem is described, for every resource that has it.
struct StatisticSpec {
    enum Bound {
        case none
        /// 0…1.
        case ratio
        /// One of the per-resource capacities given when the resource is registered.
        case capacity(Int)
        /// A fixed number.
        case fixed(Double)
    }

    let name: String
    let kind: StatisticKind
    let unit: String
    let help: String
    var resolution: Double = 1
    var bound: Bound = .none
    var wrapsAt: Double? = nil
    var updateInterval: Double = 0

    static func gauge(
        _ name: String, _ unit: String, _ help: String, resolution: Double = 1, bound: Bound = .none,
        updateInterval: Double = 0
    ) -> StatisticSpec {
        StatisticSpec(name: name, kind: .gauge, unit: unit, help: help, resolution: resolution, bound: bound, updateInterval: updateInterval)
    }

    static func counter(_ name: String, _ unit: String, _ help: String, resolution: Double = 1, wrapsAt: Double? = nil) -> StatisticSpec {
        StatisticSpec(name: name, kind: .counter, unit: unit, help: help, resolution: resolution, wrapsAt: wrapsAt)
    }
}

/// The handles of each resource a subsystem has seen, registered on first sight and retired
/// when a collection no longer finds the resource.
final class ResourceSlots {
    private let subsystem: String
    private let specs: [StatisticSpec]
    private let table: SampleTable
    private var slots: [String: (handles: [StatisticHandle], lastSeen: UInt64)] = [:]
    private var pass: UInt64 = 0

    init(subsystem: String, specs: [StatisticSpec], table: SampleTable) {
        self.subsystem = subsystem
        self.specs = specs
        self.table = table
    }

    /// Starts a collection pass.
    func begin() { pass &+= 1 }

    /// The handles of `resource`, in the order of the specs; registers them the first time.
    /// `capacities` and `labels` are evaluated only then, never on the per-sample path.
    func handles(
        for resource: String, capacities: @autoclosure () -> [Double?] = [],
        labels: () -> [String: String]
    ) -> [StatisticHandle] {
        if let slot = slots[resource] {
            slots[resource]!.lastSeen = pass
            return slot.handles
        }
        let resourceLabels = labels()
        let capacities = capacities()
        let handles = specs.map { spec -> StatisticHandle in
            let upperBound: Double?
            switch spec.bound {
            case .none: upperBound = nil
            case .ratio: upperBound = 1
            case .capacity(let slot): upperBound = slot < capacities.count ? capacities[slot] : nil
            case .fixed(let value): upperBound = value
            }
            let key = StatisticKey(subsystem: subsystem, resource: resource, statistic: spec.name)
            return table.register(
                StatisticDescriptor(
                    key: key, kind: spec.kind, unit: spec.unit, resolution: spec.resolution,
                    upperBound: upperBound, labels: resourceLabels, help: spec.help, wrapsAt: spec.wrapsAt,
                    updateInterval: spec.updateInterval))
        }
        slots[resource] = (handles, pass)
        return handles
    }

    /// Ends a pass: resources not seen in it are retired.
    func end() {
        let gone = slots.filter { $0.value.lastSeen != pass }
        for (resource, slot) in gone {
            slot.handles.forEach(table.retire)
            slots[resource] = nil
        }
    }

    /// Retires one resource now (a reused PID: the same name, another process).
    func retire(_ resource: String) {
        guard let slot = slots.removeValue(forKey: resource) else { return }
        slot.handles.forEach(table.retire)
    }

    func retireAll() {
        for slot in slots.values { slot.handles.forEach(table.retire) }
        slots.removeAll()
    }

    var resources: [String] { slots.keys.sorted() }
}

/// A built-in subsystem's name and what it allows. Each subsystem type declares its own
/// (`CPUSubsystem.builtIn`); the configuration's names, the names a plug-in may not take, and
/// which statistics a monitor may have sampled between steps all read this one list.
public struct BuiltInSubsystem: Sendable, Equatable {
    public let name: String
    /// Whether a monitor faster than the step may have it re-read between steps (sub-step
    /// monitoring): not for processes, cgroups and file systems, whose many files would cost
    /// more at that rate than they tell.
    public let samplesBetweenSteps: Bool

    public init(name: String, samplesBetweenSteps: Bool) {
        self.name = name
        self.samplesBetweenSteps = samplesBetweenSteps
    }

    /// Every built-in subsystem, in the order `resmon subsystems` lists them.
    public static let all: [BuiltInSubsystem] = [
        CPUSubsystem.builtIn, MemorySubsystem.builtIn, LoadSubsystem.builtIn, PressureSubsystem.builtIn, DiskSubsystem.builtIn,
        NetSubsystem.builtIn, FileSystemSubsystem.builtIn, ProcessSubsystem.builtIn, CgroupSubsystem.builtIn, SelfSubsystem.builtIn,
        AppSubsystem.builtIn
    ]

    public static var names: [String] { all.map(\.name) }
}
