import ResmonAPI
import ResmonClient

extension Command {
    static let subsystems = Command(
        name: "subsystems", synopsis: "subsystems [--json]",
        summary: "each subsystem: available or why not, period, statistics",
        details:
            "Lists each subsystem with its state (available, unavailable with the reason, disabled; a plug-in\nalso over-limit or stuck, with the reason), its sampling\nperiod and how many statistics it recorded."
    ) { client, invocation in
        let subsystems = try client.subsystems()
        if invocation.json { return CLI.printJSON(SubsystemList(subsystems: subsystems)) }
        var table = TextTable(header: ["SUBSYSTEM", "STATE", "PERIOD", "STATISTICS", "DETAIL"], rightAligned: [2, 3], elidable: [(4, 24)])
        for subsystem in subsystems {
            var detail = subsystem.reason ?? subsystem.summary
            if let error = subsystem.lastError, subsystem.reason == nil {
                detail += "; last error: \(error)" + ((subsystem.malformedLines ?? 0) > 1 ? " (\(subsystem.malformedLines!) malformed lines)" : "")
            }
            table.append([
                subsystem.name, subsystem.state, ValueFormatter.number(subsystem.periodSeconds) + " s",
                String(subsystem.statistics), detail
            ])
        }
        print(table.render(), terminator: "")
    }
}
