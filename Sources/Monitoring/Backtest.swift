import Events
import FoundationEssentials
import ResmonAPI
import Statistics
import Storage
#if canImport(Glibc)
import Glibc
#endif

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

extension MonitorEngine {
    /// Replays archived history through a fresh engine with `spec` alone and returns the events
    /// it would have logged: when it would have raised and cancelled. The engine runs at the
    /// series' step, on a database in a temporary directory that is removed afterwards.
    /// Counters are replayed from their archived rates, so `change` and `rate` see the
    /// archive's averages. Storm limits do not apply.
    public static func backtest(_ input: MonitorSpec, series: [BacktestSeries], step: Int) throws(MonitorError) -> [EventRecord] {
        guard !series.isEmpty else { throw MonitorError(kind: .invalid, message: "no archived history for the target") }
        if input.precondition?.monitor != nil {
            throw MonitorError(kind: .invalid, message: "a backtest replays one monitor: leave out a precondition on another monitor")
        }
        var template = false
        if case .selection(let selection) = input.target, selection.each == true { template = true }
        if template { throw MonitorError(kind: .invalid, message: "backtest a template on one of its statistics (a key target)") }
        var spec = input
        spec.id = "backtest"
        spec.start = true
        spec.source = nil
        spec.template = nil
        spec.microMonitoringRate = nil
        spec.monitoringInterval = nil
        if let rate = spec.monitoringRate, rate < Double(step) { spec.monitoringRate = Double(step) }
        if spec.monitoringRate == nil { spec.monitoringRate = Double(step) }

        // mkdtemp replaces the trailing six X's with a unique suffix.
        var pattern = [CChar]("/tmp/resmon-backtest.XXXXXX".utf8CString)
        guard let made = pattern.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw MonitorError(kind: .storage, message: "cannot make a temporary directory for the backtest")
        }
        let directory = String(cString: made)
        defer {
            for name in ["state.db", "state.db-wal", "state.db-shm"] { unlink(directory + "/" + name) }
            rmdir(directory)
        }
        let table = SampleTable()
        let handles = series.map { table.register($0.descriptor) }
        let engine: MonitorEngine
        do {
            let database = try StateDatabase(path: directory + "/state.db", migrations: MonitorEngine.migrations)
            engine = MonitorEngine(database: database, table: table, step: Double(step), host: "backtest")
        } catch {
            throw MonitorError(kind: .storage, message: "cannot open the backtest's database: \(error)")
        }
        engine.setStormLimits(perMonitorPerMinute: 1_000_000, maximumPerSecond: 1_000_000)
        // One row per time across the series; counters get their totals back from the rates.
        let times = Set(series.flatMap(\.times)).sorted()
        let lookup = series.map { Dictionary(zip($0.times, $0.values), uniquingKeysWith: { first, _ in first }) }
        var totals = [Double](repeating: 0, count: series.count)
        var created = false
        for time in times {
            var batch = SampleBatch()
            for (index, one) in series.enumerated() {
                let value = lookup[index][time] ?? .nan
                if one.descriptor.kind == .counter {
                    if value.isFinite { totals[index] += value * Double(step) }
                    batch.record(handles[index], value.isFinite ? totals[index] : .nan)
                } else {
                    batch.record(handles[index], value)
                }
            }
            table.apply(batch, time: Double(time), monotonicTime: Double(time))
            if !created {
                // Created once the statistics have a reading, as a monitor on a live resmond would be.
                _ = try engine.create([spec], owner: 0)
                created = true
            }
            engine.evaluate(now: Double(time))
        }
        return (try? engine.events(after: 0, limit: 100_000)) ?? []
    }
}
