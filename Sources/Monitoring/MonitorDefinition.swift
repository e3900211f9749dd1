import Events
import ResmonAPI
import ResmonSystem
import Statistics

#if canImport(Glibc)
    import Glibc
#endif

/// What a monitor does with its readings (DESIGN.md, Monitors).
public enum MonitorKind: UInt8, Sendable {
    case threshold, watermarkHigh, watermarkLow, leakyBucket
}

/// How an aggregate target combines its members.
public enum AggregateFunction: String, Sendable {
    case sum, average, min, max, count
}

/// A target as the engine uses it.
public enum ResolvedTarget: Sendable {
    case key(StatisticKey)
    /// Re-resolved whenever statistics come and go.
    case aggregate(Selector, AggregateFunction)
    /// One instance monitor per matching statistic.
    case template(Selector)
}

/// A monitor spec that cannot be accepted, with the field and the reason.
public struct MonitorSpecError: Error, Sendable, CustomStringConvertible {
    public let message: String
    /// Not the spec's fault: a self-limit refuses it now (the regular-expression budget), or
    /// with `quota` the owner's share of it.
    public let busy: Bool
    public let quota: Bool
    public init(_ message: String, busy: Bool = false, quota: Bool = false) {
        self.message = message
        self.busy = busy
        self.quota = quota
    }

    /// The engine's error for it.
    var kind: MonitorError.Kind { quota ? .quota : busy ? .busy : .invalid }
    public var description: String { message }
}

/// A validated monitor: the spec with defaults filled in and its target resolved.
public struct MonitorDefinition: Sendable {
    public let id: String
    public var spec: MonitorSpec
    /// The statistic of a single-key target; nil for aggregates and templates.
    public let key: StatisticKey?
    public let target: ResolvedTarget
    /// The target as events show it: the key, or `sum(select{label=~"…"})`.
    public var targetText: String { spec.target.description }
    public let kind: MonitorKind
    /// The transform and condition as the evaluation switches over them.
    public let transform: Transform.Kind
    public let condition: Condition.Kind
    /// A known severity, by its syslog name.
    public let severity: Severity
    /// nil: one-directional (the state clears silently).
    public let cancelSeverity: Severity?
    /// Seconds between evaluations (a multiple of the step).
    public let rate: Double
    public let owner: Int
    public let createdAt: Double

    /// Labels resmond sets on events itself, which a monitor's labels may not name: `uid` (its
    /// owner's) and `source` (an application's events'), so that no monitor's events pass for
    /// another user's or an application's (issue 22).
    public static let serverLabels: Set<String> = ["source", "uid"]

