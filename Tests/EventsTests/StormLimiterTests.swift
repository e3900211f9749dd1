import Events
import Testing

/// The storm limits, fed times directly (no clock).
@Suite struct StormLimiterTests {
    @Test func oneUsersMonitorsTogetherAreLimitedAndRootsAreNot() {
        // Third attack on issue 22: one ordinary user's templates logged 11,773 events in 55 s,
        // more than retention deletes, pushing everyone's events out of the log.
        var storm = StormLimiter(perMonitorPerMinute: 30, maximumPerSecond: 1000)
        #expect(storm.perUserPerSecond == 20)
        // 1,000 instances of uid 65534 raising at once: a burst of ten seconds' worth passes.
        let burst = (0..<1000).filter { storm.admit($0, owner: 65534, now: 100) }.count
        #expect(burst == 200)
        // Root's monitors are not held by it, nor another uid's.
        #expect((1000..<1100).allSatisfy { storm.admit($0, owner: 0, now: 100) })
        #expect((2000..<2050).allSatisfy { storm.admit($0, owner: 1000, now: 100) })
        // A second later the uid has 20 more.
        let next = (3000..<3100).filter { storm.admit($0, owner: 65534, now: 101) }.count
        #expect(next == 20)
        // What was held back is summarised, not dropped.
        let summary = storm.summary(now: 101)
        #expect(summary?.count == 800 + 80)
    }

    @Test func eachMonitorAndAllTogetherAreLimitedAsBefore() {
        var storm = StormLimiter(perMonitorPerMinute: 3, maximumPerSecond: 5)
        #expect((0..<5).map { _ in storm.admit(7, now: 10) } == [true, true, true, false, false])
        #expect((100..<110).filter { storm.admit($0, now: 10) }.count == 2)
    }
}

/// An application appending under ever new monitor ids (POST /v1/events) while its uid is held
/// back must not grow the limiter's table: a held-back newcomer's bucket is full, the same as none.
@Suite struct StormLimiterMemoryTests {
    @Test func aHeldBackNewMonitorLeavesNoBucket() {
        var storm = StormLimiter(perMonitorPerMinute: 30, maximumPerSecond: 1000)
        let admitted = (0..<100_000).filter { storm.admit(-1 - $0, owner: 65534, now: 100) }.count
        #expect(admitted == 200)
        #expect(storm.trackedMonitors == 200, "only the admitted monitors' buckets are kept")
    }
}
