import ResmonAPI
import ResmonSystem
import Statistics

/// The Prometheus text exposition format (version 0.0.4) of every statistic, plus resmond's own.
///
/// A statistic `subsystem:resource:statistic` becomes the family `resmon_<subsystem>_<statistic>`
/// with the label `resource` and the statistic's labels; a counter exports its raw total. Every
/// series carries `host` (the status' host, resmond.json's `host`) and `resmon_host_info` the
/// fleet labels (docs/FLEET.md, "Host identity and labels").
///
/// The families' order and each series' `name{labels} ` text are laid out once, when the sample
/// table's structure changes (a statistic comes, goes or changes labels); a scrape then copies
/// the table's columns and formats values only. Building every series' text per scrape cost
/// 5 µs a series, most of it copying descriptors and sorting.
public final class MetricsExposition: Sendable {
    struct Series {
        var slot: Int32
        var generation: UInt32
        /// The series' `name{labels} ` in `Layout.text`.
        var text: Range<Int>
    }

    struct Family {
        /// `# HELP` and `# TYPE` lines in `Layout.text`.
        var header: Range<Int>
        var series: Range<Int>
    }

    struct Layout {
        var version = UInt64.max
        /// The `host` label the text was laid out with.
        var host: String?
        var text: [UInt8] = []
        var families: [Family] = []
        var series: [Series] = []
        var values: [Double] = [], raws: [Double] = [], times: [Double] = []
        var generations: [UInt32] = []
    }

    private let layout = Lock(Layout())

    public init() {}

    public func render(table: SampleTable, status: StatusResponse, subsystems: [SubsystemStatus], sinks: [SinkStatus] = []) -> [UInt8] {
        var output: [UInt8] = layout.withLock { layout in
            let version = table.structureVersion
            if version != layout.version || status.host != layout.host {
                MetricsExposition.lay(&layout, table.handles(), version: version, host: status.host)
            }
            table.copyColumns(values: &layout.values, raws: &layout.raws, times: &layout.times, generations: &layout.generations)
            var output: [UInt8] = []
            output.reserveCapacity(layout.text.count + layout.series.count * 12 + 4096)
            for family in layout.families {
                var headed = false
                for series in layout.series[family.series] {
                    let slot = Int(series.slot)
                    // A statistic gone since the layout, or never read, is left out.
                    guard slot < layout.generations.count, layout.generations[slot] == series.generation,
                        !layout.times[slot].isNaN
                    else { continue }
                    if !headed {
                        output += layout.text[family.header]
                        headed = true
                    }
                    output += layout.text[series.text]
                    output += MetricsRenderer.format(layout.raws[slot]).utf8
                    output.append(0x0a)
                }
            }
            return output
        }
        output += MetricsRenderer.selfFamilies(status: status, subsystems: subsystems, sinks: sinks).utf8
        return output
    }

    /// Families sorted by name, series by resource (bytewise), as the exposition lists them; a
    /// plug-in's histogram or summary as one family, each label set's buckets (or quantiles) in
    /// order, then its `_sum` and `_count`.
    private static func lay(
        _ layout: inout Layout, _ statistics: [(handle: StatisticHandle, descriptor: StatisticDescriptor)],
        version: UInt64, host: String?
    ) {
        var families: [String: [(handle: StatisticHandle, descriptor: StatisticDescriptor)]] = [:]
        for statistic in statistics {
            let descriptor = statistic.descriptor
            families["resmon_" + descriptor.key.subsystem + "_" + (descriptor.family?.name ?? descriptor.key.statistic), default: []]
                .append(statistic)
        }
        layout.version = version
        layout.host = host
        layout.text = []
        layout.families = []
        layout.series = []
        for name in families.keys.sorted() {
            guard let members = families[name], let descriptor = members.first?.descriptor else { continue }
            let start = layout.text.count
            let help = MetricsRenderer.escapeHelp(descriptor.family?.help ?? descriptor.help)
            layout.text += "# HELP \(name) \(help)\(descriptor.unit.isEmpty ? "" : " (" + descriptor.unit + ")")\n".utf8
            let type = descriptor.family?.type.rawValue ?? (descriptor.kind == .counter ? "counter" : "gauge")
            layout.text += "# TYPE \(name) \(type)\n".utf8
            let header = start..<layout.text.count
            let first = layout.series.count
            for sample in MetricsExposition.ordered(members) {
                let textStart = layout.text.count
                let key = sample.descriptor.key
                layout.text += ("resmon_" + key.subsystem + "_" + key.statistic + MetricsRenderer.labels(sample.descriptor, host: host) + " ").utf8
                layout.series.append(
                    Series(
                        slot: sample.handle.index, generation: sample.handle.generation,
                        text: textStart..<layout.text.count))
            }
            layout.families.append(Family(header: header, series: first..<layout.series.count))
        }
    }

