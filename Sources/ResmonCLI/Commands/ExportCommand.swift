import FoundationEssentials
import ResmonAPI
import ResmonClient

extension Command {
    static let export = Command(
        name: "export", synopsis: "export prometheus-rules [--output FILE] [--group NAME] [--this-host]",
        summary: "resmond's threshold monitors as a Prometheus alerting-rules file",
        details: """
            prometheus-rules: writes an alerting-rules file (standard output, or FILE) with one rule per threshold
            monitor on one statistic: its expr over the series /metrics exports for the statistic, its for the
            monitor's samples × rate (the trigger period), its labels (with severity, monitor and statistic) and
            annotations. Monitors PromQL cannot express (watermarks, leaky buckets, selections, templates'
            instances, preconditions, the percent transform, plug-ins' statistics) are listed at the end of the
            file as comments, and counted on standard error. --this-host selects this host's series only
            (host="…"); without it the rule covers every host that exports the series. See docs/FLEET.md.
            """,
        arguments: 1...1,
        options: [
            .value("--output", placeholder: "FILE", help: "write the rules to FILE instead of standard output"),
            .value("--group", placeholder: "NAME", help: "the rule group's name (default resmon)"),
            .flag("--this-host", help: "select the series of this resmond's host only")
        ]
    ) { client, invocation in
        guard invocation.arguments[0] == "prometheus-rules" else {
            throw UsageError(message: "unknown export \"\(invocation.arguments[0])\": expected prometheus-rules")
        }
        let status = try client.status()
        let plugins = Set(try client.subsystems().filter { $0.plugin != nil }.map(\.name))
        var rules = PrometheusRules(
            step: status.stepSeconds, plugins: plugins, host: invocation.flag("--this-host") ? status.host : nil)
        if let group = invocation.value("--group") {
            guard !group.isEmpty, !group.contains(where: \.isNewline) else { throw UsageError(message: "--group: expected a name on one line") }
            rules.group = group
        }
        let (text, count, skipped) = rules.render(try client.monitors())
        if let path = invocation.value("--output") {
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            } catch {
                throw ExportFailure(message: "cannot write \(path): \(error)")
            }
        } else {
            print(text, terminator: "")
        }
        CLI.printError("\(count) alerting rules written, \(skipped.count) monitors skipped" + (skipped.isEmpty ? "" : " (listed at the end of the file)"))
    }
}

struct ExportFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
