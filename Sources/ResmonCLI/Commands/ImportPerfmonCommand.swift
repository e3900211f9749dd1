import ResmonAPI
import ResmonClient

extension Command {
    static let importPerfmon = Command(
        name: "import-perfmon", synopsis: "import-perfmon FILE --object host|cgroup:/PATH [--json]",
        summary: "perfmon's XML configuration as monitors",
        details: """
            Creates the monitors a XenServer perfmon configuration asks for (<config><variable>…), with perfmon's
            defaults per variable, on the host or on a control group (perfmon's VMs). FILE - reads standard input.
            Importing again for the same object refreshes it as perfmon does: unchanged variables keep their state,
            changed ones are replaced, gone ones removed. A variable that reads nothing is a warning on standard error.
            See docs/MONITORS.md for the mapping.
            """,
        arguments: 1...1, completes: .file,
        options: [.value("--object", placeholder: "OBJECT", help: "host, or cgroup:/PATH for a control group (perfmon's VM)")]
    ) { client, invocation in
        guard let object = invocation.value("--object") else { throw UsageError(message: "--object host or cgroup:/PATH is required") }
        let bytes = try CLI.readInput(invocation.arguments[0])
        let report = try client.importPerfmonReport(xml: bytes, object: object)
        if invocation.json { return CLI.printJSON(report) }
        var table = TextTable(header: ["ID", "VARIABLE", "OUTCOME", "TARGET", "CONDITION", "READS"], elidable: [(3, 16), (4, 20)])
        for (monitor, variable) in zip(report.monitors, report.variables) {
            table.append([
                monitor.id, variable.name, variable.outcome, monitor.spec.target.description,
                "\(monitor.spec.condition ?? "") \(monitor.spec.formatValue(monitor.spec.value ?? 0)), \(monitor.spec.samples ?? 1) samples",
                "\(variable.statistics.count) statistics"
            ])
        }
        print(table.render(), terminator: "")
        for variable in report.variables { if let warning = variable.warning { CLI.printError("warning: \(variable.name): \(warning)") } }
        for id in report.removed { print("removed \(id) (its variable is no longer in the configuration)") }
    }
}