    /// A family's series in exposition order: by resource; for a histogram or summary, by label
    /// set without `le` or `quantile`, buckets or quantiles by bound, then `_sum`, then `_count`.
    private static func ordered(_ members: [(handle: StatisticHandle, descriptor: StatisticDescriptor)])
        -> [(handle: StatisticHandle, descriptor: StatisticDescriptor)]
    {
        guard let family = members.first?.descriptor.family, family.type == .histogram || family.type == .summary else {
            return members.sorted { $0.descriptor.key.resource.utf8.lexicographicallyPrecedes($1.descriptor.key.resource.utf8) }
        }
        let bound = family.type == .histogram ? "le" : "quantile"
        let keyed = members.map { member -> (group: String, rank: Int, bound: Double, member: (handle: StatisticHandle, descriptor: StatisticDescriptor)) in
            let descriptor = member.descriptor
            let group = descriptor.labels.filter { $0.key != bound && $0.key != "metric" }.sorted { $0.key < $1.key }
                .map { $0.key + "=" + $0.value }.joined(separator: ",")
            let statistic = descriptor.key.statistic
            let rank = statistic.hasSuffix("_count") && statistic != family.name ? 2 : statistic.hasSuffix("_sum") && statistic != family.name ? 1 : 0
            let value = descriptor.labels[bound].flatMap { $0 == "+Inf" ? .infinity : Double($0) } ?? .infinity
            return (group, rank, value, member)
        }
        return keyed.sorted { left, right in
            if left.group != right.group { return left.group.utf8.lexicographicallyPrecedes(right.group.utf8) }
            if left.rank != right.rank { return left.rank < right.rank }
            return left.bound < right.bound
        }.map(\.member)
    }
}

