import ResmonAPI
import Statistics

/// The Prometheus text exposition format (version 0.0.4) of every statistic, plus resmond's own.
///
/// A statistic `subsystem:resource:statistic` becomes the family `resmon_<subsystem>_<statistic>`
/// with the label `resource` and the statistic's labels; a counter exports its raw total.
public enum MetricsRenderer {
    public static func render(samples: [Sample], status: StatusResponse, subsystems: [SubsystemStatus]) -> String {
        var families: [String: [Sample]] = [:]
        for sample in samples where !sample.time.isNaN {
            let key = sample.descriptor.key
            families["resmon_" + key.subsystem + "_" + key.statistic, default: []].append(sample)
        }
        var output = ""
        output.reserveCapacity(samples.count * 120)
        for name in families.keys.sorted() {
            guard let members = families[name], let first = members.first else { continue }
            let descriptor = first.descriptor
            output += "# HELP \(name) \(escapeHelp(descriptor.help)) (\(descriptor.unit))\n"
            output += "# TYPE \(name) \(descriptor.kind == .counter ? "counter" : "gauge")\n"
            for sample in members.sorted(by: { $0.descriptor.key.resource < $1.descriptor.key.resource }) {
                let value = sample.descriptor.kind == .counter ? sample.total : sample.value
                output += name + labels(sample.descriptor) + " " + format(value) + "\n"
            }
        }
        output += "# HELP resmon_build_info resmond's version\n# TYPE resmon_build_info gauge\n"
        output += "resmon_build_info{version=\"\(escapeLabel(status.version))\"} 1\n"
        output += "# HELP resmon_busy 1 while resmond is over its self-limits and refuses new work\n# TYPE resmon_busy gauge\n"
        output += "resmon_busy \(status.busy ? 1 : 0)\n"
        output += "# HELP resmon_statistics Statistics in the sample table\n# TYPE resmon_statistics gauge\n"
        output += "resmon_statistics \(status.statistics)\n"
        output += "# HELP resmon_cpu_seconds_total CPU time resmond has used\n# TYPE resmon_cpu_seconds_total counter\n"
        output += "resmon_cpu_seconds_total \(format(status.cpuSecondsTotal))\n"
        output += "# HELP resmon_resident_memory_bytes resmond's resident set size\n# TYPE resmon_resident_memory_bytes gauge\n"
        output += "resmon_resident_memory_bytes \(format(status.residentBytes))\n"
        output += "# HELP resmon_sample_cycles_total Sampling cycles completed\n# TYPE resmon_sample_cycles_total counter\n"
        output += "resmon_sample_cycles_total \(status.cycles)\n"
        output += "# HELP resmon_subsystem_up 1 when the subsystem collects, 0 when it is unavailable or disabled\n# TYPE resmon_subsystem_up gauge\n"
        for subsystem in subsystems {
            output += "resmon_subsystem_up{subsystem=\"\(escapeLabel(subsystem.name))\"} \(subsystem.state == .available ? 1 : 0)\n"
        }
        return output
    }

    static func labels(_ descriptor: StatisticDescriptor) -> String {
        var text = "{resource=\"" + escapeLabel(descriptor.key.resource) + "\""
        for (name, value) in descriptor.labels.sorted(by: { $0.key < $1.key }) where name != "resource" && isLabelName(name) {
            text += "," + name + "=\"" + escapeLabel(value) + "\""
        }
        return text + "}"
    }

    static func isLabelName(_ name: String) -> Bool {
        guard let first = name.utf8.first, first != 0x5f || name.utf8.dropFirst().first != 0x5f else { return false }
        let isLetter = { (byte: UInt8) in (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || byte == 0x5f }
        return isLetter(first) && name.utf8.allSatisfy { isLetter($0) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    static func escapeLabel(_ value: String) -> String {
        guard value.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return value }
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
        text.replacingBackslashesAndNewlines()
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == .infinity { return "+Inf" }
        if value == -.infinity { return "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
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
