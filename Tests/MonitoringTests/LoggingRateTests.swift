import Events
import Foundation
import ResmonAPI
import ResmonTestSupport
import Statistics
import Storage
import Testing

@testable import Monitoring

/// Issue 15: raise events respect loggingRate (perfmon's inhibit period) across re-crossings.
/// A raise less than loggingRate after the last logged raise is held back; it is logged once
/// loggingRate has passed if the monitor is still raised, and its cancel is silent if not.
/// The rig's clock moves one second a reading.
@Suite struct LoggingRateTests {
    @Test func aFlappingMonitorLogsOneRaiseAndItsCancelPerLoggingRate() throws {
        let rig = try Rig()
        try rig.create { $0.loggingRate = 60 }
        for _ in 0..<7 { rig.feed(60, 10) }  // seven re-crossings in 14 s
        #expect(rig.types == ["above", "canceled"])
        #expect(rig.phase == "clear")
        let events = rig.events
        try #require(events.count == 2)
        #expect(events[1].cancels == events[0].id)
    }

    @Test func aHeldRaiseIsLoggedOnceLoggingRateHasPassedIfStillRaised() throws {
        let rig = try Rig()
        try rig.create { $0.loggingRate = 10 }
        rig.feed(60, 10)  // raise at t+1 logged, cancel at t+2 logged
        rig.feed(60)  // t+3: raised again, held
        #expect(rig.types == ["above", "canceled"])
        #expect(rig.phase == "raised")
        #expect(rig.state?.notified == false)
        rig.feed([Double](repeating: 60, count: 7))  // t+4 … t+10: less than 10 s after t+1
        #expect(rig.types == ["above", "canceled"])
        rig.feed(60)  // t+11: 10 s after the last logged raise
        #expect(rig.types == ["above", "canceled", "above"])
        rig.feed(10)
        #expect(rig.types == ["above", "canceled", "above", "canceled"])
        let events = rig.events
        try #require(events.count == 4)
        #expect(!events[2].message.contains("(still)"), "the held raise is news, not a repeat: \(events[2].message)")
        #expect(events[3].cancels == events[2].id, "every logged raise gets its logged cancel")
    }

    @Test func aHeldRaiseInTheHysteresisBandIsStillLoggedWhenDue() throws {
        let rig = try Rig()
        try rig.create(
            {
                $0.loggingRate = 5; $0.cancelValue = 40
            }, value: 50)
        rig.feed(60, 30)  // logged raise, logged cancel
        rig.feed(60)  // t+3: held
        #expect(rig.types == ["above", "canceled"])
        rig.feed(45, 45, 45)  // t+4 … t+6: in the band, still raised; due at t+6
        #expect(rig.types == ["above", "canceled", "above"])
        #expect(rig.phase == "raised")
    }

    @Test func aHeldRaiseThatCancelsFirstIsSilentBothWays() throws {
        let rig = try Rig()
        try rig.create {
            $0.loggingRate = 30; $0.samples = 2; $0.cancelSamples = 1
        }  // perfmon-like: trigger 2 readings, inhibit 30 s
        rig.feed(60, 60)  // alarm at t+2
        rig.feed(10)  // cancelled at t+3
        rig.feed(60, 60, 10)  // re-alarm at t+5, 3 s after the first: held, then cleared
        #expect(rig.types == ["above", "canceled"])
        rig.time += 30
        rig.feed(60, 60)  // past the inhibit period: logged at once
        #expect(rig.types == ["above", "canceled", "above"])
    }

    @Test func theLastLoggedRaiseSurvivesARestart() throws {
        let rig = try Rig()
        try rig.create { $0.loggingRate = 60 }
        rig.feed(60, 10)
        try rig.restart()
        rig.feed(60)  // 2 s after the logged raise, in a new engine
        #expect(rig.types == ["above", "canceled"])
        #expect(rig.phase == "raised")
        try rig.restart()  // held across a second restart too
        rig.feed(10, 60)
        #expect(rig.types == ["above", "canceled"])
        rig.time += 60
        rig.feed(60)
        #expect(rig.types == ["above", "canceled", "above"])
    }

    @Test func resumeDoesNotLogARaiseThatLoggingRateHolds() throws {
        let rig = try Rig()
        try rig.create { $0.loggingRate = 60 }
        rig.feed(60, 10)
        _ = try rig.engine.perform(.pause, on: "m", caller: 0)
        rig.feed(60)
        _ = try rig.engine.perform(.resume, on: "m", caller: 0, now: rig.time)  // 2 s after the logged raise
        #expect(rig.types == ["above", "canceled"])
        #expect(rig.phase == "raised")
        rig.time += 60
        rig.feed(60)
        #expect(rig.types == ["above", "canceled", "above"])
        #expect(rig.events.filter { $0.type == "above" }.count == 2)
    }

    @Test func resetNotificationDoesNotLiftTheHold() throws {
        let rig = try Rig()
        try rig.create { $0.loggingRate = 60 }
        rig.feed(60, 10, 60)
        _ = try rig.engine.perform(.resetNotification, on: "m", caller: 0)
        rig.feed(60, 60)
        #expect(rig.types == ["above", "canceled"])
    }

    @Test func oneShotMonitorsAreNeverHeld() throws {
        let rig = try Rig()
        try rig.create()  // loggingRate 0: each raise once, until resetNotification
        rig.feed(60, 60, 10, 60, 60)
        #expect(rig.types == ["above", "canceled", "above"])
    }

    @Test func aFlappingLeakyBucketIsHeldToo() throws {
        let rig = try Rig(kind: .counter)
        try rig.create(type: "leakyBucket") {
            $0.bucketSize = 2; $0.fillValue = 2; $0.loggingRate = 60
        }
        rig.feed(0, 10, 10, 20, 20, 30, 30)  // empties, refills, empties …
        #expect(rig.types == ["counterRateExceeded", "canceled"])
    }

    @Test func eachTemplateInstanceHoldsItsOwnRaisesAcrossARestart() throws {
        let rig = try Rig()
        try rig.create {
            $0.target = .selection(MonitorSelection(select: "^app:test:level$", each: true)); $0.loggingRate = 60
        }
        rig.feed(60, 10, 60, 10)
        let events = rig.events
        #expect(events.map(\.type) == ["above", "canceled"])
        let instance = try #require(events.first?.monitorId)
        #expect(instance != "m", "the instance, not the template, raises")
        try rig.restart()  // the instance's state, its last logged raise included, comes back
        rig.feed(60)
        #expect(rig.types == ["above", "canceled"])
        #expect(rig.engine.monitor(instance)?.state.phase == "raised")
        rig.time += 60
        rig.feed(60)
        #expect(rig.types == ["above", "canceled", "above"])
    }

    @Test func noDataIsItsOwnPairAndDoesNotMoveTheRaiseClock() throws {
        let rig = try Rig()
        try rig.create {
            $0.loggingRate = 60; $0.staleAfter = 2
        }
        rig.feed(60, 10)  // logged raise and cancel
        rig.feed(.nan, .nan)  // no value for 2 s: noData, not held by loggingRate
        rig.feed(60)  // a value again cancels noData; the raise is held
        #expect(rig.types == ["above", "canceled", "noData", "canceled"])
        #expect(rig.phase == "raised")
        rig.time += 60
        rig.feed(60)
        #expect(rig.types == ["above", "canceled", "noData", "canceled", "above"])
    }
}
