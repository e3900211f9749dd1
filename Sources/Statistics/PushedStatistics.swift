import ResmonSystem
import Synchronization

/// Statistics that applications push (`PUT /v1/statistics/app:RESOURCE:NAME`): kept in the
/// sample table like collected ones, and retired when not pushed again within the expiry. Each
/// belongs to the uid that pushed it first (as a monitor to its creator): only that uid or root
/// may push it again or remove it, until it is removed or expires.
public final class PushedStatistics: Sendable {
    /// Why a push is refused.
    public enum Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        case notApp(String)
        case invalidValue(String)
        case invalidUnit(String)
        case kindConflict(key: String, existing: StatisticKind)
        case namingConvention(String)
        case full(limit: Int)
        /// A non-root uid already has `limit` pushed statistics (its own quota).
        case quota(uid: Int, limit: Int)
        case notOwner(key: String, owner: Int)

        public var description: String {
            switch self {
            case .notApp(let key): "\(key): only app:RESOURCE:NAME statistics can be pushed"
            case .invalidValue(let reason): reason
            case .invalidUnit(let unit): "unit \"\(unit)\": expected up to 32 characters of [a-z0-9_/%]"
            case .kindConflict(let key, let existing): "\(key) is a \(existing.rawValue); delete it before pushing another kind"
            case .namingConvention(let reason): reason
            case .full(let limit): "already \(limit) pushed statistics; delete some or let them expire"
            case .quota(let uid, let limit):
                "uid \(uid) already has \(limit) pushed statistics, the most one uid other than root may have; delete some or let them expire"
            case .notOwner(let key, let owner): "\(key) belongs to uid \(owner); only its owner or root may push or delete it"
            }
        }
    }

    struct Entry {
        let handle: StatisticHandle
        let kind: StatisticKind
        /// The uid that pushed it first.
        let owner: Int
        var lastPush: Double
    }

    /// The pushed statistics of every uid together.
    public static let limit = 10_000
    /// The pushed statistics of one uid other than root (root is held by `limit` only): one
    /// ordinary user filled the shared 10,000 and root's next push was refused (issue 22).
    public static let perUidLimit = 1_000
    /// The last of `limit` that only root may fill: ten ordinary users at their quota leave it.
    public static let rootReserve = 1_000
    private let table: SampleTable

    /// The entries by key, and how many each owner has.
    struct State {
        var entries: [String: Entry] = [:]
        var owned: [Int: Int] = [:]

        mutating func remove(_ key: String) -> Entry? {
            guard let entry = entries.removeValue(forKey: key) else { return nil }
            owned[entry.owner, default: 1] -= 1
            if owned[entry.owner] == 0 { owned[entry.owner] = nil }
            return entry
        }
    }

    private let state = Lock(State())
    private let expireSeconds: Atomic<Int>

    public init(table: SampleTable, expireSeconds: Int = 300) {
        self.table = table
        self.expireSeconds = Atomic(expireSeconds)
    }

    public func setExpiry(seconds: Int) { expireSeconds.store(seconds, ordering: .relaxed) }

    /// Records a value: a gauge's level or a counter's raw total, for `caller` (a uid; 0 is
    /// root). Returns the handle.
    @discardableResult
    public func push(
        _ key: StatisticKey, value: Double, kind: StatisticKind, unit: String, help: String? = nil, caller: Int = 0,
        time: Double = Clock.wall(), monotonicTime: Double = Clock.monotonic()
    ) throws(Refusal) -> StatisticHandle {
        guard key.subsystem == "app" else { throw .notApp(key.text) }
        guard key.resource.utf8.count <= 200 else { throw .invalidValue("the resource is longer than 200 bytes") }
        guard key.statistic.utf8.count <= 200 else { throw .invalidValue("the statistic is longer than 200 bytes") }
        guard value.isFinite else { throw .invalidValue("value must be a finite number") }
        if kind == .counter && value < 0 { throw .invalidValue("a counter's total cannot be negative") }
        guard unit.utf8.count <= 32,
            unit.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5f || $0 == 0x2f || $0 == 0x25 })
        else { throw .invalidUnit(unit) }
        let handle: StatisticHandle = try state.withLock { state throws(Refusal) in
            if let existing = state.entries[key.text] {
                guard caller == 0 || caller == existing.owner else { throw .notOwner(key: key.text, owner: existing.owner) }
                guard existing.kind == kind else { throw .kindConflict(key: key.text, existing: existing.kind) }
                state.entries[key.text]!.lastPush = monotonicTime
                return existing.handle
            }
            let isTotal = key.statistic.hasSuffix("_total")
            if kind == .counter && !isTotal { throw .namingConvention("a counter's name ends in _total (Prometheus convention): \(key.statistic)_total") }
            if kind == .gauge && isTotal { throw .namingConvention("a name ending in _total is a counter: push it with kind counter") }
            guard state.entries.count < PushedStatistics.limit else { throw .full(limit: PushedStatistics.limit) }
            let shared = PushedStatistics.limit - PushedStatistics.rootReserve
            if caller != 0 && state.entries.count >= shared { throw .full(limit: shared) }
            if caller != 0 && state.owned[caller, default: 0] >= PushedStatistics.perUidLimit {
                throw .quota(uid: caller, limit: PushedStatistics.perUidLimit)
            }
            let descriptor = StatisticDescriptor(
                key: key, kind: kind, unit: unit, resolution: 0, labels: [:],
                help: help ?? "Pushed by an application")
            let handle = table.register(descriptor)
            state.entries[key.text] = Entry(handle: handle, kind: kind, owner: caller, lastPush: monotonicTime)
            state.owned[caller, default: 0] += 1
            return handle
        }
        var batch = SampleBatch()
        batch.record(handle, value)
        table.apply(batch, time: time, monotonicTime: monotonicTime)
        return handle
    }

    /// Removes a pushed statistic for `caller` (a uid; 0 is root); false when there was none.
    public func remove(_ key: StatisticKey, caller: Int = 0) throws(Refusal) -> Bool {
        let removed = try state.withLock { state throws(Refusal) -> Entry? in
            guard let entry = state.entries[key.text] else { return nil }
            guard caller == 0 || caller == entry.owner else { throw .notOwner(key: key.text, owner: entry.owner) }
            return state.remove(key.text)
        }
        guard let removed else { return false }
        table.retire(removed.handle)
        return true
    }

    /// Retires what was not pushed within the expiry. Returns how many are left.
    @discardableResult
    public func expire(monotonicTime: Double = Clock.monotonic()) -> Int {
        let horizon = monotonicTime - Double(expireSeconds.load(ordering: .relaxed))
        let (stale, left) = state.withLock { state in
            let stale = state.entries.filter { $0.value.lastPush < horizon }
            for key in stale.keys { _ = state.remove(key) }
            return (Array(stale.values), state.entries.count)
        }
        for entry in stale { table.retire(entry.handle) }
        return left
    }
}

/// `app`: the pushed statistics as a subsystem, so they are listed, counted and expired each cycle.
public final class AppSubsystem: Subsystem {
    /// Its name and what it allows, declared once (BuiltInSubsystem.all).
    public static let builtIn = BuiltInSubsystem(name: "app", samplesBetweenSteps: true)
    public var name: String { Self.builtIn.name }
    public let summary = "Statistics pushed by applications (PUT /v1/statistics/app:RESOURCE:NAME)"
    private let pushed: PushedStatistics

    public init(pushed: PushedStatistics) { self.pushed = pushed }

    public func collect(into batch: inout SampleBatch) throws {
        pushed.expire()
    }

    public func retireAll() {}
}
