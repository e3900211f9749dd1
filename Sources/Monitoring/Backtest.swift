import Events
import FoundationEssentials
import ResmonAPI
import ResmonSystem
import Statistics
import Storage

/// One archived series a backtest replays: the statistic as it is now, and its rows.
public struct BacktestSeries: Sendable {
    public let descriptor: StatisticDescriptor
    public let times: [Int]
    /// A gauge's values, a counter's rates (per second); NaN when unknown.
    public let values: [Double]

    public init(descriptor: StatisticDescriptor, times: [Int], values: [Double]) {
        self.descriptor = descriptor
        self.times = times
        self.values = values
    }
}

/// How a spec is replayed over an archive whose rows are `rowSeconds` apart: the spec the
/// replay engine runs, and what the monitor's own readings came to in rows.
public struct BacktestPlan: Sendable {
    /// The spec as replayed: the rate, samples, cancelSamples and a bucket's fill in rows.
    public let spec: MonitorSpec
    /// Seconds between the monitor's own readings on a live resmond.
    public let monitorRate: Double
    /// Seconds between the replayed readings: the row size, or the monitor's rate if slower;
    /// for a leaky bucket, about its own period (a divisor of the row).
    public let replayRate: Double
    /// Rows that stand for `samples` and `cancelSamples` readings.
    public let samples: Int
    public let cancelSamples: Int
}

/// A backtest's answer: how the spec was replayed, and what it would have logged.
public struct BacktestReplay: Sendable {
    public let plan: BacktestPlan
    public let events: [EventRecord]
}

extension MonitorEngine {
    /// The consolidation function a backtest replays unless told: the one that cannot miss a
    /// raise. A raise needs `samples × rate` seconds of readings meeting the condition, and
    /// every row that window touches has its MAX at or above each reading in it (MIN at or
    /// below): so MAX for above and atOrAbove, MIN for below and atOrBelow (aggregates too —
    /// sum, average, min and max only grow with their members), MAX / MIN for a high / low
    /// watermark. The price is false alarms, never a missed one. No one function says whether
    /// a row was ever within ± tolerance of a value (`at`, `notAt`), nor what a `change` or
    /// `rate` transform saw, nor how far a leaky bucket drained (its increase is the average
    /// rate × the row): those replay AVERAGE.
    public static func backtestFunction(for spec: MonitorSpec) -> String {
        switch (spec.type ?? .threshold).kind {
        case .watermark: return spec.mark == "low" ? "MIN" : "MAX"
        case .threshold:
            guard spec.transform == nil || spec.transform == Transform.none || spec.transform == .percent else { return "AVERAGE" }
            switch spec.condition?.kind {
            case .above, .atOrAbove: return "MAX"
            case .below, .atOrBelow: return "MIN"
            case .at, .notAt, nil: return "AVERAGE"
            }
        case .leakyBucket, nil: return "AVERAGE"
        }
    }

    /// How `input` replays over rows of `rowSeconds`: validated as a live resmond with base step
    /// `monitorStep` would validate it (a bad spec gets the same 400), then `samples` and
    /// `cancelSamples` become the rows that cover `samples × rate` seconds — at least one —
    /// whatever the archive's row size, and a leaky bucket's fill follows the replayed period.
    public static func backtestPlan(
        _ input: MonitorSpec, rowSeconds: Int, monitorStep: Double,
        table: SampleTable, requester: Requester = .nobody
    ) throws(MonitorError) -> BacktestPlan {
        if input.precondition?.monitor != nil {
            throw MonitorError(kind: .invalid, message: "a backtest replays one monitor: leave out a precondition on another monitor")
        }
        if case .selection(let selection) = input.target, selection.each == true {
            throw MonitorError(kind: .invalid, message: "backtest a template on one of its statistics (a key target)")
        }
        guard rowSeconds > 0 else { throw MonitorError(kind: .invalid, message: "no archived rows to replay") }
        var spec = input
        spec.id = "backtest"
        spec.start = true
        spec.source = nil
        spec.template = nil
        let live: MonitorDefinition
        do {
            live = try MonitorDefinition(spec: spec, owner: 0, createdAt: 0, step: monitorStep, table: table, transient: requester)
        } catch {
            throw MonitorError(kind: error.kind, message: error.message)
        }
        let row = Double(rowSeconds)
        let monitorRate = live.rate
        // A slower monitor reads every rate, rounded up to rows. A leaky bucket reads each row
        // as readings about its own period apart, the row's rate spread evenly over them: fed a
        // whole row at once it would drain more than its size and alarm on any busy minute.
        var replayRate = max(1, (monitorRate / row).rounded(.up)) * row
        if live.kind == .leakyBucket && monitorRate < row {
            let wanted = max(1, Int(monitorRate.rounded(.up)))  // ≤ rowSeconds
            replayRate = Double((wanted...rowSeconds).first { rowSeconds % $0 == 0 } ?? rowSeconds)
        }
        // The window a raise needs, in rows; a hair's tolerance keeps 60 / 60 at one row.
        func rows(_ readings: Int) -> Int {
            Int(min(100_000, max(1, (Double(readings) * monitorRate / replayRate - 1e-9).rounded(.up))))
        }
        let samples = rows(live.spec.samples ?? 1)
        let cancelSamples = rows(live.spec.cancelSamples ?? live.spec.samples ?? 1)
        spec.microMonitoringRate = nil
        spec.monitoringInterval = nil
        spec.monitoringRate = replayRate
        if live.kind == .threshold {
            spec.samples = samples
            spec.cancelSamples = cancelSamples
        }
        if live.kind == .leakyBucket, let fill = spec.fillValue { spec.fillValue = fill * replayRate / monitorRate }
        return BacktestPlan(spec: spec, monitorRate: monitorRate, replayRate: replayRate, samples: samples, cancelSamples: cancelSamples)
    }

