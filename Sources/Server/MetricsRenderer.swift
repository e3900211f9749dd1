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
            for sample in members.sorted(by: { $0.descriptor.key.resource.utf8.lexicographicallyPrecedes($1.descriptor.key.resource.utf8) }) {
                let value = sample.descriptor.kind == .counter ? sample.total : sample.value
                output += name + labels(sample.descriptor) + " " + format(value) + "\n"
            }
        }
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: Double)]) {
            output += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples { output += name + sample.labels + " " + format(sample.value) + "\n" }
        }
        family("resmon_build_info", "gauge", "resmond's version", [("{version=\"\(escapeLabel(status.version))\"}", 1)])
        family("resmon_busy", "gauge", "1 while resmond is over its self-limits and refuses new work", [("", status.busy ? 1 : 0)])
        family("resmon_statistics", "gauge", "Statistics in the sample table", [("", Double(status.statistics))])
        family("resmon_cpu_seconds_total", "counter", "CPU time resmond has used", [("", status.cpuSecondsTotal)])
        family("resmon_resident_memory_bytes", "gauge", "resmond's resident set size", [("", status.residentBytes)])
        family("resmon_sample_cycles_total", "counter", "Sampling cycles completed", [("", Double(status.cycles))])
        family("resmon_subsystem_up", "gauge", "1 when the subsystem collects, 0 when it is unavailable or disabled",
               subsystems.map { ("{subsystem=\"\(escapeLabel($0.name))\"}", $0.state == .available ? 1 : 0) })
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
