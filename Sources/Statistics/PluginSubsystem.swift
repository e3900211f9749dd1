import Dispatch
import ResmonSystem

#if canImport(Glibc)
    import Glibc
#endif

/// One plug-in subsystem from `subsystems.d/NAME.json` (docs/PLUGINS.md).
public struct PluginConfiguration: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A program run each interval; Prometheus text on its standard output.
        case exec(command: [String])
        /// `*.prom` files in a directory (node_exporter's textfile convention).
        case textfile(directory: String)
        /// A Prometheus endpoint, fetched with GET.
        case scrape(url: String)

        public var name: String {
            switch self {
            case .exec: "exec"
            case .textfile: "textfile"
            case .scrape: "scrape"
            }
        }
    }

    public var name: String
    public var kind: Kind
    public var interval: Double
    public var timeout: Double
    public var maxBytes: Int
    /// The most series a run may give; a run with more is refused as a whole.
    public var maxSeries: Int
    /// Patterns (`*` for any run of characters) of the statistics that get history archives.
    public var archive: [String]

    public init(
        name: String, kind: Kind, interval: Double, timeout: Double, maxBytes: Int, maxSeries: Int = 5_000,
        archive: [String] = ["*"]
    ) {
        self.name = name
        self.kind = kind
        self.interval = interval
        self.timeout = timeout
        self.maxBytes = maxBytes
        self.maxSeries = maxSeries
        self.archive = archive
    }
}

/// A plug-in's statistics: each run happens on a queue of its own (never two at once), and
/// `collect` publishes the last run's samples — so a slow or hung plug-in never holds the
/// sampling thread. A metric becomes `NAME:RESOURCE:STATISTIC`: the statistic is the metric name
/// as Prometheus' conventions want it (`PluginSubsystem.mapping`), the resource the labels as
/// `k=v,k=v` sorted by name (`_` without labels), and the labels are kept; `counter` families
/// (and histograms' and summaries' `_count`, `_sum`, `_bucket`) are counters, the rest gauges.
/// Each statistic keeps its `SourceFamily`, so /metrics exports it with the type its source declared.
public final class PluginSubsystem: Subsystem, @unchecked Sendable {
    // `mapped` is touched on the sampling thread only; the run state crosses threads in `state`.
    public let configuration: PluginConfiguration
    public var name: String { configuration.name }
    public var summary: String {
        switch configuration.kind {
        case .exec(let command): "plug-in: runs \(command[0]) every \(Int(configuration.interval)) s"
        case .textfile(let directory): "plug-in: reads \(directory)/*.prom"
        case .scrape(let url): "plug-in: scrapes \(url)"
        }
    }

    /// Fetches a scrape URL: the body, or why not (libcurl lives above this module).
    public typealias Fetch = @Sendable (_ url: String, _ timeout: Double, _ limit: Int) -> Result<[UInt8], PluginFailure>

    public struct PluginFailure: Error, Sendable {
        public let message: String
        /// How `/v1/subsystems` shows the plug-in meanwhile.
        public let state: SubsystemStatus.State
        public init(_ message: String, state: SubsystemStatus.State = .unavailable) {
            self.message = message
            self.state = state
        }
    }

    /// What `/v1/subsystems` tells of a plug-in beyond its state.
    public struct Health: Sendable {
        public var runs = 0
        public var failures = 0
        /// Malformed lines in the last run, and the first of them.
        public var malformedLines = 0
        public var lastError: String?
    }

    struct State {
        var running = false
        var result: (samples: [PrometheusText.Sample], generation: Int)?
        var generation = 0
        var failure: PluginFailure?
        var runStarted = 0.0
        var health = Health()
        var nextRun = 0.0
        var backoff = 0.0
        /// Textfiles the last run skipped, and why.
        var skippedFiles: [String] = []

        /// A failing plug-in backs off: twice the wait after each failure, up to 10 intervals.
        mutating func fail(_ failure: PluginFailure, now: Double, interval: Double) {
            self.failure = failure
            result = nil
            health.failures += 1
            health.lastError = failure.message
            backoff = min(max(interval, backoff * 2), interval * 10)
            nextRun = now + backoff
        }
    }

