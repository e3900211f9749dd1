import ResmonAPI
import ResmonClient

extension Command {
    static let events = Command(
        name: "events", synopsis: "events [--filter EXPR] [--since TIME] [--after ID] [--limit N] [--follow] [--json]",
        summary: "the event log; --follow prints events as they happen",
        details: """
            Shows the event log, oldest first: the last N (default 50; 10 with --follow) events, or those after
            event ID, that match the filter (e.g. 'severity >= warning && monitor ~ "disk"'; docs/EVENTS.md) since
            TIME (-1h, RFC 3339). --follow (-f) then prints events as they happen, one per line (one JSON object
            per line with --json), until Ctrl-C; it reconnects by itself and misses none, even across a restart
            of resmond.
            """,
        options: [
            .value("--filter", placeholder: "EXPR", help: "only events that match (docs/EVENTS.md)"),
            .value("--since", placeholder: "TIME", help: "only events since: a duration back (1h) or RFC 3339"),
            .value("--after", placeholder: "ID", help: "only events after this one"),
            .value("--limit", placeholder: "N", help: "at most N events, 1 to 10000 (default 50; 10 with --follow)"),
            .flag("--follow", "-f", help: "then print events as they happen, until Ctrl-C")
        ]
    ) { client, invocation in
        let follow = invocation.flag("--follow")
        let limit =
            try invocation.value("--limit").map { text throws(UsageError) -> Int in
                guard let value = Int(text), (1...10_000).contains(value) else { throw UsageError(message: "--limit: expected 1 to 10000") }
                return value
            } ?? (follow ? 10 : 50)
        let filter = invocation.value("--filter")
        let since = CLI.since(invocation.value("--since"))
        let list: EventList
        if let text = invocation.value("--after") {
            guard let after = Int64(text), after >= 0 else { throw UsageError(message: "--after: expected an event id") }
            list = try client.events(after: after, limit: limit, filter: filter, since: since)
        } else {
            // The last `limit` matching events, shown oldest first.
            let newest = try client.events(limit: limit, filter: filter, since: since, newestFirst: true)
            list = EventList(events: newest.events.reversed(), next: newest.events.first?.id ?? 0)
        }
        if follow { return try CLI.follow(client, invocation, shown: list, filter: filter) }
        if invocation.json { return CLI.printJSON(list) }
        if list.events.isEmpty {
            return print(
                "no events" + (filter.map { " match '\($0)'" } ?? "") + (invocation.value("--since").map { " since \($0)" } ?? "")
                    + (invocation.value("--after").map { " after event \($0)" } ?? ""))
        }
        var table = TextTable(header: ["ID", "TIME", "SEVERITY", "TYPE", "MONITOR", "MESSAGE"], elidable: [(4, 12), (5, 24)])
        for event in list.events {
            table.append([
                String(event.id), CLI.formatTime(event.time), event.severity.rawValue, event.type.rawValue,
                event.monitorId.map(CLI.shortID) ?? "", event.message
            ])
        }
        print(table.render(), terminator: "")
    }
}

extension CLI {
    /// `events --follow`: what was shown, then every later event as it is logged, a line each.
    static func follow(_ client: ResmonClient, _ invocation: Invocation, shown list: EventList, filter: String?) throws {
        func show(_ event: EventRecord) {
            if invocation.json {
                printJSON(event, pretty: false)
            } else {
                print(
                    [
                        String(event.id), formatTime(event.time), event.severity.rawValue, event.type.rawValue,
                        event.monitorId.map(shortID) ?? "-", event.message
                    ].joined(separator: "  "))
            }
            flushOutput()
        }
        list.events.forEach(show)
        // Resume after the last event shown; with none shown, after the newest in the log.
        var after = list.events.last?.id
        if after == nil { after = try client.events(limit: 1, newestFirst: true).events.first?.id ?? 0 }
        try client.followEvents(
            after: after, filter: filter,
            onEvent: { event in
                show(event)
                return true
            }, onReconnect: { reason in printError("reconnecting: \(reason)") })
    }
}
