import ResmonAPI
import ResmonClient

extension Command {
    static let get = Command(
        name: "get", synopsis: "get KEY... [--json]",
        summary: "one statistic in full (KEY is subsystem:resource:statistic)",
        details:
            "Shows each statistic in full: value, raw total and rate for counters, unit, resolution, upper bound,\nlabels and time of the reading. KEY is subsystem:resource:statistic, e.g. cpu:total:usage_ratio.",
        arguments: 1...Int.max, completes: .statistic
    ) { client, invocation in
        let statistics = try invocation.arguments.map { key throws(ClientError) in try client.statistic(key) }
        if invocation.json {
            return statistics.count == 1 ? CLI.printJSON(statistics[0]) : CLI.printJSON(StatisticList(statistics: statistics))
        }
        for (index, statistic) in statistics.enumerated() {
            if index > 0 { print() }
            var table = TextTable(header: ["key", statistic.key])
            table.append(["value", ValueFormatter.format(statistic)])
            if statistic.kind == "counter" {
                table.append(["total", ValueFormatter.format(statistic.total, unit: statistic.unit)])
                table.append(["increase", ValueFormatter.format(statistic.increase, unit: statistic.unit)])
            }
            table.append(["kind", statistic.kind])
            table.append(["unit", statistic.unit])
            table.append(["resolution", ValueFormatter.number(statistic.resolution)])
            table.append(["upper bound", statistic.upperBound.map { ValueFormatter.format($0, unit: statistic.unit) } ?? "none"])
            table.append(["labels", statistic.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: " ")])
            table.append(["time", statistic.time.map(CLI.formatTime) ?? "never"])
            table.append(["help", statistic.help])
            print(table.render(), terminator: "")
        }
    }
}