    /// `process:PID:STATISTIC` of a live process the process subsystem has not sampled yet (it
    /// samples every 5 s): accepted, and unknown until sampled, so that a consumer can watch
    /// itself at once (issue 18). Not a process statistic, or no such process: refused as before.
    static func isUnsampledProcess(_ key: StatisticKey) -> Bool {
        guard key.subsystem == ProcessSubsystem.builtIn.name, ProcessSubsystem.statisticNames.contains(key.statistic),
            let pid = Int32(key.resource), pid > 0
        else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    /// Validates `spec` against the statistics that exist now. `lenient` (loading stored
    /// monitors) accepts a target that does not exist at the moment; `stored` (reading back a
    /// monitor that runs already) does not check the spec against its statistic again either.
    /// `transient` (a backtest's monitor) charges its patterns to that requester's share of the
    /// requests', not its owner's.
    public init(
        spec input: MonitorSpec, owner: Int, createdAt: Double, step: Double, table: SampleTable,
        lenient: Bool = false, stored: Bool = false, transient: Requester? = nil
    ) throws(MonitorSpecError) {
        var spec = input
        let key: StatisticKey?
        let target: ResolvedTarget
        var sample: Sample?
        switch spec.target {
        case .key(let text):
            guard let parsed = StatisticKey(parsing: text) else {
                throw MonitorSpecError("target: \"\(text)\" is not a statistic key (subsystem:resource:statistic)")
            }
            sample = stored ? nil : table.sample(forKey: parsed.text)
            if sample == nil && !lenient && !stored && !MonitorDefinition.isUnsampledProcess(parsed) {
                throw MonitorSpecError("target: no statistic \(parsed.text) (GET /v1/statistics lists them)")
            }
            key = parsed
            target = .key(parsed)
        case .selection(let selection):
            let selector: Selector
            do {
                selector = try Selector(match: selection.select, labels: selection.where ?? [:], holder: transient.map { .request($0) } ?? .owner(owner))
            } catch {
                throw MonitorSpecError("target: \(error.message)", busy: error.busy, quota: error.quota)
            }
            if selection.each == true {
                if selection.aggregate != nil { throw MonitorSpecError("target: a template (each) has no aggregate; it gets one monitor per statistic") }
                target = .template(selector)
            } else {
                guard let name = selection.aggregate, let function = AggregateFunction(rawValue: name) else {
                    throw MonitorSpecError(
                        "target.aggregate: expected sum, average, min, max or count (or \"each\": true for a template), got \"\(selection.aggregate ?? "nothing")\""
                    )
                }
                if spec.type == .leakyBucket { throw MonitorSpecError("a leaky bucket needs one counter: use a key, or a template for one per counter") }
                if spec.transform == .percent { throw MonitorSpecError("transform percent: an aggregate has no upper bound to be a percentage of") }
                target = .aggregate(selector, function)
            }
            if spec.microMonitoringRate != nil { throw MonitorSpecError("microMonitoringRate applies to single-statistic targets") }
            if spec.template != nil { throw MonitorSpecError("template is set by resmond on a template's instances") }
            key = nil
        }
        let targetText = spec.target.description
        func refuse(_ fields: [(String, Bool)], for type: String) throws(MonitorSpecError) {
            if let field = fields.first(where: \.1) { throw MonitorSpecError("\(field.0) does not apply to a \(type) monitor") }
        }
        let kind: MonitorKind
        var condition = Condition.Kind.above
        switch (spec.type ?? .threshold).kind {
        case .threshold:
            guard let parsed = spec.condition?.kind else {
                throw MonitorSpecError("condition: expected \(Condition.knownList), got \"\(spec.condition ?? "nothing")\"")
            }
            guard let value = spec.value, value.isFinite else { throw MonitorSpecError("value: a threshold monitor needs a finite number") }
            try refuse(
                [
                    ("mark", spec.mark != nil), ("events", spec.events != nil), ("bucketSize", spec.bucketSize != nil),
                    ("fillValue", spec.fillValue != nil)
                ], for: "threshold")
            condition = parsed
            kind = .threshold
        case .watermark:
            try refuse(
                [
                    ("condition", spec.condition != nil), ("value", spec.value != nil), ("samples", spec.samples != nil),
                    ("cancelValue", spec.cancelValue != nil), ("cancelSamples", spec.cancelSamples != nil),
                    ("cancelSeverity", spec.cancelSeverity != nil), ("bucketSize", spec.bucketSize != nil),
                    ("fillValue", spec.fillValue != nil)
                ], for: "watermark")
            switch spec.mark ?? "high" {
            case "high": kind = .watermarkHigh
            case "low": kind = .watermarkLow
            default: throw MonitorSpecError("mark: expected high or low, got \"\(spec.mark ?? "")\"")
            }
        case .leakyBucket:
            try refuse(
                [
                    ("condition", spec.condition != nil), ("value", spec.value != nil), ("mark", spec.mark != nil),
                    ("events", spec.events != nil), ("samples", spec.samples != nil), ("cancelValue", spec.cancelValue != nil),
                    ("cancelSamples", spec.cancelSamples != nil), ("tolerance", spec.tolerance != nil)
                ], for: "leakyBucket")
            guard let size = spec.bucketSize, size.isFinite, size > 0 else { throw MonitorSpecError("bucketSize: a leaky bucket needs a size above 0") }
            guard let fill = spec.fillValue, fill.isFinite, fill > 0 else {
                throw MonitorSpecError("fillValue: a leaky bucket needs what it refills per monitoring period, above 0")
            }
            if let sample, sample.descriptor.kind != .counter {
                throw MonitorSpecError("a leaky bucket drains by a counter's growth; \(targetText) is a \(sample.descriptor.kind.rawValue)")
            }
            if let transform = spec.transform, transform != Transform.none {
                throw MonitorSpecError("transform does not apply to a leakyBucket monitor (it reads the counter's increase)")
            }
            kind = .leakyBucket
        case nil:
            throw MonitorSpecError("type: expected \(MonitorType.knownList), got \"\(spec.type ?? "")\"")
        }
        guard let transform = (spec.transform ?? Transform.none).kind else {
            throw MonitorSpecError("transform: expected \(Transform.knownList), got \"\(spec.transform ?? "")\"")
        }
        if transform == .percent, let sample, sample.descriptor.upperBound == nil {
            throw MonitorSpecError("transform percent: \(targetText) has no upper bound to be a percentage of")
        }
        let value = spec.value ?? 0
        if let tolerance = spec.tolerance, !(tolerance >= 0 && tolerance.isFinite) {
            throw MonitorSpecError("tolerance must be a non-negative number")
        }
        if let cancel = spec.cancelValue, !cancel.isFinite { throw MonitorSpecError("cancelValue must be a finite number") }
        if let cancel = spec.cancelValue {
            let raisesHigh = condition == .above || condition == .atOrAbove
            let raisesLow = condition == .below || condition == .atOrBelow
            if raisesHigh && cancel > value {
                throw MonitorSpecError("cancelValue \(cancel) must not be above value \(value) for condition \(spec.condition ?? "")")
            }
            if raisesLow && cancel < value {
                throw MonitorSpecError("cancelValue \(cancel) must not be below value \(value) for condition \(spec.condition ?? "")")
            }
            if !raisesHigh && !raisesLow && cancel < 0 {
                throw MonitorSpecError("cancelValue is the cancel band of \(spec.condition ?? ""): it must not be negative")
            }
        }
        for (name, count) in [("samples", spec.samples), ("cancelSamples", spec.cancelSamples)] {
            if let count, !MonitorDefinition.sampleCounts.contains(count) {
                throw MonitorSpecError("\(name) must be from 1 to \(MonitorDefinition.sampleCounts.upperBound)")
            }
        }
        guard let severityKind = (spec.severity ?? (kind == .watermarkHigh || kind == .watermarkLow ? .info : .warning)).kind else {
            throw MonitorSpecError("severity: expected \(Severity.knownList), got \"\(spec.severity ?? "")\"")
        }
        let severity = Severity(severityKind)
        var cancelSeverity: Severity? = .notice
        if let name = spec.cancelSeverity {
            if name == MonitorDefinition.noCancel {
                cancelSeverity = nil
            } else if let parsed = name.kind {
                cancelSeverity = Severity(parsed)
            } else {
                throw MonitorSpecError("cancelSeverity: expected \(Severity.knownList), or \(MonitorDefinition.noCancel) for no cancel event, got \"\(name)\"")
            }
        }
        if let rate = spec.loggingRate, !MonitorDefinition.durations.contains(rate) {
            throw MonitorSpecError("loggingRate must be from 0 to \(Int(MonitorDefinition.durations.upperBound)) seconds (a year), got \(rate)")
        }
        var rate: Double
        if let micro = spec.microMonitoringRate {
            guard (0...999_999).contains(micro) else {
                throw MonitorSpecError("microMonitoringRate: microseconds from 0 to 999999, added to monitoringRate")
            }
            let seconds = spec.monitoringRate ?? 0
            guard seconds.isFinite, seconds >= 0, seconds <= 86400, seconds == seconds.rounded() else {
                throw MonitorSpecError("monitoringRate must be whole seconds from 0 to 86400")
            }
            rate = seconds + Double(micro) / 1e6
            guard rate >= 0.01 else { throw MonitorSpecError("monitoringRate + microMonitoringRate must be at least 10 ms") }
        } else {
            rate = spec.monitoringRate ?? step
            guard rate.isFinite, rate >= 1, rate <= 86400, rate == rate.rounded() else {
                throw MonitorSpecError("monitoringRate must be whole seconds from 1 to 86400")
            }
            if rate < step {
                throw MonitorSpecError(
                    "monitoringRate \(Int(rate)) s is faster than the base step (\(Int(step)) s); use microMonitoringRate for sub-step monitoring, or run resmond with a smaller --step"
                )
            }
        }
        // Only sub-second monitoring is refused for a rate finer than the kernel's updates; a
        // monitor at the step on a slower statistic just sees repeated readings.
        if spec.microMonitoringRate != nil, let sample, sample.descriptor.updateInterval > rate {
            throw MonitorSpecError(
                "the rate \(MonitorDefinition.number(rate)) s is below the resolution of \(targetText): the kernel updates it every \(MonitorDefinition.number(sample.descriptor.updateInterval)) s"
            )
        }
        if rate < step {
            // Sub-step monitoring re-reads the statistic's subsystem at the monitor's rate.
            guard let key, MonitorDefinition.fastSubsystems.contains(key.subsystem) else {
                throw MonitorSpecError(
                    "sub-step monitoring is available for \(MonitorDefinition.fastSubsystems.sorted().joined(separator: ", ")) statistics, not \(key?.subsystem ?? targetText) (reading every process or cgroup that often would cost more than it tells)"
                )
            }
        } else {
            rate = (rate / step).rounded(.up) * step
        }
        if let precondition = spec.precondition {
            if kind == .watermarkHigh || kind == .watermarkLow { throw MonitorSpecError("precondition: a watermark never raises") }
            if precondition.armed == nil && precondition.monitor == nil {
                throw MonitorSpecError("precondition: expected \"armed\", or {\"monitor\": ID, \"raised\": true|false}")
            }
            if precondition.armed == true && kind != .threshold { throw MonitorSpecError("precondition armed applies to thresholds") }
            if precondition.raised != nil && precondition.monitor == nil { throw MonitorSpecError("precondition.raised needs precondition.monitor") }
            if let monitor = precondition.monitor, monitor == spec.id { throw MonitorSpecError("precondition: a monitor cannot depend on itself") }
        }
        if let stale = spec.staleAfter, !(stale > 0 && stale <= 86400 * 30) {
            throw MonitorSpecError("staleAfter must be more than 0 seconds (up to 30 days)")
        }
        if let interval = spec.monitoringInterval, !MonitorDefinition.durations.contains(interval) {
            throw MonitorSpecError(
                "monitoringInterval must be 0 (until stopped) to \(Int(MonitorDefinition.durations.upperBound)) seconds (a year), got \(interval)")
        }
        if let id = spec.id {
            guard (1...64).contains(id.utf8.count),
                id.utf8.allSatisfy({
                    ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x2d || $0 == 0x2e || $0 == 0x5f
                })
            else {
                throw MonitorSpecError("id: 1 to 64 characters of [A-Za-z0-9._-]")
            }
        }
        if (spec.name?.utf8.count ?? 0) > 256 { throw MonitorSpecError("name is longer than 256 bytes") }
        for (field, map) in [("labels", spec.labels), ("annotations", spec.annotations)] {
            guard let map else { continue }
            if map.count > 64 { throw MonitorSpecError("\(field): at most 64 entries") }
            if map.contains(where: { $0.key.isEmpty || $0.key.utf8.count > 128 || $0.value.utf8.count > 4096 }) {
                throw MonitorSpecError("\(field): names of 1 to 128 bytes, values up to 4096 bytes")
            }
        }
        if !stored, let name = spec.labels?.keys.filter(MonitorDefinition.serverLabels.contains).sorted().first {
            throw MonitorSpecError(
                "labels: \"\(name)\" is set by resmond (uid: the monitor's owner, on every event; source: \"application\" on an application's events); choose another name"
            )
        }
        let id = spec.id ?? MonitorDefinition.randomUUID()
        spec.id = id
        switch kind {
        case .threshold:
            spec.name = spec.name ?? "\(targetText) \(spec.condition ?? "") \(spec.formatValue(value))"
            spec.type = .threshold
            spec.samples = spec.samples ?? 1
            spec.cancelSamples = spec.cancelSamples ?? spec.samples
        case .watermarkHigh, .watermarkLow:
            spec.mark = kind == .watermarkHigh ? "high" : "low"
            spec.name = spec.name ?? "\(targetText) \(spec.mark!) watermark"
            spec.type = .watermark
            spec.events = spec.events ?? false
        case .leakyBucket:
            spec.name =
                spec.name
                ?? "\(targetText) leaky bucket \(MonitorDefinition.number(spec.bucketSize!)) filled by \(MonitorDefinition.number(spec.fillValue!)) per period"
            spec.type = .leakyBucket
        }
        spec.transform = spec.transform ?? Transform.none
        if kind != .leakyBucket { spec.tolerance = spec.tolerance ?? 0 }
        spec.severity = severity
        spec.cancelSeverity = kind == .watermarkHigh || kind == .watermarkLow ? nil : cancelSeverity ?? MonitorDefinition.noCancel
        spec.loggingRate = spec.loggingRate ?? 0
        spec.monitoringRate = spec.microMonitoringRate == nil ? rate : (spec.monitoringRate ?? 0)
        spec.monitoringInterval = spec.monitoringInterval ?? 0
        spec.dataCapture = spec.dataCapture ?? false
        spec.labels = spec.labels ?? [:]
        spec.annotations = spec.annotations ?? [:]
        spec.start = spec.start ?? true
        self.id = id
        self.spec = spec
        self.key = key
        self.target = target
        self.kind = kind
        self.transform = transform
        self.condition = condition
        self.severity = severity
        self.cancelSeverity = cancelSeverity
        self.rate = rate
        self.owner = owner
        self.createdAt = createdAt
    }

    /// The event type a raise of this monitor logs, given the value that raised it.
    func raiseType(value: Double) -> EventType.Kind {
        if kind == .leakyBucket { return .counterRateExceeded }
        if kind != .threshold { return .watermark }
        switch condition {
        case .above: return .above
        case .atOrAbove: return .atOrAbove
        case .at: return .at
        case .atOrBelow: return .atOrBelow
        case .below: return .below
        case .notAt: return value < (spec.value ?? 0) ? .notAtBelow : .notAtAbove
        }
    }

    /// `cancelSeverity` for a monitor that clears silently, without a `canceled` event.
    public static let noCancel: Severity = "none"

    /// What `samples` and `cancelSamples` accept (perfmon's periods are checked against it too).
    public static let sampleCounts: ClosedRange<Int> = 1...100_000
    /// loggingRate and monitoringInterval in seconds: up to a year (366 days), which no sane hold
    /// or run exceeds and which times and sums built on them can never overflow from. NaN is in
    /// no range.
    public static let durations: ClosedRange<Double> = 0...31_622_400

    /// Subsystems cheap enough to re-read at sub-step rates (down to 10 ms).
    public static let fastSubsystems = Set(BuiltInSubsystem.all.filter(\.samplesBetweenSteps).map(\.name))

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }

