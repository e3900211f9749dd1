import ResmonAPI
import ResmonClient

extension Command {
    static let sinks = Command(
        name: "sinks", synopsis: "sinks [--json]",
        summary: "where events are delivered: each sink's position, deliveries, retries, last error",
        details:
            "Lists the sinks configured under \"sinks\" in resmond.json: the last event each has dealt with, how many\nit delivered, had rejected and dropped (another uid's backlog full), how often it retried, and its last error."
    ) { client, invocation in
        let sinks = try client.sinks()
        if invocation.json { return CLI.printJSON(SinkList(sinks: sinks)) }
        if sinks.isEmpty { return print("no sinks (resmond.json \"sinks\" names none)") }
        var table = TextTable(header: ["NAME", "TYPE", "AFTER", "DELIVERED", "REJECTED", "DROPPED", "RETRIES", "LAST ERROR"], elidable: [(7, 16)])
        for sink in sinks {
            table.append([
                sink.name, sink.type, String(sink.after), String(sink.delivered), String(sink.rejected),
                String(sink.dropped ?? 0), String(sink.retries), sink.lastError ?? ""
            ])
        }
        print(table.render(), terminator: "")
    }
}