    private let table: SampleTable
    private let fetch: Fetch
    private let budget: PluginSeriesBudget
    private let state = Lock(State())
    private let queue: DispatchQueue
    private var mapped: [String: Mapped] = [:]
    private var families: [String: SourceFamily] = [:]
    private var appliedGeneration = -1

    /// `budget` is shared by all plug-ins: the series they may hold together.
    public init(configuration: PluginConfiguration, table: SampleTable, fetch: @escaping Fetch, budget: PluginSeriesBudget = PluginSeriesBudget()) {
        self.configuration = configuration
        self.table = table
        self.fetch = fetch
        self.budget = budget
        queue = DispatchQueue(label: "resmond.plugin." + configuration.name, qos: .utility)
    }

    public var health: Health { state.withLock { $0.health } }

    public func collect(into batch: inout SampleBatch) throws {
        let now = Clock.monotonic()
        let (result, failure, startRun) = state.withLock { state -> ((samples: [PrometheusText.Sample], generation: Int)?, PluginFailure?, Bool) in
            let start = !state.running && now >= state.nextRun
            if start {
                state.running = true
                state.runStarted = now
            } else if state.running && now - state.runStarted > configuration.timeout + 1 {
                // A run no timeout ended (a file system that hangs a read): say so; the run
                // may still finish, and then counts.
                let message = "a run started \(Int(now - state.runStarted)) s ago is still going, past its timeout of \(configuration.timeout) s"
                state.health.lastError = message
                return (nil, PluginFailure(message, state: .stuck), false)
            }
            // Taken, not copied: a run's samples are applied once, and keeping them held a
            // second copy of every name, label and help text between runs.
            defer { state.result = nil }
            return (state.result, state.failure, start)
        }
        if startRun { queue.async { [self] in run() } }
        if let failure, result == nil { throw SubsystemUnavailable(failure.message, state: failure.state) }
        guard let result, result.generation != appliedGeneration else { return }
        appliedGeneration = result.generation
        // Claimed here, on the sampling thread that also retires plug-ins, so that a plug-in
        // removed while it ran never keeps a claim.
        if let others = budget.claim(name, result.samples.count) {
            let failure = PluginFailure(
                "the run's \(result.samples.count) series and the other plug-ins' \(others) pass registry.maxSeries \(budget.limit); all of it was refused",
                state: .overLimit)
            state.withLock { $0.fail(failure, now: now, interval: configuration.interval) }
            throw SubsystemUnavailable(failure.message, state: failure.state)
        }
        apply(result.samples, into: &batch)
    }

    public func retireAll() {
        budget.release(name)
        for entry in mapped.values { table.retire(entry.handle) }
        mapped = [:]
        families = [:]
    }

    /// One run, on the plug-in's queue: fetch, parse, and keep the result for `collect`.
    private func run() {
        let output: Result<[UInt8], PluginFailure>
        switch configuration.kind {
        case .exec(let command): output = runProgram(command)
        case .textfile(let directory): output = readTextfiles(directory)
        case .scrape(let url): output = fetch(url, configuration.timeout, configuration.maxBytes)
        }
        let parsed = output.flatMap(parseWithinLimit)
        let now = Clock.monotonic()
        state.withLock { state in
            state.running = false
            state.health.runs += 1
            switch parsed {
            case .success(let parsed):
                state.generation += 1
                state.result = (parsed.samples, state.generation)
                state.failure = nil
                state.backoff = 0
                state.nextRun = now + configuration.interval * 0.5
                state.health.malformedLines = parsed.errors.count
                state.health.lastError = state.skippedFiles.first.map { "skipped \($0)" } ?? parsed.errors.first.map { "\($0)" }
            case .failure(let failure):
                state.fail(failure, now: now, interval: configuration.interval)
            }
        }
    }

    /// The run's samples, parsed only as far as `maxSeries` allows, or that it gave more.
    private func parseWithinLimit(_ bytes: [UInt8]) -> Result<(samples: [PrometheusText.Sample], errors: [PrometheusText.LineError]), PluginFailure> {
        let parsed = PrometheusText.parse(bytes, maxSamples: configuration.maxSeries + 1)
        guard parsed.samples.count <= configuration.maxSeries else {
            return .failure(
                PluginFailure(
                    "the run gave more than maxSeries \(configuration.maxSeries) series; all of it was refused", state: .overLimit))
        }
        return .success(parsed)
    }

