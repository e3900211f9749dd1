import ResmonAPI
import ResmonClient

extension Command {
    static let push = Command(
        name: "push", synopsis: "push KEY VALUE [--kind gauge|counter] [--unit UNIT] [--help-text TEXT] [--json]\n       resmon push --delete KEY",
        summary: "push an application statistic (KEY is app:RESOURCE:NAME)",
        details:
            "Pushes an application statistic: KEY is app:RESOURCE:NAME, VALUE a gauge's level or a counter's\nraw total (a counter's NAME ends in _total). It expires unless pushed again within push.expireSeconds.",
        arguments: 1...2, completes: .statistic,
        options: [
            .value("--kind", placeholder: "KIND", choices: ["gauge", "counter"], help: "gauge (default) or counter"),
            .value("--unit", placeholder: "UNIT", help: "the unit: bytes, seconds, ratio, or a word of yours"),
            .value("--help-text", placeholder: "TEXT", help: "what the statistic means"),
            .flag("--delete", help: "remove the pushed statistic KEY")
        ]
    ) { client, invocation in
        if invocation.flag("--delete") {
            guard invocation.arguments.count == 1 else { throw UsageError(message: "push --delete takes one KEY") }
            try client.removePushed(invocation.arguments[0])
            return
        }
        guard invocation.arguments.count == 2 else { throw UsageError(message: "push needs KEY VALUE") }
        guard let value = Double(invocation.arguments[1]), value.isFinite else {
            throw UsageError(message: "VALUE: expected a number, got \"\(invocation.arguments[1])\"")
        }
        let statistic = try client.push(
            invocation.arguments[0], value: value, kind: invocation.value("--kind") ?? "gauge",
            unit: invocation.value("--unit") ?? "", help: invocation.value("--help-text"))
        if invocation.json { return CLI.printJSON(statistic) }
        print("\(statistic.key) = \(ValueFormatter.format(statistic))")
    }
}
