import ResmonAPI
import ResmonClient

extension Command {
    static let history = Command(
        name: "history", synopsis: "history KEY [--since DURATION] [--cf average|min|max|last] [--json]",
        summary: "the archived past of a statistic, with a sparkline",
        details:
            "Shows the archived rows of a statistic since DURATION ago (90s, 10m, 2h, 7d; default 10m), consolidated\nwith the function (default average), from the finest archive that reaches back that far, under a\nsparkline of the whole span. Counters show their rate.",
        arguments: 1...1, completes: .statistic,
        options: [
            .value("--since", placeholder: "DURATION", help: "how far back: 90s, 10m, 2h, 7d (default 10m)"),
            .value(
                "--cf", placeholder: "FUNCTION", choices: ["average", "min", "max", "last"], help: "consolidation: average, min, max or last (default average)")
        ]
    ) { client, invocation in
        var since = 600
        if let text = invocation.value("--since") {
            guard let seconds = CLI.duration(text) else { throw UsageError(message: "--since: expected a duration such as 90s, 10m, 2h, 7d, got \"\(text)\"") }
            since = seconds
        }
        let function = invocation.value("--cf") ?? "average"
        guard ["average", "avg", "min", "max", "last"].contains(function.lowercased()) else {
            throw UsageError(message: "--cf: expected average, min, max or last, got \"\(function)\"")
        }
        let history = try client.history(invocation.arguments[0], function: function.uppercased(), start: -since)
        if invocation.json { return CLI.printJSON(history) }
        let statistic = try? client.statistic(invocation.arguments[0])
        let perSecond = statistic?.kind == "counter"
        print("\(history.key) \(history.cf) every \(ValueFormatter.duration(Double(history.step))), \(history.rows.count) rows")
        print(CLI.sparkline(history.rows.map(\.v)))
        var table = TextTable(header: ["TIME", "VALUE"], rightAligned: [1])
        for row in history.rows {
            table.append([CLI.formatTime(Double(row.t)), ValueFormatter.format(row.v, unit: history.unit, perSecond: perSecond)])
        }
        print(table.render(), terminator: "")
    }
}
