import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

/// Issue 22 re-attack, item 4: 300 aggregates over one costly pattern took the sampler to 4.8 s
/// of CPU a cycle (4 cycles in 20 s at step 1): every change of the table's structure (a process
/// starting, a new push) matched every statistic against every aggregate's pattern again, under
/// the table's lock. Each statistic is matched against each distinct selector once now.
@Suite struct SelectionCostTests {
    @Test func threeHundredCostlyAggregatesLeaveTheSamplerItsCycles() throws {
        let daemon = try DaemonHarness()
        let specs = (0..<300).map { index in
            #"{"id": "costly\#(index)", "target": {"select": "[\\p{Any}]{1,30}\\pL{30}zN", "aggregate": "sum"}, "condition": "above", "value": 1}"#
        }
        // Creating them matched the pattern over the whole table once per monitor: a patient client.
        let patient = ResmonClient(socketPath: daemon.socket, timeoutMilliseconds: 300_000)
        let started = Date()
        let created = try patient.send("POST", "/v1/monitors", body: Array(("[" + specs.joined(separator: ",") + "]").utf8))
        #expect(created.status == 201, "\(String(decoding: created.body, as: UTF8.self).prefix(300))")
        print("creating 300 aggregates took \(Date().timeIntervalSince(started)) s")

        // The structure changes every cycle (a new pushed statistic each), as it does on a host
        // where processes come and go; the sampler keeps its cycles and its CPU per cycle small.
        var costliest = 0.0
        for round in 0..<8 {
            _ = try daemon.client.push("app:churn\(round):v", value: 1)
            let cycles = try patient.status().cycles
            #expect(daemon.eventually(timeout: 120) { ((try? patient.status().cycles) ?? 0) > cycles })
            costliest = max(costliest, try patient.status().lastSampleCPUSeconds ?? 0)
        }
        print("costliest cycle: \(costliest) s of CPU; RSS \(try RegexBoundsTests.residentKilobytes(daemon.process.pid)) kB")
        #expect(costliest < 0.5, "the costliest cycle took \(costliest) s of CPU")
        try daemon.waitForHealth()
    }
}
