import Events
import Monitoring
import ResmonAPI
import Testing

@Suite struct RetentionTests {
    @Test func oldAndSurplusEventsGoInBatches() throws {
        let rig = try Rig()
        try rig.create { $0.loggingRate = 1 }
        rig.feed([Double](repeating: 60, count: 30))  // 30 raise events, one a second
        #expect(rig.events.count == 30)
        let now = rig.time
        // Keep the newest 20: 10 go, in batches of at most 4.
        var deleted = 0
        while true {
            let batch = try rig.engine.eventStore.enforceRetention(maximumAge: 1e9, maximumCount: 20, now: now, batch: 4)
            #expect(batch <= 4)
            if batch == 0 { break }
            deleted += batch
        }
        #expect(deleted == 10)
        #expect(rig.events.count == 20)
        // Then age: events older than 5 s before the last go.
        try rig.engine.eventStore.enforceRetention(maximumAge: 5.5, maximumCount: 1000, now: now)
        #expect(rig.events.count == 6)
        #expect(rig.events.allSatisfy { $0.time >= now - 5.5 })
    }
}
