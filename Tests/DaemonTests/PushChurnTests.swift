import Foundation
import ResmonClient
import ResmonTestSupport
import Testing

/// Issue 22, third attack: pushed statistics deleted and pushed again kept their history until
/// it was pruned (ten minutes at the default step), so a churn of PUT and DELETE piled up 22,166
/// databases, 254 MB and a 133 MB snapshot in a minute, past every push quota. A deleted pushed
/// statistic's history goes with it.
@Suite struct PushChurnTests {
    @Test func aDeletedPushedStatisticTakesItsHistoryWithIt() throws {
        let daemon = try DaemonHarness()
        let keys = (0..<50).map { "app:churn\($0):v" }
        for key in keys { _ = try daemon.client.push(key, value: 1) }
        // Archived once the sampler has recorded them.
        try daemon.waitForCycles(2)
        #expect(daemon.eventually(timeout: 60) { (try? daemon.client.send("GET", "/v1/history/app:churn49:v").status) == 200 })
        for key in keys { #expect(try daemon.client.send("DELETE", "/v1/statistics/" + key).status == 204) }
        for key in keys.prefix(5) {
            let answer = try daemon.client.send("GET", "/v1/history/" + key)
            #expect(answer.status == 404, "\(key): \(answer.status) \(String(decoding: answer.body, as: UTF8.self).prefix(200))")
        }
        // Pushed again, a key starts a history afresh.
        _ = try daemon.client.push("app:churn0:v", value: 2)
        try daemon.waitForCycles(2)
        #expect(daemon.eventually(timeout: 60) { (try? daemon.client.send("GET", "/v1/history/app:churn0:v").status) == 200 })
    }
}
