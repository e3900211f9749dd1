import ResmonAPI

/// resmond's threshold monitors as a Prometheus alerting-rules file (`resmon export
/// prometheus-rules`; docs/FLEET.md, "Prometheus rules from monitors"): the same alert evaluated
/// centrally over the series `/metrics` exports. What PromQL cannot say (a leaky bucket, a
/// watermark, a selection, a precondition, the percent transform) is skipped with its reason.
struct PrometheusRules {
    /// The base step of the resmond the monitors come from: a monitor's default rate.
    let step: Double
    /// Plug-in subsystems: their statistics are exported under their source's families.
    let plugins: Set<String>
    /// When set, each expression selects this host's series only (`host="…"`).
    let host: String?
    var group = "resmon"

    struct Skipped: Equatable {
        let monitor: String
        let reason: String
    }

    struct Rule {
        let monitor: MonitorInfo
        let alert: String
        let expression: String
        let duration: String
        let labels: [(String, String)]
        let annotations: [(String, String)]
        /// What the rule does not carry over (hysteresis, staleAfter, …): comment lines.
        let notes: [String]
    }

    /// The file's text, and the monitors left out with why.
    func render(_ monitors: [MonitorInfo]) -> (text: String, rules: Int, skipped: [Skipped]) {
        var rules: [Rule] = []
        var skipped: [Skipped] = []
        for monitor in monitors.sorted(by: { $0.id < $1.id }) {
            switch rule(for: monitor) {
            case .success(let rule): rules.append(rule)
            case .failure(let reason): skipped.append(Skipped(monitor: monitor.id, reason: reason.text))
            }
        }
        var text = "# resmon export prometheus-rules: \(rules.count) alerting rules from resmond's threshold monitors"
        text += ", \(skipped.count) monitors skipped (listed at the end)\n"
        text += "groups:\n  - name: \(PrometheusRules.quoted(group))\n    rules:\n"
        if rules.isEmpty { text += "      []\n" }
        for rule in rules {
            text += "      # monitor \(PrometheusRules.comment(rule.monitor.id)): \(PrometheusRules.comment(rule.monitor.spec.name ?? ""))\n"
            for note in rule.notes { text += "      # \(PrometheusRules.comment(note))\n" }
            text += "      - alert: \(PrometheusRules.quoted(rule.alert))\n"
            text += "        expr: \(PrometheusRules.quoted(rule.expression))\n"
            text += "        for: \(rule.duration)\n"
            text += "        labels:\n"
            for (name, value) in rule.labels { text += "          \(name): \(PrometheusRules.quoted(value))\n" }
            text += "        annotations:\n"
            for (name, value) in rule.annotations { text += "          \(name): \(PrometheusRules.quoted(value))\n" }
        }
        for skip in skipped { text += "# skipped \(PrometheusRules.comment(skip.monitor)): \(PrometheusRules.comment(skip.reason))\n" }
        return (text, rules.count, skipped)
    }

    struct Reason: Error {
        let text: String
        init(_ text: String) { self.text = text }
    }

