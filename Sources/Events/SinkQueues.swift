import ResmonAPI

/// A sink's events read from the log and waiting for delivery, a queue per owner (the uid of
/// the monitor or application that logged them; 0 for root and resmond's own), served in turn:
/// one uid's backlog behind a slow receiver no longer delays root's events or another uid's.
/// One uid at its storm limit once kept a 100 ms webhook busy while root's events arrived 41 s,
/// 83 s and 125 s late (issue 22, fourth attack).
///
/// Bounded: root's events are read ahead `rootAhead` at most (the rest wait in the log, the
/// durable outbox); a uid other than root may have `perOwner` events waiting, and all such uids
/// `allOwners` together; an event past them is dropped for this sink, counted in `dropped` and
/// logged (it stays in the log, for `GET /v1/events`).
struct SinkQueues {
    static let rootAhead = 200
    static let perOwner = 1000
    static let allOwners = 10_000

    private struct Queue {
        var events: [EventRecord] = []
        var head = 0
        var count: Int { events.count - head }
        var first: EventRecord? { head < events.count ? events[head] : nil }

        mutating func removeFirst() {
            head += 1
            if head == events.count {
                events.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 1024 && head * 2 >= events.count {
                events.removeFirst(head)
                head = 0
            }
        }
    }

    private var queues: [Int: Queue] = [:]
    /// The owners with events waiting, in the order they are served; `turn` is whose is next.
    private var owners: [Int] = []
    private var turn = 0
    private var waitingOthers = 0
    /// The last event id read from the log.
    private(set) var read: Int64
    /// Events dropped since the start, by owner.
    private(set) var dropped: [Int: Int] = [:]

    init(after cursor: Int64) { read = cursor }

    /// Whether more of the log should be read now: while root's queue has room.
    var wantsMore: Bool { (queues[0]?.count ?? 0) < SinkQueues.rootAhead }

    var isEmpty: Bool { owners.isEmpty }

    /// Where delivery stands for a restart: before the oldest event still waiting, or all that
    /// was read. Events of other queues delivered after it are delivered again after a restart.
    var cursor: Int64 {
        let oldest = owners.compactMap { queues[$0]?.first?.id }.min()
        return oldest.map { $0 - 1 } ?? read
    }

    /// Queues `event` of `owner` read from the log (or `nil`: read and skipped, by the filter);
    /// false when it was dropped, its owner's or all owners' backlog full.
    @discardableResult
    mutating func add(_ event: EventRecord?, id: Int64, owner: Int) -> Bool {
        read = max(read, id)
        guard let event else { return true }
        if owner != 0 {
            if (queues[owner]?.count ?? 0) >= SinkQueues.perOwner || waitingOthers >= SinkQueues.allOwners {
                dropped[owner, default: 0] += 1
                return false
            }
            waitingOthers += 1
        }
        if queues[owner]?.first == nil { owners.append(owner) }
        queues[owner, default: Queue()].events.append(event)
        return true
    }

    /// The next event to deliver and its owner, taking turns between owners.
    var next: (owner: Int, event: EventRecord)? {
        guard !owners.isEmpty else { return nil }
        let owner = owners[turn % owners.count]
        return queues[owner]?.first.map { (owner, $0) }
    }

    /// The event `next` gave was dealt with (delivered or rejected): the next owner's turn.
    mutating func removeNext() {
        guard !owners.isEmpty else { return }
        let position = turn % owners.count
        let owner = owners[position]
        queues[owner]?.removeFirst()
        if owner != 0 { waitingOthers -= 1 }
        if queues[owner]?.count == 0 {
            queues[owner] = nil
            owners.remove(at: position)
            turn = owners.isEmpty ? 0 : position % owners.count
        } else {
            turn = (position + 1) % owners.count
        }
    }
}
