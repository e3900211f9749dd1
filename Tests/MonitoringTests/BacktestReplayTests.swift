import Events
import Foundation
import ResmonAPI
import Statistics
import Testing

@testable import Monitoring

/// Issue 15: a backtest's `samples` means the monitor's own readings (`samples × rate`
/// seconds) whatever the archive's row size, and the default function cannot miss a raise.
@Suite struct BacktestReplayTests {
    let gauge = StatisticDescriptor(key: StatisticKey(parsing: "app:test:level")!, kind: .gauge, unit: "", help: "")

    /// Rows `rowSeconds` apart holding `values`.
    func series(_ values: [Double], rowSeconds: Int, descriptor: StatisticDescriptor? = nil) -> BacktestSeries {
        let times = values.indices.map { 1_800_000_000 + $0 * rowSeconds }
        return BacktestSeries(descriptor: descriptor ?? gauge, times: times, values: values)
    }

    @Test(arguments: [60, 3600])
    func aMinuteSpikeInCoarseRowsIsFoundWithTheMonitorsOwnSamples(rowSeconds: Int) throws {
        // The README's example: above 0.8 for 12 readings at a 5 s step is one minute. In the
        // minute (or hour) archive that is one row, whose MAX holds the spike.
        var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 0.8)
        spec.samples = 12
        let maxima = [0.2, 0.3, 1.0, 0.3, 0.2]
        let replay = try MonitorEngine.backtest(spec, series: [series(maxima, rowSeconds: rowSeconds)], step: rowSeconds, monitorStep: 5)
        #expect(replay.plan.samples == 1 && replay.plan.cancelSamples == 1)
        #expect(replay.plan.monitorRate == 5 && replay.plan.replayRate == Double(rowSeconds))
        #expect(replay.events.map(\.type) == ["above", "canceled"])
        let raise = try #require(replay.events.first)
        #expect(raise.time == Double(1_800_000_000 + 2 * rowSeconds))
    }

    @Test func samplesLongerThanARowNeedThatManyRows() throws {
        var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        spec.samples = 13  // 13 × 5 s = 65 s: two minute rows
        let one = try MonitorEngine.backtest(spec, series: [series([10, 90, 10, 10], rowSeconds: 60)], step: 60, monitorStep: 5)
        #expect(one.plan.samples == 2)
        #expect(one.events.isEmpty)
        let two = try MonitorEngine.backtest(spec, series: [series([10, 90, 90, 10, 10], rowSeconds: 60)], step: 60, monitorStep: 5)
        #expect(two.events.map(\.type) == ["above", "canceled"])
    }

    @Test func aMonitorSlowerThanTheRowsReadsEveryRateAndKeepsItsSamples() throws {
        var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        spec.samples = 2
        spec.monitoringRate = 10
        let replay = try MonitorEngine.backtest(spec, series: [series([10, 90, 90, 90, 90, 10, 10, 10, 10], rowSeconds: 5)], step: 5, monitorStep: 5)
        #expect(replay.plan.replayRate == 10 && replay.plan.samples == 2)
        #expect(replay.events.map(\.type) == ["above", "canceled"])
    }

    @Test func aLeakyBucketsFillFollowsTheReplayedPeriod() throws {
        let counter = StatisticDescriptor(key: StatisticKey(parsing: "app:test:count_total")!, kind: .counter, unit: "", help: "")
        var spec = MonitorSpec(target: "app:test:count_total", type: "leakyBucket")
        spec.bucketSize = 100
        spec.fillValue = 50  // per 5 s period: 10 a second
        // Minute rows of the counter's rate: 5/s is under the fill, 20/s drains 600 a minute.
        let slow = try MonitorEngine.backtest(spec, series: [series([5, 5, 5, 5], rowSeconds: 60, descriptor: counter)], step: 60, monitorStep: 5)
        #expect(slow.plan.replayRate == 5 && slow.plan.spec.fillValue == 50)
        #expect(slow.events.isEmpty)
        let fast = try MonitorEngine.backtest(spec, series: [series([5, 20, 20, 5], rowSeconds: 60, descriptor: counter)], step: 60, monitorStep: 5)
        #expect(fast.events.map(\.type).first == "counterRateExceeded")
        // A bucket slower than the rows reads a row every period, as thresholds do.
        spec.monitoringRate = 60
        let slower = try MonitorEngine.backtest(spec, series: [series([5, 5, 5, 5], rowSeconds: 5, descriptor: counter)], step: 5, monitorStep: 5)
        #expect(slower.plan.replayRate == 60 && slower.plan.spec.fillValue == 50)
    }

    @Test(
        arguments: [
            ("above", nil, nil, "MAX"), ("atOrAbove", nil, nil, "MAX"), ("below", nil, nil, "MIN"), ("atOrBelow", nil, nil, "MIN"),
            ("at", nil, nil, "AVERAGE"), ("notAt", nil, nil, "AVERAGE"), ("above", "percent", nil, "MAX"), ("above", "rate", nil, "AVERAGE"),
            ("", nil, "high", "MAX"), ("", nil, "low", "MIN")
        ] as [(String, String?, String?, String)])
    func theDefaultFunctionCannotMissARaise(condition: String, transform: String?, mark: String?, expected: String) {
        var spec = MonitorSpec(target: "app:test:level", condition: Condition(rawValue: condition), value: 1)
        spec.transform = transform.map(Transform.init(rawValue:))
        if let mark {
            spec = MonitorSpec(target: "app:test:level", type: "watermark")
            spec.mark = mark
        }
        #expect(MonitorEngine.backtestFunction(for: spec) == expected)
        #expect(MonitorEngine.backtestFunction(for: MonitorSpec(target: "app:test:count_total", type: "leakyBucket")) == "AVERAGE")
    }

    @Test func aBadSpecIsRefusedAsALiveResmondWouldRefuseIt() throws {
        var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        spec.samples = 0
        let zero = #expect(throws: MonitorError.self) {
            _ = try MonitorEngine.backtest(spec, series: [series([1, 2], rowSeconds: 60)], step: 60, monitorStep: 5)
        }
        #expect(zero?.kind == .invalid)
        #expect(zero?.message == "samples must be from 1 to 100000")
        spec.samples = 100_000
        spec.monitoringRate = 86_400  // the largest window: still one row at most 100000
        let large = try MonitorEngine.backtest(spec, series: [series([90, 90], rowSeconds: 60)], step: 60, monitorStep: 5)
        #expect(large.plan.samples == 100_000 && large.events.isEmpty)
        spec.monitoringRate = -5
        let negative = #expect(throws: MonitorError.self) {
            _ = try MonitorEngine.backtest(spec, series: [series([1, 2], rowSeconds: 60)], step: 60, monitorStep: 5)
        }
        #expect(negative?.message == "monitoringRate must be whole seconds from 1 to 86400")
    }
}