    /// Replays archived history through a fresh engine with `spec` alone and returns how, and
    /// the events it would have logged: when it would have raised and cancelled. `step` is the archive's
    /// row size; `monitorStep` the live resmond's base step (what the spec's rate and samples
    /// mean; default the row). The engine runs on an in-memory database: nothing is written.
    /// Counters are replayed from their archived rates, so `change` and `rate` see the
    /// archive's averages. Storm limits do not apply.
    public static func backtest(
        _ input: MonitorSpec, series: [BacktestSeries], step: Int,
        monitorStep: Double? = nil, requester: Requester = .nobody
    ) throws(MonitorError) -> BacktestReplay {
        guard !series.isEmpty else { throw MonitorError(kind: .invalid, message: "no archived history for the target") }
        let table = SampleTable()
        let handles = series.map { table.register($0.descriptor) }
        let plan = try backtestPlan(input, rowSeconds: step, monitorStep: monitorStep ?? Double(step), table: table, requester: requester)
        // Readings per row: one, but a leaky bucket's several (see backtestPlan).
        let perRow = max(1, Int((Double(step) / plan.replayRate).rounded()))
        let times = Set(series.flatMap(\.times)).sorted()
        guard times.count * perRow <= 1_000_000 else {
            throw MonitorError(
                kind: .invalid,
                message: "the replay would take \(times.count * perRow) readings (\(perRow) a row at the monitor's rate); at most 1000000: shorten since")
        }
        let engine: MonitorEngine
        do {
            let database = try StateDatabase(path: ":memory:", migrations: MonitorStore.migrations)
            engine = MonitorEngine(database: database, table: table, step: min(Double(step), plan.replayRate), host: "backtest")
        } catch {
            throw MonitorError(kind: .storage, message: "cannot open the backtest's in-memory database: \(error)")
        }
        engine.setStormLimits(perMonitorPerMinute: 1_000_000, maximumPerSecond: 1_000_000)
        // One row per time across the series; counters get their totals back from the rates.
        let lookup = series.map { Dictionary(zip($0.times, $0.values), uniquingKeysWith: { first, _ in first }) }
        var totals = [Double](repeating: 0, count: series.count)
        var created = false
        let spacing = Double(step) / Double(perRow)
        for rowTime in times {
            for part in (0..<perRow).reversed() {
                let time = Double(rowTime) - Double(part) * spacing
                var batch = SampleBatch()
                for (index, one) in series.enumerated() {
                    let value = lookup[index][rowTime] ?? .nan
                    if one.descriptor.kind == .counter {
                        if value.isFinite { totals[index] += value * spacing }
                        batch.record(handles[index], value.isFinite ? totals[index] : .nan)
                    } else {
                        batch.record(handles[index], value)
                    }
                }
                table.apply(batch, time: time, monotonicTime: time)
                if !created {
                    // Created once the statistics have a reading, as a monitor on a live resmond would be.
                    _ = try engine.create([plan.spec], owner: 0)
                    created = true
                }
                engine.evaluate(now: time)
            }
        }
        return BacktestReplay(plan: plan, events: (try? engine.eventStore.events(after: 0, limit: 100_000)) ?? [])
    }
}