public enum MetricsRenderer {
    /// resmond's own families: build, busy, statistics, CPU, memory, cycles, subsystems up, and
    /// each sink's deliveries and the events it dropped (a uid's backlog full: docs/EVENTS.md).
    static func selfFamilies(status: StatusResponse, subsystems: [SubsystemStatus], sinks: [SinkStatus] = []) -> String {
        var output = ""
        let host = status.host.map { "host=\"" + escapeLabel($0) + "\"" }
        /// `labels` (`{a="b"}` or empty) with `host` last.
        func hosted(_ labels: String) -> String {
            guard let host else { return labels }
            return labels.isEmpty ? "{" + host + "}" : labels.dropLast() + "," + host + "}"
        }
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: Double)]) {
            output += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples { output += name + hosted(sample.labels) + " " + format(sample.value) + "\n" }
        }
        if let name = status.host {
            let fleet = (status.labels ?? [:]).filter { PrometheusNames.isLabelName($0.key) && $0.key != "host" }.sorted { $0.key < $1.key }
            let labels = "{host=\"" + escapeLabel(name) + "\"" + fleet.map { "," + $0.key + "=\"" + escapeLabel($0.value) + "\"" }.joined() + "}"
            output += "# HELP resmon_host_info The host's name and fleet labels (resmond.json's host and labels)\n"
            output += "# TYPE resmon_host_info gauge\nresmon_host_info" + labels + " 1\n"
        }
        family("resmon_build_info", "gauge", "resmond's version", [("{version=\"\(escapeLabel(status.version))\"}", 1)])
        family("resmon_busy", "gauge", "1 while resmond is over its self-limits and refuses new work", [("", status.busy ? 1 : 0)])
        family("resmon_statistics", "gauge", "Statistics in the sample table", [("", Double(status.statistics))])
        family("resmon_cpu_seconds_total", "counter", "CPU time resmond has used", [("", status.cpuSecondsTotal)])
        family("resmon_resident_memory_bytes", "gauge", "resmond's resident set size", [("", status.residentBytes)])
        family("resmon_sample_cycles_total", "counter", "Sampling cycles completed", [("", Double(status.cycles))])
        if let cycles = status.cycleDurations {
            let name = "resmon_cycle_duration_seconds"
            output += "# HELP \(name) Wall time of each sampling and evaluation cycle, snapshots included\n# TYPE \(name) histogram\n"
            for (bound, count) in zip(cycles.bounds, cycles.counts) { output += "\(name)_bucket\(hosted("{le=\"\(format(bound))\"}")) \(count)\n" }
            output += "\(name)_bucket\(hosted("{le=\"+Inf\"}")) \(cycles.count)\n"
            output += "\(name)_sum\(hosted("")) \(format(cycles.sum))\n\(name)_count\(hosted("")) \(cycles.count)\n"
        }
        family(
            "resmon_subsystem_up", "gauge", "1 when the subsystem collects, 0 when it is unavailable or disabled",
            subsystems.map { ("{subsystem=\"\(escapeLabel($0.name))\"}", $0.state == .available ? 1 : 0) })
        if !sinks.isEmpty {
            family(
                "resmon_sink_delivered_events_total", "counter", "Events the sink delivered",
                sinks.map { ("{sink=\"\(escapeLabel($0.name))\"}", Double($0.delivered)) })
            family(
                "resmon_sink_dropped_events_total", "counter", "Events of uids other than root the sink dropped, their uid's backlog full",
                sinks.map { ("{sink=\"\(escapeLabel($0.name))\"}", Double($0.dropped ?? 0)) })
        }
        if let remote = status.remoteWrite {
            family("resmon_remote_write_samples_sent_total", "counter", "Samples the remote_write receiver accepted", [("", Double(remote.samplesSent))])
            family(
                "resmon_remote_write_samples_failed_total", "counter", "Samples the remote_write receiver refused (4xx), dropped",
                [("", Double(remote.samplesFailed))])
            family(
                "resmon_remote_write_samples_dropped_total", "counter", "Samples dropped unsent, the remote_write queue full",
                [("", Double(remote.samplesDropped))])
            family("resmon_remote_write_retries_total", "counter", "remote_write requests retried", [("", Double(remote.retries))])
            family(
                "resmon_remote_write_queued_samples", "gauge", "Samples waiting to be sent by remote_write",
                [("", Double(remote.queuedSamples))])
        }
        return output
    }

    /// A statistic's labels in the exposition's braces: `PrometheusNames.series(of:host:)`,
    /// which remote_write sends too.
    static func labels(_ descriptor: StatisticDescriptor, host: String? = nil) -> String {
        let labels = PrometheusNames.series(of: descriptor, host: host).labels
        guard !labels.isEmpty else { return "" }
        return "{" + labels.map { $0.name + "=\"" + escapeLabel($0.value) + "\"" }.joined(separator: ",") + "}"
    }

    static func escapeLabel(_ value: String) -> String {
        // Bytes, not characters: walking grapheme clusters cost more than the rest of the render.
        guard value.utf8.contains(where: { $0 == 0x5c || $0 == 0x22 || $0 == 0x0a }) else { return value }
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    static func escapeHelp(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x5c || $0 == 0x0a }) else { return text }
        return text.replacingBackslashesAndNewlines()
    }

    static func format(_ value: Double) -> String { PrometheusNames.format(value) }
}

extension String {
    fileprivate func replacingBackslashesAndNewlines() -> String {
        var escaped = ""
        for character in self {
            switch character {
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
