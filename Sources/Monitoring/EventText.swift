import ResmonAPI
import Statistics

/// The words of events and generated monitor names, by `ValueFormatter`'s rule: values with
/// their unit (a ratio as a percentage, bytes in IEC units), and a process or control group by
/// name as well as by key.
extension MonitorDefinition {
    /// The target as an event names it: `process:28043:rss_bytes (nginx)`, a key otherwise.
    func subject(in table: SampleTable) -> String {
        let text = targetText
        guard let key = spec.target.key, let labels = table.sample(forKey: key)?.descriptor.labels else { return text }
        if key.hasPrefix("process:"), let name = labels["name"], !name.isEmpty { return text + " (" + name + ")" }
        if key.hasPrefix("cgroup:"), let unit = labels["unit"], !unit.isEmpty { return text + " (" + unit + ")" }
        return text
    }

    /// `value` as an event shows it, with the statistic's declared unit where the table has it.
    func shown(_ value: Double, in table: SampleTable) -> String {
        let unit = spec.target.key.flatMap { table.sample(forKey: $0)?.descriptor.unit } ?? ""
        return spec.formatValue(value, unit: unit)
    }
}
