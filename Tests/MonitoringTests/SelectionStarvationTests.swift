import Foundation
import ResmonAPI
import Statistics
import Testing

@testable import Monitoring

/// Issue 22, attack 4, item 2: with root owning six aggregates over costly patterns and other
/// users churning pushes, root's cheap `^app:rootr:v$` aggregate stayed at 0 members for 38 s:
/// the costly selectors came first in every resolution and used its whole budget.
@Suite struct SelectionStarvationTests {
    /// `count` new statistics with long keys, none matching anything but `.`.
    static func churn(_ rig: SelectionTests.Table, generation: Int, count: Int) {
        for key in rig.handles.keys where key.hasPrefix("app:churn") {
            if let handle = rig.handles.removeValue(forKey: key) { rig.table.retire(handle) }
            rig.values[key] = nil
        }
        let long = String(repeating: "r", count: 180)
        for index in 0..<count { rig.put(key: "app:churn\(generation)_\(index)\(long):\(long)", value: 1) }
    }

    @Test func rootsCheapSelectorIsAnsweredWhileItsCostlyOnesAreNot() throws {
        let rig = try SelectionTests.Table()
        // The attack's patterns: costly over a long key, matching none of the churn.
        for index in 0..<6 {
            var spec = MonitorSpec(
                target: .selection(MonitorSelection(select: #"[\p{Any}]{1,30}\pL{30}zN"# + "\(index)", aggregate: "max")),
                condition: "above", value: 5)
            spec.id = "costly\(index)"
            _ = try rig.engine.create([spec], owner: 0)
        }
        Self.churn(rig, generation: 0, count: 2_000)
        rig.cycle()
        var cheap = MonitorSpec(target: .selection(MonitorSelection(select: "^app:rootr:v$", aggregate: "max")), condition: "above", value: 5)
        cheap.id = "rootr"
        _ = try rig.engine.create([cheap], owner: 0)
        rig.put(key: "app:rootr:v", value: 10)
        var cycles = 0
        while rig.engine.monitor("rootr")?.state.phase != "raised" && cycles < 20 {
            cycles += 1
            Self.churn(rig, generation: cycles, count: 2_000)
            rig.cycle()
        }
        #expect(rig.engine.monitor("rootr")?.state.members == 1)
        #expect(cycles <= 3, "root's cheap aggregate raised after \(cycles) cycles of churn")
    }
}
