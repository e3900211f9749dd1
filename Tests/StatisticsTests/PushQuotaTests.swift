import Testing

@testable import Statistics

/// Issue 22 re-attack, item 1: the pushed statistics' 10,000 were one pool for every user, and
/// one ordinary user's 9,996 left root 503. Each uid but root has 1,000, and ordinary users
/// together leave root the last 1,000 of the 10,000.
@Suite struct PushQuotaTests {
    @Test func ordinaryUsersHaveTheirOwnQuotaAndLeaveRootItsShare() throws {
        let pushed = PushedStatistics(table: SampleTable())
        func push(_ text: String, _ caller: Int) throws(PushedStatistics.Refusal) {
            try pushed.push(StatisticKey(parsing: text)!, value: 1, kind: .gauge, unit: "", caller: caller, monotonicTime: 100)
        }
        for index in 0..<PushedStatistics.perUidLimit { try push("app:u1000:s\(index)", 1000) }
        #expect(throws: PushedStatistics.Refusal.quota(uid: 1000, limit: 1000)) { try push("app:u1000:over", 1000) }
        try push("app:u1000:s0", 1000)  // a push again of its own is no new statistic
        #expect(try pushed.remove(StatisticKey(parsing: "app:u1000:s0")!, caller: 1000))
        try push("app:u1000:again", 1000)  // a removed one frees its place

        // Eight more users fill 9,000: the tenth ordinary user gets busy, root still pushes.
        for uid in 1001...1008 {
            for index in 0..<PushedStatistics.perUidLimit { try push("app:u\(uid):s\(index)", uid) }
        }
        #expect(throws: PushedStatistics.Refusal.full(limit: 9000)) { try push("app:u1009:s0", 1009) }
        for index in 0..<PushedStatistics.rootReserve { try push("app:root:s\(index)", 0) }
        #expect(throws: PushedStatistics.Refusal.full(limit: 10_000)) { try push("app:root:over", 0) }
    }
}
