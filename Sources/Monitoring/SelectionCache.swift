import Statistics
import Synchronization

/// Which statistics each distinct selector (an aggregate's or a template's `select` and `where`)
/// chooses, remembered per statistic: a statistic is matched against a selector once, when it
/// first appears (or its key or labels change), not at every change of the table's structure.
///
/// Before, every structure change (a process starting, a new push) matched every statistic
/// against every selection monitor's pattern again, under the sample table's lock: 300
/// aggregates over one costly pattern took 4.8 s of CPU a cycle (issue 22, re-attack item 4).
/// Monitors with the same selector share one set of answers.
/// Sendable by hand: its state is read and written under `state`'s lock only.
final class SelectionCache: Sendable {
    struct Answer {
        let key: String
        let labels: [String: String]
        let selected: Bool
    }

    struct State {
        /// Answers by selector identity, then by statistic.
        var answers: [String: [StatisticHandle: Answer]] = [:]
    }

    private let state = Mutex(State())

    /// The statistics of `live` (the table's, read once) that `selector` chooses, in `live`'s order.
    func select(
        _ selector: Selector, from live: [(handle: StatisticHandle, descriptor: StatisticDescriptor)]
    ) -> [(handle: StatisticHandle, descriptor: StatisticDescriptor)] {
        state.withLock { state in
            var known = state.answers.removeValue(forKey: selector.identity) ?? [:]
            var found: [(handle: StatisticHandle, descriptor: StatisticDescriptor)] = []
            for (handle, descriptor) in live {
                let selected: Bool
                if let answer = known[handle], answer.key == descriptor.key.text, answer.labels == descriptor.labels {
                    selected = answer.selected
                } else {
                    selected = selector.matches(descriptor)
                    known[handle] = Answer(key: descriptor.key.text, labels: descriptor.labels, selected: selected)
                }
                if selected { found.append((handle, descriptor)) }
            }
            // Statistics that are gone leave (their handles are not reused: the generation moves).
            if known.count > live.count {
                let handles = Set(live.map(\.handle))
                known = known.filter { handles.contains($0.key) }
            }
            state.answers[selector.identity] = known
            return found
        }
    }

    /// Forgets the selectors no monitor has any more.
    func keep(only identities: Set<String>) {
        state.withLock { state in
            guard state.answers.count > identities.count else { return }
            state.answers = state.answers.filter { identities.contains($0.key) }
        }
    }
}
