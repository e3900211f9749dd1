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

/// Issue 22, fourth attack: one uid logged 959 raises and 959 uncounted cancels in 39 s.
@Suite struct StormCancelTests {
    @Test func aUidsCancelsCountAgainstItsRaisesAndRootsDoNot() {
        var storm = StormLimiter(perMonitorPerMinute: 1_000_000, maximumPerSecond: 1000)
        // A burst's worth of cancels (never refused) leaves nothing for raises at that moment.
        for _ in 0..<200 { storm.charge(owner: 65534, now: 100) }
        let raised = storm.admit(1, owner: 65534, now: 100)
        #expect(!raised)
        // Raises and cancels together: at most the uid's rate over time.
        var logged = 0
        for step in 0..<400 {
            let now = 100 + Double(step) * 0.05
            if storm.admit(2 + step, owner: 65534, now: now) {
                logged += 1
                storm.charge(owner: 65534, now: now)
                logged += 1
            }
        }
        #expect(logged <= Int(storm.perUserPerSecond * 20) + 2, "\(logged) in 20 s")
        for _ in 0..<1000 { storm.charge(owner: 0, now: 100) }
        let rootRaised = storm.admit(9999, owner: 0, now: 100)
        #expect(rootRaised)
    }
}
