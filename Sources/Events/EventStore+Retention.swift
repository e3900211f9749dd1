import Storage

extension EventStore {
    /// How many events one uid other than root keeps when `events.retentionCountPerUser` is not
    /// set: a tenth of the log's count.
    public static func defaultShare(of maximumCount: Int) -> Int { max(1, maximumCount / 10) }

    /// Deletes, at most `batch` at a time, events older than `maximumAge` seconds, the oldest of
    /// each uid other than root beyond `maximumCountPerUser` (default: `defaultShare`), root's
    /// oldest beyond `maximumCount`, and, while all together still exceed `maximumCount`, the
    /// oldest of the uids other than root, the largest share first: one user's events never
    /// push root's out. Each batch is one short transaction, so a large backlog never holds the
    /// database from writers for long; every delete walks the `events_owner` index from a
    /// uid's oldest event, and the counts come from `event_counts`, so a pass never reads the
    /// whole log. Returns how many were deleted: call again while it returns `batch`.
    @discardableResult
    public func enforceRetention(
        maximumAge: Double, maximumCount: Int, maximumCountPerUser: Int? = nil, now: Double,
        batch: Int = EventStore.retentionBatch
    ) throws -> Int {
        let share = maximumCountPerUser ?? EventStore.defaultShare(of: maximumCount)
        return try database.withDatabase { database in
            try database.transaction {
                var pass = try RetentionPass(database: database, budget: batch)
                for uid in pass.counts.keys.sorted() { try pass.trim(uid, batch, olderThan: now - maximumAge) }
                for (uid, count) in pass.counts.sorted(by: { $0.key < $1.key }) {
                    let limit = uid == 0 ? maximumCount : share
                    if count > limit { try pass.trim(uid, count - limit) }
                }
                try pass.makeRoom(below: maximumCount)
                return pass.deleted
            }
        }
    }
}

/// One batch of retention inside its transaction: the uids' counts as `event_counts` keeps them,
/// and how much of the batch is left.
struct RetentionPass {
    let database: Database
    var budget: Int
    var counts: [Int: Int] = [:]
    var deleted = 0

    init(database: Database, budget: Int) throws {
        self.database = database
        self.budget = budget
        for row in try database.execute("SELECT owner, count FROM event_counts WHERE count > 0") {
            counts[Int(row[0].integer ?? 0)] = Int(row[1].integer ?? 0)
        }
    }

    /// Deletes uid's oldest `count` events (at most what is left of the batch), or, with a
    /// cutoff, those among them older than it. Returns how many went.
    @discardableResult
    mutating func trim(_ uid: Int, _ count: Int, olderThan cutoff: Double? = nil) throws -> Int {
        let wanted = min(count, budget, counts[uid] ?? 0)
        guard wanted > 0 else { return 0 }
        let oldest = "SELECT id FROM events WHERE owner = ? ORDER BY id LIMIT ?"
        if let cutoff {
            try database.execute(
                "DELETE FROM events WHERE id IN (\(oldest)) AND time < ?", [.integer(Int64(uid)), .integer(Int64(wanted)), .real(cutoff)])
        } else {
            try database.execute("DELETE FROM events WHERE id IN (\(oldest))", [.integer(Int64(uid)), .integer(Int64(wanted))])
        }
        let gone = Int(try database.execute("SELECT changes()").first?.first?.integer ?? 0)
        // Fewer than asked without a cutoff: the uid has no events left, whatever its count said.
        let left = cutoff == nil && gone < wanted ? 0 : max(0, (counts[uid] ?? 0) - gone)
        try database.execute("UPDATE event_counts SET count = ? WHERE owner = ?", [.integer(Int64(left)), .integer(Int64(uid))])
        counts[uid] = left
        budget -= gone
        deleted += gone
        return gone
    }

    /// While everyone's events together exceed `maximumCount`, deletes the oldest of the uids
    /// other than root, the largest first, down to the next largest, and so on: root's events
    /// are never deleted to make room for another uid's.
    mutating func makeRoom(below maximumCount: Int) throws {
        var excess = counts.values.reduce(0, +) - maximumCount
        while excess > 0, budget > 0 {
            let users = counts.filter { $0.key != 0 && $0.value > 0 }
            guard let top = users.values.max() else { return }
            let largest = users.filter { $0.value == top }.keys.sorted()
            let next = users.values.filter { $0 < top }.max() ?? 0
            let each = max(1, min(top - next, (min(excess, budget) + largest.count - 1) / largest.count))
            for uid in largest {
                excess -= try trim(uid, min(each, excess))
                if excess <= 0 || budget == 0 { return }
            }
        }
    }
}
