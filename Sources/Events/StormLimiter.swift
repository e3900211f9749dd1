/// Bounds an event storm (a monitor flapping, a thousand template instances raising at once):
/// each monitor may log `perMonitorPerMinute` raises a minute and all monitors together
/// `maximumPerSecond` a second, as token buckets, so bursts pass and floods do not. What is held
/// back is counted and folded into one summary event at most every `summarySeconds`, never
/// dropped silently. Cancels are not limited: a raise that was logged always gets its cancel
/// (and the cancel of a raise that was held back is held back too, by the engine). But a uid's
/// cancels count against its bucket (`charge`), so that its raises and cancels together stay
/// within its rate: uncounted, one uid logged 959 raises and 959 cancels in 39 s, twice its
/// share, and kept a slow sink busy (issue 22, fourth attack).
public struct StormLimiter: Sendable {
    public var perMonitorPerMinute: Int
    public var maximumPerSecond: Int
    public var summarySeconds: Double

    private var buckets: [Int: Bucket] = [:]
    private var users: [Int: Bucket] = [:]
    private var global: Bucket
    private var held = 0
    private var heldMonitors = Set<Int>()
    private var heldSince = Double.nan
    private var lastSummary = -Double.infinity
    private var lastPrune = 0.0

    struct Bucket: Sendable {
        var tokens: Double
        var time: Double

        mutating func refill(now: Double, capacity: Double, perSecond: Double) {
            tokens = min(capacity, tokens + max(0, now - time) * perSecond)
            time = now
        }
    }

    public init(perMonitorPerMinute: Int = 30, maximumPerSecond: Int = 1000, summarySeconds: Double = 5) {
        self.perMonitorPerMinute = perMonitorPerMinute
        self.maximumPerSecond = maximumPerSecond
        self.summarySeconds = summarySeconds
        global = Bucket(tokens: Double(maximumPerSecond), time: -Double.infinity)
    }

    /// What the monitors of one uid other than root may log together a second.
    public var perUserPerSecond: Double { max(1, Double(maximumPerSecond) / 50) }

    /// Whether monitor `monitor` (of uid `owner`) may log a raise at `now`; counts it as held
    /// back when not.
    public mutating func admit(_ monitor: Int, owner: Int = 0, now: Double) -> Bool {
        let capacity = Double(perMonitorPerMinute)
        var bucket = buckets[monitor] ?? Bucket(tokens: capacity, time: now)
        bucket.refill(now: now, capacity: capacity, perSecond: capacity / 60)
        global.refill(now: now, capacity: Double(maximumPerSecond), perSecond: Double(maximumPerSecond))
        var user: Bucket?
        if owner != 0 {
            let rate = perUserPerSecond
            var own = users[owner] ?? Bucket(tokens: rate * 10, time: now)
            own.refill(now: now, capacity: rate * 10, perSecond: rate)
            user = own
        }
        let admitted = bucket.tokens >= 1 && global.tokens >= 1 && (user?.tokens ?? 1) >= 1
        if admitted {
            bucket.tokens -= 1
            global.tokens -= 1
            user?.tokens -= 1
        } else {
            if held == 0 { heldSince = now }
            held += 1
            heldMonitors.insert(monitor)
        }
        // A newcomer held back by its uid's or the global bucket keeps a full bucket, the same as
        // none: not stored, so a flood of new monitor ids (applications' events) grows nothing.
        if admitted || buckets[monitor] != nil { buckets[monitor] = bucket }
        if let user { users[owner] = user }
        return admitted
    }

    /// Counts an event that is always logged (a cancel of a logged raise) against the bucket of
    /// uid `owner` (not root's): never refused, it leaves fewer tokens for the uid's next raises.
    /// The bucket goes no lower than one burst's worth in debt.
    public mutating func charge(owner: Int, now: Double) {
        guard owner != 0 else { return }
        let rate = perUserPerSecond
        var own = users[owner] ?? Bucket(tokens: rate * 10, time: now)
        own.refill(now: now, capacity: rate * 10, perSecond: rate)
        own.tokens = max(-rate * 10, own.tokens - 1)
        users[owner] = own
    }

    /// How many monitors' buckets are kept (the rest are full).
    public var trackedMonitors: Int { buckets.count }

    /// Forgets a monitor (deleted).
    public mutating func forget(_ monitor: Int) {
        buckets[monitor] = nil
    }

    /// The summary due at `now`, if events were held back: how many, from how many monitors,
    /// since when. At most one every `summarySeconds`.
    public mutating func summary(now: Double) -> (count: Int, monitors: Int, since: Double)? {
        if now - lastPrune >= 60 {
            // Buckets that have refilled are the same as none: keep the table as small as the storm.
            lastPrune = now
            let capacity = Double(perMonitorPerMinute)
            buckets = buckets.filter { _, bucket in bucket.tokens + (now - bucket.time) * capacity / 60 < capacity }
            let rate = perUserPerSecond
            users = users.filter { _, bucket in bucket.tokens + (now - bucket.time) * rate < rate * 10 }
        }
        guard held > 0, now - lastSummary >= summarySeconds else { return nil }
        defer {
            held = 0
            heldMonitors.removeAll(keepingCapacity: true)
            lastSummary = now
        }
        return (held, heldMonitors.count, heldSince)
    }
}
