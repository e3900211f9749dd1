import ResmonSystem
import Statistics

/// Which statistics each distinct selector (an aggregate's or a template's `select` and `where`)
/// chooses, kept up to date from what changed in the sample table: a statistic is matched
/// against a selector once, when it first appears (or its key or labels change).
///
/// Before, every structure change (a process starting, a new push) matched every statistic
/// against every selection monitor's pattern again, under the sample table's lock: 300
/// aggregates over one costly pattern took 4.8 s of CPU a cycle (issue 22, re-attack item 4).
/// Then each selector still walked every statistic at every change to check its answers, and
/// new statistics were matched without limit: 1,200 aggregates over distinct costly patterns and
/// 1,000 new pushes left the sampler 5 cycles in 70 s (issue 22, second attack). Now a
/// resolution works out once what came, changed and went (`begin`), each selector applies only
/// that, and new statistics are matched within a CPU budget (`budget`): a selector not answered
/// for every statistic within it keeps its answers so far, and the next resolution goes on from
/// there. Monitors with the same selector share one set of answers.
/// Sendable by hand: its state is read and written under `state`'s lock only.
final class SelectionCache: Sendable {
    typealias Selection = [(handle: StatisticHandle, descriptor: StatisticDescriptor)]

    /// What a statistic was when last seen: a change of either makes it new to every selector.
    struct Seen: Equatable {
        let key: String
        let labels: [String: String]
    }

    /// One selector's answers.
    struct Entry {
        /// The resolution it last took changes from.
        var round: Int
        /// Statistics it chooses.
        var selected: Set<StatisticHandle> = []
        /// Statistics not matched yet (new, changed, or left over when the budget ran out), from
        /// `next` on: a resolution that stops at its deadline only moves `next`.
        var pending: [StatisticHandle]
        var next = 0
        /// `selected` in slot order with descriptors, until it changes.
        var ordered: Selection?
        /// Thread CPU seconds a match has taken, as last measured (0: not measured yet).
        var costPerMatch = 0.0
    }

    struct State {
        var entries: [String: Entry] = [:]
        /// Every live statistic as the last resolution saw it.
        var seen: [StatisticHandle: Seen] = [:]
        /// The current resolution: its number, what came or changed, what went, and descriptors.
        var round = 0
        var fresh: Set<StatisticHandle> = []
        var freshInOrder: [StatisticHandle] = []
        var gone: Set<StatisticHandle> = []
        var live: [StatisticHandle] = []
        var descriptors: [StatisticHandle: StatisticDescriptor] = [:]
        /// Statistics matched in the current resolution, by all selectors together.
        var matched = 0
        /// Whether an answer was put in order past the deadline in the current resolution: one
        /// may be, so that every answer is made in the end; no more.
        var orderedPastDeadline = false
        /// `count`'s answers, for the table's structure version they were made at.
        var counts: [String: Int] = [:]
        var countsVersion = UInt64.max
    }

    private let state = Lock(State())

    /// The thread CPU seconds one resolution may spend matching new statistics.
    static let budget = 0.03

    /// The thread CPU time past which matching stops, for a resolution that starts now.
    static func deadline() -> Double { Clock.threadCPU() + budget }

    /// Starts a resolution over `live` (the table's, read once): works out what came, changed and
    /// went since the last one. Returns the resolution's number, which also starts its rotation
    /// of selectors.
    func begin(_ live: Selection) -> Int {
        state.withLock { state in
            state.round &+= 1
            state.matched = 0
            state.orderedPastDeadline = false
            state.fresh = []
            state.freshInOrder = []
            state.live = live.map(\.handle)
            state.descriptors = Dictionary(live.map { ($0.handle, $0.descriptor) }, uniquingKeysWith: { first, _ in first })
            var seen: [StatisticHandle: Seen] = [:]
            seen.reserveCapacity(live.count)
            for (handle, descriptor) in live {
                let now = Seen(key: descriptor.key.text, labels: descriptor.labels)
                if state.seen[handle] != now {
                    state.fresh.insert(handle)
                    state.freshInOrder.append(handle)
                }
                seen[handle] = now
            }
            state.gone = Set(state.seen.keys.filter { seen[$0] == nil })
            state.seen = seen
            return state.round
        }
    }