    func rule(for monitor: MonitorInfo) -> Result<Rule, Reason> {
        let spec = monitor.spec
        switch (spec.type ?? MonitorType(.threshold)).kind {
        case .some(.threshold): break
        case .watermark: return .failure(Reason("a watermark: PromQL keeps no extreme across restarts (max_over_time over a window is not the same)"))
        case .leakyBucket: return .failure(Reason("a leaky bucket: its fill level depends on every reading since it started"))
        case nil: return .failure(Reason("type \(spec.type?.rawValue ?? "") is not known to this resmon"))
        }
        if let template = spec.template { return .failure(Reason("an instance of template \(template): export the template's statistics by hand")) }
        guard case .key(let key) = spec.target else {
            return .failure(Reason("a selection target \(spec.target): its members are statistic keys matched by a regular expression, not series"))
        }
        if spec.precondition != nil { return .failure(Reason("a precondition: arming and another monitor's state have no PromQL equivalent")) }
        let parts = key.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3 else { return .failure(Reason("target \(key) is not subsystem:resource:statistic")) }
        let (subsystem, resource, statistic) = (parts[0], parts[1], parts[2])
        if plugins.contains(subsystem) {
            return .failure(Reason("a plug-in's statistic: /metrics exports it under its source's family and labels, not as \(key)"))
        }
        guard let condition = spec.condition?.kind, let threshold = spec.value else {
            return .failure(Reason("no condition or value"))
        }
        let name = "resmon_" + subsystem + "_" + statistic
        guard PrometheusRules.isMetricName(name) else { return .failure(Reason("\(name) is not a Prometheus metric name")) }
        let rate = self.rate(of: spec)
        var matchers = "resource=" + PrometheusRules.promQLString(resource)
        if let host { matchers += ",host=" + PrometheusRules.promQLString(host) }
        let series = name + "{" + matchers + "}"
        let isCounter = statistic.hasSuffix("_total")
        let seconds = PrometheusRules.duration(rate)
        let value: String
        switch (spec.transform ?? Transform(.none)).kind {
        case .some(.none):
            // A counter's value in resmon is its rate per second between readings.
            value = isCounter ? "rate(\(series)[\(PrometheusRules.duration(max(60, 4 * rate)))])" : series
        case .change: value = "(\(series) - \(series) offset \(seconds))"
        case .rate: value = "(\(series) - \(series) offset \(seconds)) / \(PrometheusRules.number(rate))"
        case .percent: return .failure(Reason("the percent transform: the statistic's upper bound is not in /metrics"))
        case nil: return .failure(Reason("transform \(spec.transform?.rawValue ?? "") is not known to this resmon"))
        }
        let tolerance = PrometheusRules.number(spec.tolerance ?? 0)
        let expression: String
        switch condition {
        case .above: expression = value + " > " + PrometheusRules.number(threshold)
        case .atOrAbove: expression = value + " >= " + PrometheusRules.number(threshold)
        case .below: expression = value + " < " + PrometheusRules.number(threshold)
        case .atOrBelow: expression = value + " <= " + PrometheusRules.number(threshold)
        case .at: expression = "abs(\(value) - \(PrometheusRules.number(threshold))) <= \(tolerance)"
        case .notAt: expression = "abs(\(value) - \(PrometheusRules.number(threshold))) > \(tolerance)"
        }
        var notes: [String] = []
        // resmond's answer fills in the defaults: only what differs from them is lost.
        if spec.cancelValue != nil || (spec.cancelSamples ?? spec.samples ?? 1) != (spec.samples ?? 1) {
            notes.append("cancelValue and cancelSamples are not expressed: the alert resolves when the condition stops holding")
        }
        if spec.staleAfter != nil { notes.append("staleAfter is not expressed: add an absent() rule for it") }
        if (spec.loggingRate ?? 0) > 0 { notes.append("loggingRate is not expressed: Alertmanager's repeat_interval does that") }
        var labels: [String: String] = [:]
        for (label, text) in spec.labels ?? [:] { labels[PrometheusRules.labelName(label)] = text }
        labels["severity"] = (spec.severity ?? "warning").rawValue
        labels["monitor"] = monitor.id
        labels["statistic"] = key
        var annotations: [String: String] = [:]
        for (annotation, text) in spec.annotations ?? [:] { annotations[PrometheusRules.labelName(annotation)] = PrometheusRules.literal(text) }
        let displayName = spec.name ?? "\(key) \(condition.rawValue) \(PrometheusRules.number(threshold))"
        annotations["summary"] =
            annotations["summary"] ?? "{{ $labels.host }}: \(PrometheusRules.literal(displayName)) (value {{ $value }})"
        let samples = max(1, spec.samples ?? 1)
        return .success(
            Rule(
                monitor: monitor, alert: PrometheusRules.alertName(displayName), expression: expression,
                duration: PrometheusRules.duration(Double(samples) * rate),
                labels: labels.sorted { $0.key < $1.key }, annotations: annotations.sorted { $0.key < $1.key }, notes: notes))
    }

    /// Seconds between the monitor's readings: `monitoringRate` rounded up to the step, plus the
    /// micro rate.
    func rate(of spec: MonitorSpec) -> Double {
        let step = max(1, self.step)
        var rate = step
        if let seconds = spec.monitoringRate, seconds > step { rate = (seconds / step).rounded(.up) * step }
        if let micro = spec.microMonitoringRate, micro > 0 {
            rate = (spec.monitoringRate ?? 0) + Double(micro) / 1_000_000
        }
        return rate
    }

    // MARK: - Text

    /// Prometheus durations: whole seconds, else milliseconds.
    static func duration(_ seconds: Double) -> String {
        let milliseconds = (seconds * 1000).rounded()
        if milliseconds.truncatingRemainder(dividingBy: 1000) == 0 { return String(Int(milliseconds / 1000)) + "s" }
        return String(Int(milliseconds)) + "ms"
    }

    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        return "\(value)"
    }

    /// A YAML double-quoted scalar (JSON's escapes, which YAML shares).
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    result += "\\x" + String(scalar.value, radix: 16).leftPadded(to: 2)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    /// A PromQL string literal.
    static func promQLString(_ text: String) -> String {
        "\"" + text.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"").replacing("\n", with: "\\n") + "\""
    }

    /// Text that Prometheus' templating must not read as a template.
    static func literal(_ text: String) -> String {
        text.contains("{{") ? text.replacing("{{", with: "{{ \"{{\" }}") : text
    }

    /// A comment stays on its line.
    static func comment(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }

    /// Prometheus label names: `[a-zA-Z_][a-zA-Z0-9_]*` (as the Alertmanager sink makes them).
    static func labelName(_ name: String) -> String {
        var result = String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") ? $0 : "_" })
        if result.first?.isNumber ?? true { result = "_" + result }
        return result
    }

    /// An alert name Prometheus accepts (a metric name's characters but `:`), made from the monitor's
    /// name: other characters become `_`, runs of them one.
    static func alertName(_ name: String) -> String {
        var result = ""
        for character in name {
            // Colons are allowed but left to recording rules, by Prometheus' convention.
            let keep = character.isASCII && (character.isLetter || character.isNumber || character == "_")
            if keep {
                result.append(character)
            } else if !result.hasSuffix("_") {
                result.append("_")
            }
        }
        while result.hasSuffix("_") && result.count > 1 { result.removeLast() }
        if result.isEmpty || result.first?.isNumber == true { result = "resmon_" + result }
        return result
    }

    static func isMetricName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter || first == "_" || first == ":" else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
