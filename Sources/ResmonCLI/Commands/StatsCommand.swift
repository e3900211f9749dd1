import ResmonAPI
import ResmonClient

extension Command {
    static let stats = Command(
        name: "stats", synopsis: "stats [REGEX] [--where CONDITION]... [--json]",
        summary: "the statistics whose keys match REGEX and whose labels match, with values",
        details: """
            Lists the statistics whose keys match REGEX (a POSIX extended regular expression, searched
            unanchored: 'cpu:total', '^fs:.*used_ratio$') and whose labels meet every CONDITION:
            label=value, label!=value, label~regex, label!~regex (e.g. --where name~^nginx --where user=www-data;
            subsystem, resource and statistic work as labels too), with value and unit, kind. Counters show their rate.
            """,
        arguments: 0...1, completes: .statistic,
        options: [.repeated("--where", placeholder: "CONDITION", help: "a label condition: label=value, label!=value, label~regex, label!~regex")]
    ) { client, invocation in
        let conditions = invocation.values("--where")
        let statistics = try client.statistics(matching: invocation.arguments.first, where: conditions)
        if invocation.json { return CLI.printJSON(StatisticList(statistics: statistics)) }
        if statistics.isEmpty {
            let pattern = invocation.arguments.first.map { " match '\($0)'" } ?? ""
            let labels = conditions.isEmpty ? "" : (pattern.isEmpty ? " have " : " and have ") + conditions.joined(separator: ", ")
            return print("no statistics" + (pattern.isEmpty && labels.isEmpty ? "" : " whose keys" + pattern + labels))
        }
        print(CLI.statisticsTable(statistics), terminator: "")
    }
}

extension CLI {
    static func statisticsTable(_ statistics: [StatisticInfo]) -> String {
        var table = TextTable(header: ["KEY", "VALUE", "KIND"], rightAligned: [1], elidable: [(0, 12)])
        for statistic in statistics {
            table.append([statistic.key, ValueFormatter.format(statistic), statistic.kind])
        }
        return table.render()
    }
}
