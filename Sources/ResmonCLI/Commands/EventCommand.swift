import ResmonAPI
import ResmonClient

extension Command {
    static let event = Command(
        name: "event",
        synopsis:
            "event append TYPE MONITOR-ID MESSAGE [--severity S] [--name NAME] [--key KEY] [--value V] [--threshold T] [--time T] [--json]",
        summary: "append an application monitor's event to the event log",
        details: """
            Appends an event your own monitor found (as libresmon's inline monitors with forward do): TYPE is a
            monitor event type (above, below, …, counterRateExceeded, watermark, canceled), MONITOR-ID your
            monitor's id (not one of resmond's). resmond marks it labels.source = "application" and labels.uid =
            your uid, pairs a canceled with your last raise of that monitor, and holds back what the event storm
            limits do not admit (docs/EVENTS.md, "Application events").
            """,
        arguments: 4...4,
        options: [
            .value(
                "--severity", placeholder: "S", choices: Severity.Kind.allCases.map(\.rawValue), help: "syslog severity (default warning; notice for canceled)"),
            .value("--name", placeholder: "NAME", help: "the monitor's name"),
            .value("--key", placeholder: "KEY", help: "what it watches"),
            .value("--value", placeholder: "V", help: "the reading"),
            .value("--threshold", placeholder: "T", help: "the monitor's threshold"),
            .value("--time", placeholder: "T", help: "seconds since the epoch (default now)")
        ],
        verbs: [.init("append")]
    ) { client, invocation in
        let arguments = invocation.arguments
        guard arguments[0] == "append" else { throw UsageError(message: "event: expected append, got \"\(arguments[0])\"") }
        let stored = try client.appendEvent(
            EventAppendRequest(
                type: arguments[1], severity: invocation.value("--severity"), monitorId: arguments[2],
                monitorName: invocation.value("--name"), key: invocation.value("--key"), value: try invocation.number("--value"),
                threshold: try invocation.number("--threshold"), message: arguments[3], time: try invocation.number("--time")))
        if invocation.json { return CLI.printJSON(stored) }
        print("event \(stored.id): \(stored.type.rawValue) \(stored.severity.rawValue) \(stored.monitorId ?? "") \(stored.message)")
    }
}
