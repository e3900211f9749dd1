import ResmonSystem
import Statistics

/// The statistics recent `GET /v1/statistics` queries selected, by the text of their `match` and
/// `where`, until the sample table's structure changes (a statistic comes, goes or changes its
/// labels). An open dashboard lists the same statistics every step: compiling its pattern and
/// matching every statistic again was a third of the listing's cost (issue 19). A hit neither
/// compiles nor reserves a pattern; only complete selections are kept, so the 2 s matching
/// budget still refuses what it refused.
/// Sendable by hand: its state is read and written under `state`'s lock only.
final class ListingCache: Sendable {
    /// Distinct queries kept; the least recently used goes first.
    static let capacity = 16
    /// Larger selections are not kept (at most 16 × 4,096 handles, 512 KiB).
    static let largestSelection = 4_096

    private struct Entry {
        let handles: [StatisticHandle]
        var used: UInt64
    }

    private struct State {
        var version: UInt64 = .max
        var entries: [String: Entry] = [:]
        var clock: UInt64 = 0
    }

    private let state = Lock(State())

    /// One string per distinct query: `match` absent and empty differ, and no condition holds a
    /// NUL (the router refuses one in a query).
    static func identity(match: String?, where conditions: [String]) -> String {
        ([match.map { "=" + $0 } ?? "-"] + conditions).joined(separator: "\u{0}")
    }

    /// The handles `identity` selected, in key order, if the table's structure is still `version`.
    func selection(_ identity: String, version: UInt64) -> [StatisticHandle]? {
        state.withLock { state in
            guard state.version == version, var entry = state.entries[identity] else { return nil }
            state.clock += 1
            entry.used = state.clock
            state.entries[identity] = entry
            return entry.handles
        }
    }

    /// Keeps what `identity` selected from the table at structure `version` (read before the
    /// table's handles were: a change in between makes the entry stale, never wrong).
    func remember(_ identity: String, _ handles: [StatisticHandle], version: UInt64) {
        guard handles.count <= ListingCache.largestSelection else { return }
        state.withLock { state in
            if state.version != version {
                state.entries.removeAll(keepingCapacity: true)
                state.version = version
            }
            if state.entries[identity] == nil, state.entries.count >= ListingCache.capacity,
                let oldest = state.entries.min(by: { $0.value.used < $1.value.used })?.key
            {
                state.entries[oldest] = nil
            }
            state.clock += 1
            state.entries[identity] = Entry(handles: handles, used: state.clock)
        }
    }
}