    /// The statistics `selector` chooses in the current resolution, in slot order; nil when
    /// matching new statistics ran past `deadline` (thread CPU time) first.
    func select(_ selector: Selector, until deadline: Double = .infinity) -> Selection? {
        state.withLock { state in
            var entry: Entry
            if let known = state.entries.removeValue(forKey: selector.identity), known.round == state.round &- 1 || known.round == state.round {
                entry = known
                if known.round != state.round {
                    // This resolution's changes: what changed is matched again, what went leaves.
                    let stale = entry.selected.intersection(state.fresh).union(entry.selected.intersection(state.gone))
                    if !stale.isEmpty {
                        entry.selected.subtract(stale)
                        entry.ordered = nil
                    }
                    // What went and is still pending is skipped when reached (its handle has no
                    // descriptor, and handles are never reused).
                    // An answer that churn keeps from finishing: what it matched, and what went,
                    // leave its list, which so stays within the table's size.
                    if entry.next > 0 {
                        entry.pending.removeFirst(entry.next)
                        entry.next = 0
                    }
                    if entry.pending.count > state.live.count { entry.pending.removeAll { state.descriptors[$0] == nil } }
                    entry.pending += state.freshInOrder
                    entry.round = state.round
                }
            } else {
                // New (or it missed a resolution): every live statistic is to be matched.
                entry = Entry(round: state.round, pending: state.live)
            }
            // The clock is read as a call starts matching (but for the resolution's first match,
            // always made so that one goes on), then every match for a selector not measured yet
            // or costly (over 20 µs a match), every 16 for a cheap one (a clock read costs about
            // a match): past the deadline a call matches nothing, or a bounded handful.
            let stride = entry.costPerMatch == 0 || entry.costPerMatch > 2e-5 ? 1 : 16
            let started = entry.next < entry.pending.count ? Clock.threadCPU() : 0
            let first = state.matched
            var tried = 0
            func measure(until now: Double) {
                let matches = state.matched - first
                guard matches > 0 else { return }
                let cost = (now - started) / Double(matches)
                entry.costPerMatch = entry.costPerMatch == 0 ? cost : (entry.costPerMatch + cost) / 2
            }
            while entry.next < entry.pending.count {
                if tried % stride == 0 && (tried > 0 || state.matched > 0) {
                    let now = Clock.threadCPU()
                    if now > deadline {
                        measure(until: now)
                        state.entries[selector.identity] = entry
                        return nil
                    }
                }
                let handle = entry.pending[entry.next]
                entry.next += 1
                guard let descriptor = state.descriptors[handle] else { continue }
                state.matched += 1
                tried += 1
                guard selector.matches(descriptor) else { continue }
                entry.selected.insert(handle)
                entry.ordered = nil
            }
            entry.pending = []
            entry.next = 0
            if state.matched > first || entry.ordered == nil {
                let now = Clock.threadCPU()
                measure(until: now)
                // Putting a changed answer in order costs as matching does (a selector of every
                // statistic, in a table that churns): not begun past the deadline either.
                if entry.ordered == nil && now > deadline {
                    guard !state.orderedPastDeadline else {
                        state.entries[selector.identity] = entry
                        return nil
                    }
                    state.orderedPastDeadline = true
                }
            }
            let ordered =
                entry.ordered
                ?? entry.selected.compactMap { handle in state.descriptors[handle].map { (handle, $0) } }.sorted { $0.handle.index < $1.handle.index }
            entry.ordered = ordered
            state.entries[selector.identity] = entry
            return ordered
        }
    }

    /// Statistics matched so far in the current resolution, by all selectors together.
    var matchedInResolution: Int { state.withLock { $0.matched } }

    /// The thread CPU seconds answering `selector` in the current resolution is expected to take:
    /// what it has left to match times what a match of it cost. 0 for a selector not measured
    /// yet (new ones are tried first, and measured).
    func remainingCost(_ selector: Selector) -> Double {
        state.withLock { state in
            guard let entry = state.entries[selector.identity] else { return 0 }
            let fresh = entry.round == state.round ? 0 : state.freshInOrder.count
            return Double(entry.pending.count - entry.next + fresh) * entry.costPerMatch
        }
    }

    /// `selectors` ordered cheapest to answer first (ties keep their order): a cheap selector
    /// is never left waiting behind costly ones that cannot finish in a resolution's budget (root's
    /// `^app:rootr:v$` stayed at 0 members for 38 s behind six costly ones of root's own while other
    /// users churned pushes; issue 22, attack 4).
    func cheapestFirst(_ selectors: [Selector]) -> [Selector] {
        let costs = selectors.map { remainingCost($0) }
        return selectors.indices.sorted { costs[$0] < costs[$1] || (costs[$0] == costs[$1] && $0 < $1) }.map { selectors[$0] }
    }

    /// How many statistics `selector` chooses now, for a monitor's report before the sampler has
    /// resolved it (right after a create): remembered per selector until the table's structure
    /// changes, so 300 aggregates over one pattern created at once match the table once, not 300
    /// times. Matched outside the lock.
    func count(_ selector: Selector, in table: SampleTable) -> Int {
        let version = table.structureVersion
        if let known = state.withLock({ $0.countsVersion == version ? $0.counts[selector.identity] : nil }) { return known }
        let count = table.handles().count { selector.matches($0.descriptor) }
        state.withLock { state in
            if state.countsVersion != version {
                state.counts = [:]
                state.countsVersion = version
            }
            state.counts[selector.identity] = count
        }
        return count
    }

    /// Forgets the selectors no monitor has any more.
    func keep(only identities: Set<String>) {
        state.withLock { state in
            guard state.entries.count > identities.count else { return }
            state.entries = state.entries.filter { identities.contains($0.key) }
        }
    }
}
