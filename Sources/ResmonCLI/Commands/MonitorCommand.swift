import FoundationEssentials
import ResmonAPI
import ResmonClient
import ResmonSystem

extension Command {
    /// Options of `monitor create` and `monitor test` (a spec on the command line).
    static let monitorSpecOptions: [OptionDeclaration] = [
        .value("--samples", placeholder: "N", help: "readings meeting the condition before it raises (default 1)"),
        .value("--cancel-below", placeholder: "V", help: "cancel only once under V (hysteresis)"),
        .value("--cancel-above", placeholder: "V", help: "cancel only once over V (hysteresis)"),
        .value("--cancel-value", placeholder: "V", help: "cancel only once past V"),
        .value("--cancel-samples", placeholder: "N", help: "readings past the cancel value before it cancels (default: --samples)"),
        .value("--tolerance", placeholder: "T", help: "the ± band that counts as at (at, notAt) or a watermark's step"),
        .value(
            "--transform", placeholder: "T", choices: Transform.Kind.allCases.map(\.rawValue), help: "none, percent (of the statistic's bound), change or rate"),
        .value("--severity", placeholder: "S", choices: Severity.Kind.allCases.map(\.rawValue), help: "of the raise: emerg … debug (default warning)"),
        .value(
            "--cancel-severity", placeholder: "S", choices: Severity.Kind.allCases.map(\.rawValue) + ["none"], help: "of the cancel, or none (default notice)"),
        .value("--logging-rate", placeholder: "SECONDS", help: "log a raise no more often than this (perfmon's inhibit period)"),
        .value("--rate", placeholder: "SECONDS", help: "how often it reads its statistic (default: the step)"),
        .value("--interval-limit", placeholder: "SECONDS", help: "stop by itself after this long"),
        .value("--name", placeholder: "NAME", help: "its name (default: made from the target and condition)"),
        .value("--id", placeholder: "ID", help: "its id (default: a UUID)"),
        .value("--from-file", placeholder: "FILE", help: "the spec (or an array of specs) as JSON (docs/MONITORS.md)"),
        .flag("--stopped", help: "create it stopped"),
        .flag("--capture", help: "record every reading it takes (GET /v1/monitors/ID/capture)"),
        .value("--fill", placeholder: "F", help: "a leaky bucket's refill per period"),
        .flag("--events", help: "a watermark logs an event when it moves past --tolerance"),
        .value("--select", placeholder: "REGEX", help: "select statistics by key instead of naming one"),
        .repeated("--where", placeholder: "CONDITION", help: "with --select: label=value or label~regex"),
        .value("--aggregate", placeholder: "F", choices: ["sum", "average", "min", "max", "count"], help: "with --select: sum, average, min, max or count"),
        .flag("--each", help: "with --select: one monitor per statistic (a template)"),
        .value("--since", placeholder: "DURATION", help: "test: how far back to replay (default 6h)"),
        .value(
            "--cf", placeholder: "FUNCTION", choices: ["average", "min", "max", "last"],
            help: "test: the archive function to replay (default: the one that cannot miss a raise)")
    ]

