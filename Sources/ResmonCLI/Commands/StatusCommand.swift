import ResmonAPI
import ResmonClient

extension Command {
    static let status = Command(
        name: "status", synopsis: "status [--json]",
        summary: "the daemon's state: version, uptime, step, statistics, its own CPU and memory",
        details: "Shows resmond's version, host and fleet labels, uptime, step, sampling cycles, statistic count and its own CPU and memory use."
    ) { client, invocation in
        let status = try client.status()
        if invocation.json { return CLI.printJSON(status) }
        var table = TextTable(header: ["resmond", "\(status.version) (pid \(status.pid)), up \(ValueFormatter.duration(status.uptimeSeconds))"])
        if let host = status.host {
            let labels = (status.labels ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
            let text = labels.isEmpty ? host : "\(host) (\(labels))"
            table.append(["host", text.count > 88 ? String(text.prefix(87)) + "…" : text])
        }
        table.append(["socket", status.socket])
        table.append(["http", status.listen.map { "http://\($0)" } ?? "off"])
        table.append(["step", "\(ValueFormatter.number(status.stepSeconds)) s, \(status.cycles) cycles"])
        table.append(["statistics", "\(status.statistics) (\(status.subsystemsAvailable) subsystems available, \(status.subsystemsUnavailable) unavailable)"])
        table.append([
            "self",
            "cpu \(ValueFormatter.number(status.cpuSecondsTotal)) s, rss \(ValueFormatter.bytes(status.residentBytes))"
                + (status.lastSampleCPUSeconds.map { ", last sample \(ValueFormatter.number($0 * 1000)) ms cpu" } ?? "")
        ])
        table.append(["busy", status.busy ? "yes: refusing new monitors (\(status.busyReason ?? "over a self-limit"))" : "no"])
        table.append(["state", status.stateDirectory])
        print(table.render(), terminator: "")
    }
}