    /// A random (version 4) UUID; Swift's system generator reads the kernel's (getrandom), two
    /// 64-bit words rather than a byte at a time (16 system calls were 15 µs of a bulk create's
    /// 107 µs a monitor, issue 17).
    static func randomUUID() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        for word in [generator.next() as UInt64, generator.next() as UInt64] {
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        return uuidText(bytes[...])
    }

    /// `count` random UUIDs from one read of the kernel's generator (a bulk create's ids).
    static func randomUUIDs(_ count: Int) -> [String] {
        guard let bytes = ResmonSystem.randomBytes(16 * count) else { return (0..<count).map { _ in randomUUID() } }
        return (0..<count).map { uuidText(bytes[16 * $0..<16 * $0 + 16]) }
    }

    /// 16 random bytes as a version 4 UUID's text.
    private static func uuidText(_ random: ArraySlice<UInt8>) -> String {
        let hex = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 36) { text in
            var position = 0
            for (offset, value) in random.enumerated() {
                var byte = value
                if offset == 6 { byte = (byte & 0x0f) | 0x40 }
                if offset == 8 { byte = (byte & 0x3f) | 0x80 }
                if offset == 4 || offset == 6 || offset == 8 || offset == 10 {
                    text[position] = UInt8(ascii: "-")
                    position += 1
                }
                text[position] = hex[Int(byte >> 4)]
                text[position + 1] = hex[Int(byte & 0x0f)]
                position += 2
            }
            return position
        }
    }
}