    private func runProgram(_ command: [String]) -> Result<[UInt8], PluginFailure> {
        let environment = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "RESMON_PLUGIN=" + name]
        // The run killed its process group; what escaped it (a new session) was re-parented to
        // resmond, a child subreaper, when the program exited.
        defer { ProcessGroup.reapOrphans() }
        do {
            switch try ProcessGroup.run(command, environment: environment, timeout: configuration.timeout, limit: configuration.maxBytes) {
            case .finished(let output, let status):
                let code = (status >> 8) & 0xff
                guard status & 0x7f == 0, code == 0 else {
                    return .failure(PluginFailure("\(command[0]) " + (status & 0x7f == 0 ? "exited with \(code)" : "was killed by signal \(status & 0x7f)")))
                }
                return .success(output)
            case .tooLarge:
                return .failure(
                    PluginFailure(
                        "\(command[0]) wrote more than \(configuration.maxBytes) bytes; its output was cut and its process group killed",
                        state: .overLimit))
            case .timedOut:
                return .failure(
                    PluginFailure("\(command[0]) ran past its timeout of \(configuration.timeout) s; its process group was killed", state: .stuck))
            }
        } catch {
            return .failure(PluginFailure("cannot start \(command[0]): \(error)"))
        }
    }

    /// Every `*.prom` file (TextfileReader: checked by size before it is read, never waited
    /// on); a file that cannot be read is skipped and named in `lastError`.
    private func readTextfiles(_ directory: String) -> Result<[UInt8], PluginFailure> {
        guard let names = fileNames(in: directory, endingIn: ".prom") else {
            return .failure(PluginFailure("\(directory): \(Errno.current.description)"))
        }
        var all: [UInt8] = []
        var skipped: [String] = []
        for name in names {
            switch TextfileReader.read(directory + "/" + name, limit: configuration.maxBytes - all.count) {
            case .read(let bytes):
                all += bytes
                if all.last != 0x0a { all.append(0x0a) }
            case .skipped(let reason):
                skipped.append(name + " " + reason)
            case .tooLarge(let size):
                return .failure(
                    PluginFailure(
                        "\(name) holds \(size) bytes: with the files before it, more than maxBytes \(configuration.maxBytes); not read",
                        state: .overLimit))
            }
        }
        state.withLock { $0.skippedFiles = skipped }
        return .success(all)
    }

    /// What a sample's family and name become: the statistic's name and kind, the family
    /// /metrics exports it in, and the conversion of its values into the family's base unit.
    struct Mapping {
        var statistic: String
        var kind: StatisticKind
        var family: String
        var type: SourceFamily.MetricType
        var conversion: PrometheusNames.Conversion
        /// A histogram's bucket bounds (`le`) are values too, converted as its sum is.
        var boundConversion: PrometheusNames.Conversion?
    }

    /// Names follow Prometheus' conventions whatever the source did (docs/PLUGINS.md): lower
    /// case, base units, `_total` on counters only; a histogram's or summary's parts keep their
    /// family, so that /metrics exports them as one histogram or summary.
    static func mapping(name: String, family: String, type: String) -> Mapping {
        let (familyName, familyConversion) = PrometheusNames.baseUnits(PrometheusNames.statisticName(family))
        switch type {
        case "histogram", "summary":
            let metricType: SourceFamily.MetricType = type == "histogram" ? .histogram : .summary
            let suffix = name.hasPrefix(family) ? String(name.dropFirst(family.count)) : name
            switch suffix {
            case "_bucket" where metricType == .histogram:
                return Mapping(
                    statistic: familyName + suffix, kind: .counter, family: familyName, type: metricType,
                    conversion: .identity, boundConversion: familyConversion == .identity ? nil : familyConversion)
            case "" where metricType == .summary:
                return Mapping(
                    statistic: familyName, kind: .gauge, family: familyName, type: metricType,
                    conversion: familyConversion, boundConversion: nil)
            case "_sum":
                return Mapping(
                    statistic: familyName + suffix, kind: .counter, family: familyName, type: metricType,
                    conversion: familyConversion, boundConversion: nil)
            case "_count":
                return Mapping(
                    statistic: familyName + suffix, kind: .counter, family: familyName, type: metricType,
                    conversion: .identity, boundConversion: nil)
            default:
                return mapping(name: name, family: name, type: "untyped")
            }
        case "counter" where name == family || name == family + "_total":
            var (statistic, conversion) = PrometheusNames.baseUnits(PrometheusNames.statisticName(name))
            if !statistic.hasSuffix("_total") { statistic += "_total" }
            return Mapping(statistic: statistic, kind: .counter, family: statistic, type: .counter, conversion: conversion, boundConversion: nil)
        case "gauge" where name == family:
            var (statistic, conversion) = PrometheusNames.baseUnits(PrometheusNames.statisticName(name))
            if statistic.hasSuffix("_total") && statistic.count > 6 { statistic.removeLast(6) }
            return Mapping(statistic: statistic, kind: .gauge, family: statistic, type: .gauge, conversion: conversion, boundConversion: nil)
        default:
            let (statistic, conversion) = PrometheusNames.baseUnits(PrometheusNames.statisticName(name))
            return Mapping(statistic: statistic, kind: .gauge, family: statistic, type: .untyped, conversion: conversion, boundConversion: nil)
        }
    }

    struct Mapped {
        var handle: StatisticHandle
        var conversion: PrometheusNames.Conversion
    }

    /// Registers what is new, records every value, and retires what the run no longer has.
    /// Package-wide for the fuzzer (FuzzTargets), which feeds it what the parser made of any bytes.
    package func apply(_ samples: [PrometheusText.Sample], into batch: inout SampleBatch) {
        var seen = Set<String>(minimumCapacity: samples.count)
        var mappings: [String: Mapping] = [:]
        for sample in samples {
            let cacheKey = sample.type + " " + sample.family + " " + sample.name
            let mapping: Mapping
            if let known = mappings[cacheKey] {
                mapping = known
            } else {
                mapping = PluginSubsystem.mapping(name: sample.name, family: sample.family, type: sample.type)
                mappings[cacheKey] = mapping
            }
            var labels = sample.labels
            if let conversion = mapping.boundConversion, let bound = labels["le"], let value = bound == "+Inf" ? .infinity : Double(bound) {
                labels["le"] = PrometheusNames.format(conversion.apply(value))
            }
            let resource =
                labels.isEmpty
                ? "_"
                : labels.sorted { $0.key < $1.key }.map { $0.key + "=" + $0.value }.joined(separator: ",")
            let key = StatisticKey(subsystem: name, resource: String(resource.prefix(200)), statistic: mapping.statistic)
            guard seen.insert(key.text).inserted else { continue }
            let entry: Mapped
            if let known = mapped[key.text] {
                entry = known
            } else {
                labels["metric"] = sample.name
                var help = sample.help.isEmpty ? sample.family : sample.help
                if mapping.conversion != .identity { help += " (converted to base units from " + sample.family + ")" }
                let family = sourceFamily(mapping, help: help)
                let handle = table.register(
                    StatisticDescriptor(
                        key: key, kind: mapping.kind, unit: "", labels: labels,
                        help: family.help, family: family, archived: configuration.archives(mapping.statistic)))
                entry = Mapped(handle: handle, conversion: mapping.conversion)
                mapped[key.text] = entry
            }
            batch.record(entry.handle, sample.value.isFinite ? entry.conversion.apply(sample.value) : .nan)
        }
        for (key, entry) in mapped where !seen.contains(key) {
            table.retire(entry.handle)
            mapped[key] = nil
        }
    }

    /// The one family object its statistics share (so its help text is kept once).
    private func sourceFamily(_ mapping: Mapping, help: String) -> SourceFamily {
        let help = help.utf8.count > 512 ? String(help.prefix(512)) : help
        if let known = families[mapping.family], known.type == mapping.type, known.help == help { return known }
        let family = SourceFamily(name: mapping.family, type: mapping.type, help: help)
        families[mapping.family] = family
        return family
    }
}