    static let monitor = Command(
        name: "monitor", synopsis: "monitor create|test|list|show|start|stop|pause|resume|reset|reset-notification|delete …",
        summary: "create, list, test and control monitors",
        details: """
            resmon monitor create KEY CONDITION VALUE [OPTIONS]
            resmon monitor create --select REGEX [--where LABEL=VALUE|LABEL~REGEX]... --aggregate sum|average|min|max|count CONDITION VALUE
            resmon monitor create --select REGEX [--where …]... --each CONDITION VALUE   (one monitor per statistic)
            resmon monitor create KEY watermark high|low [--tolerance T --events] [--transform change]
            resmon monitor create KEY leaky-bucket SIZE --fill F   (a counter; F refills per period)
            resmon monitor create --from-file SPEC.json     (one spec or an array; docs/MONITORS.md)
            resmon monitor test KEY CONDITION VALUE [OPTIONS] [--since 6h] [--cf max]   (replay the archived history)
            resmon monitor list [--json]
            resmon monitor show|start|stop|pause|resume|reset|reset-notification|delete ID [--json]

            CONDITION is above, atOrAbove, at, atOrBelow, below or notAt. Example: raise when the CPU has
            been over 90 % for a minute at a 5 s step, and cancel when it drops under 70 %:
              resmon monitor create cpu:total:usage_ratio above 0.9 --samples 12 --cancel-below 0.7
            A monitor's ID may be given as tables show it (the first 8 digits of a UUID) or any unique prefix.
            """,
        arguments: 1...4,
        options: monitorSpecOptions,
        verbs: [.init("create", .statistic), .init("test", .statistic), .init("list")]
            + ["show", "start", "stop", "pause", "resume", "reset", "reset-notification", "delete"].map { .init($0, .monitor) }
    ) { client, invocation in
        guard let verb = invocation.arguments.first else {
            throw UsageError(message: "monitor needs a command: " + invocation.command.verbs.map(\.name).joined(separator: ", "))
        }
        var rest = invocation
        rest.arguments = Array(invocation.arguments.dropFirst())
        let specOptions = invocation.parsed.given.subtracting(CLI.globalOptions.map(\.name)).sorted()
        if !["create", "test"].contains(verb), let given = specOptions.first {
            throw UsageError(message: "\(given) does not apply to monitor \(verb)")
        }
        if verb == "create", let given = ["--since", "--cf"].first(where: { invocation.flag($0) }) {
            throw UsageError(message: "\(given) applies to monitor test only")
        }
        switch verb {
        case "create":
            let specs = try CLI.monitorSpecs(rest)
            let created = try client.createMonitors(specs)
            if invocation.json { return CLI.printJSON(MonitorList(monitors: created)) }
            for monitor in created { print("created \(monitor.id): \(monitor.spec.name ?? "")") }
        case "test":
            let specs = try CLI.monitorSpecs(rest)
            guard specs.count == 1 else { throw UsageError(message: "monitor test replays one spec") }
            let since = CLI.since(rest.value("--since")) ?? "-6h"
            // Default: resmond replays the function that cannot miss a raise (MAX for above, MIN for below).
            let functions = ["average": "AVERAGE", "avg": "AVERAGE", "min": "MIN", "max": "MAX", "last": "LAST"]
            let function = try rest.value("--cf").map { text throws(UsageError) -> String in
                guard let name = functions[text.lowercased()] else {
                    throw UsageError(message: "--cf: expected average, min, max or last, got \"\(text)\"")
                }
                return name
            }
            let result = try client.backtest(specs[0], since: since, cf: function)
            if invocation.json { return CLI.printJSON(result) }
            let archives = (result.archives ?? [result.step]).map { ValueFormatter.duration(Double($0)) }.joined(separator: ", ")
            print(
                "replayed \(result.readings) readings every \(ValueFormatter.duration(Double(result.step))) from the \(result.cf ?? "") archives with \(archives) rows, from \(CLI.formatTime(Double(result.start))) to \(CLI.formatTime(Double(result.end))) of \(result.statistics.joined(separator: ", "))"
            )
            if let samples = result.samples, let rate = result.monitorRate, let spec = specs.first, spec.type == nil || spec.type == .threshold {
                let readings = spec.samples ?? 1
                print(
                    "samples: \(readings) readings × \(ValueFormatter.number(rate)) s = \(ValueFormatter.duration(Double(readings) * rate)), replayed as \(samples) reading\(samples == 1 ? "" : "s") \(ValueFormatter.duration(Double(result.step))) apart"
                )
            }
            var table = TextTable(header: ["TIME", "EVENT", "VALUE", "MESSAGE"], elidable: [(3, 24)])
            var raisedSince: Double?
            var raisedTotal = 0.0
            // A watermark's move is a raise to a sink, but the monitor is not "raised" by it.
            let raises = { (type: EventType) in type.isRaise && type != .watermark }
            for event in result.events {
                table.append([CLI.formatTime(event.time), event.type.rawValue, event.value.map { specs[0].formatValue($0) } ?? "", event.message])
                if event.type.isCancel {
                    if let since = raisedSince { raisedTotal += event.time - since }
                    raisedSince = nil
                } else if raisedSince == nil && raises(event.type) {
                    raisedSince = event.time
                }
            }
            if let since = raisedSince { raisedTotal += Double(result.end) - since }
            if result.events.isEmpty { print("it would not have raised") } else { print(table.render(), terminator: "") }
            let raiseCount = result.events.filter { raises($0.type) }.count
            if raiseCount > 0 { print("it would have raised \(raiseCount) times, raised for \(Int(raisedTotal)) s in all") }
        case "list":
            guard rest.arguments.isEmpty else { throw UsageError(message: "monitor list takes no arguments") }
            let monitors = try client.monitors()
            if invocation.json { return CLI.printJSON(MonitorList(monitors: monitors)) }
            if monitors.isEmpty { return print("no monitors") }
            var table = TextTable(header: ["ID", "NAME", "STATE", "LAST VALUE", "RUNNING"], rightAligned: [3], elidable: [(1, 32), (0, 24), (1, 12), (0, 12)])
            for monitor in monitors {
                table.append([
                    CLI.shortID(monitor.id), monitor.spec.name ?? "", monitor.state.phase + (monitor.state.paused ? " (paused)" : ""),
                    monitor.spec.formatValue(monitor.state.lastValue), monitor.state.running ? "yes" : "no"
                ])
            }
            print(table.render(), terminator: "")
        case "show", "start", "stop", "pause", "resume", "reset", "reset-notification", "delete":
            guard rest.arguments.count == 1 else { throw UsageError(message: "monitor \(verb) needs one monitor id") }
            let id = try CLI.resolveMonitorID(client, rest.arguments[0])
            let monitor: MonitorInfo
            switch verb {
            case "show": monitor = try client.monitor(id)
            case "delete":
                try client.deleteMonitor(id)
                if !invocation.json { print("deleted \(id)") }
                return
            default: monitor = try client.perform(verb, monitor: id)
            }
            if invocation.json { return CLI.printJSON(monitor) }
            var table = TextTable(header: ["id", monitor.id])
            table.append(["name", monitor.spec.name ?? ""])
            table.append(["target", monitor.spec.target.description + (monitor.spec.transform.map { $0 == Transform.none ? "" : " (\($0))" } ?? "")])
            if let template = monitor.spec.template { table.append(["template", template]) }
            if let members = monitor.state.members { table.append(["selects", "\(members) statistics"]) }
            if let warning = monitor.state.warning { table.append(["warning", warning]) }
            switch (monitor.spec.type ?? .threshold).kind {
            case .watermark:
                table.append([
                    "watermark",
                    "\(monitor.spec.mark ?? "high"): " + (monitor.state.watermark.map { monitor.spec.formatValue($0) } ?? "none yet")
                        + (monitor.state.watermarkTime.map { " at \(CLI.formatTime($0))" } ?? "")
                ])
            case .leakyBucket:
                table.append([
                    "bucket",
                    "level \(monitor.state.level.map(ValueFormatter.number) ?? "?") of \(ValueFormatter.number(monitor.spec.bucketSize ?? 0)), refilled by \(ValueFormatter.number(monitor.spec.fillValue ?? 0)) per period"
                ])
            case .threshold, nil:
                table.append([
                    "condition",
                    "\(monitor.spec.condition ?? "") \(monitor.spec.formatValue(monitor.spec.value ?? 0)), \(monitor.spec.samples ?? 1) samples"
                        + (monitor.spec.cancelValue.map { ", cancel past \(monitor.spec.formatValue($0))" } ?? "")
                ])
            }
            table.append([
                "state",
                monitor.state.phase + (monitor.state.count > 0 ? " (\(monitor.state.count))" : "")
                    + (monitor.state.running ? "" : ", stopped") + (monitor.state.paused ? ", paused" : "")
            ])
            table.append(["last value", monitor.spec.formatValue(monitor.state.lastValue)])
            table.append(["severity", "\(monitor.spec.severity ?? .warning), cancel \(monitor.spec.cancelSeverity ?? .notice)"])
            print(table.render(), terminator: "")
        default:
            throw UsageError(message: "unknown monitor command \"\(verb)\"")
        }
    }
}
