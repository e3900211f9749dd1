import FoundationEssentials
import ResmonAPI
import ResmonClient
#if canImport(Glibc)
import Glibc
#endif

/// The `resmon` command line: human tables by default, `--json` for scripts.
///
/// Exit status: 0 success, 1 resmond answered with an error (an unknown key …), 2 no resmond
/// answered, 64 bad usage.
public enum CLI {
    public enum ExitCode {
        public static let success: Int32 = 0
        public static let failure: Int32 = 1
        public static let unreachable: Int32 = 2
        public static let usage: Int32 = 64
    }

    struct UsageError: Error { let message: String }

    struct Invocation {
        var command: String?
        var arguments: [String] = []
        var json = false
        var follow = false
        var help = false
        var socket: String?
        var options: [String: String] = [:]
        var conditions: [String] = []
        var delete = false
    }

    static let usage = """
        Usage: resmon [--socket PATH] [--json] COMMAND [ARGUMENTS]

        Reads resmond, the resmon daemon, over its Unix socket (--socket, else $RESMON_SOCKET,
        else \(DefaultPaths.socket())).

        Commands:
          status              the daemon's state: version, uptime, step, statistics, its own CPU and memory
          subsystems          each subsystem: available or why not, period, statistics
          stats [REGEX] [--where LABEL~REGEX]...
                              the statistics whose keys match REGEX (POSIX extended) and whose
                              labels match, with values
          push KEY VALUE      push an application statistic (KEY is app:RESOURCE:NAME)
          get KEY...          one statistic in full (KEY is subsystem:resource:statistic)
          watch KEY...        refresh the values of KEYs in place until Ctrl-C
          history KEY         the archived past of a statistic, with a sparkline
          monitor create KEY CONDITION VALUE [OPTIONS]   create a threshold monitor (see monitor --help)
          monitor list|show|start|stop|pause|resume|reset|reset-notification|delete [ID]
          events [--filter EXPR] [--since 1h] [--after ID] [--limit N] [--follow]   the event log
          import-perfmon FILE --object host|cgroup:/PATH   perfmon's XML configuration as monitors
          sinks               where events are delivered: each sink's position, deliveries, retries, last error
          version             the version of resmon

        Options:
          --json              print JSON instead of a table
          --socket PATH       the daemon's socket
          --help              help for resmon or for a command

        Exit status: 0 success, 1 resmond refused (unknown key, bad regex), 2 no resmond answered, 64 bad usage.
        """

    static let commandHelp: [String: String] = [
        "status": "Usage: resmon status [--json]\n\nShows resmond's version, uptime, step, sampling cycles, statistic count and its own CPU and memory use.\n",
        "subsystems": "Usage: resmon subsystems [--json]\n\nLists each subsystem with its state (available, unavailable with the reason, disabled), its sampling period and how many statistics it recorded.\n",
        "stats": "Usage: resmon stats [REGEX] [--where CONDITION]... [--json]\n\nLists the statistics whose keys match REGEX (a POSIX extended regular expression, searched\nunanchored: 'cpu:total', '^fs:.*used_ratio$') and whose labels meet every CONDITION:\nlabel=value, label!=value, label~regex, label!~regex (e.g. --where name~^nginx --where user=www-data;\nsubsystem, resource and statistic work as labels too), with value and unit, kind. Counters show their rate.\n",
        "push": "Usage: resmon push KEY VALUE [--kind gauge|counter] [--unit UNIT] [--help-text TEXT] [--json]\n       resmon push --delete KEY\n\nPushes an application statistic: KEY is app:RESOURCE:NAME, VALUE a gauge's level or a counter's\nraw total (a counter's NAME ends in _total). It expires unless pushed again within push.expireSeconds.\n",
        "get": "Usage: resmon get KEY... [--json]\n\nShows each statistic in full: value, raw total and rate for counters, unit, resolution, upper bound,\nlabels and time of the reading. KEY is subsystem:resource:statistic, e.g. cpu:total:usage_ratio.\n",
        "watch": "Usage: resmon watch KEY... [--interval SECONDS] [--count N] [--json]\n\nRefreshes the values of the KEYs in place (on a terminal) every interval (default: the daemon's step)\nuntil Ctrl-C, or N times. Off a terminal it prints one block per refresh; with --json one JSON line.\n",
        "version": "Usage: resmon version\n\nPrints the version of resmon.\n",
        "monitor": """
            Usage: resmon monitor create KEY CONDITION VALUE [--samples N] [--cancel-below V | --cancel-above V]
                                  [--cancel-samples N] [--tolerance T] [--transform none|percent|change|rate]
                                  [--severity S] [--cancel-severity S|none] [--logging-rate SECONDS] [--rate SECONDS]
                                  [--interval-limit SECONDS] [--name NAME] [--id ID] [--stopped] [--capture] [--json]
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

            """,
        "import-perfmon": "Usage: resmon import-perfmon FILE --object host|cgroup:/PATH [--json]\n\nCreates the monitors a XenServer perfmon configuration asks for (<config><variable>…), with perfmon's\ndefaults per variable, on the host or on a control group (perfmon's VMs). FILE - reads standard input.\nSee docs/MONITORS.md for the mapping.\n",
        "sinks": "Usage: resmon sinks [--json]\n\nLists the sinks configured under \"sinks\" in resmond.json: the last event each has dealt with, how many\nit delivered and had rejected, how often it retried, and its last error.\n",
        "events": "Usage: resmon events [--filter EXPR] [--since TIME] [--after ID] [--limit N] [--follow] [--json]\n\nShows the event log, oldest first: the last N (default 50; 10 with --follow) events, or those after\nevent ID, that match the filter (e.g. 'severity >= warning && monitor ~ \"disk\"'; docs/EVENTS.md) since\nTIME (-1h, RFC 3339). --follow (-f) then prints events as they happen, one per line (one JSON object\nper line with --json), until Ctrl-C; it reconnects by itself and misses none, even across a restart\nof resmond.\n",
        "history": "Usage: resmon history KEY [--since DURATION] [--cf average|min|max|last] [--json]\n\nShows the archived rows of a statistic since DURATION ago (90s, 10m, 2h, 7d; default 10m), consolidated\nwith the function (default average), from the finest archive that reaches back that far, under a\nsparkline of the whole span. Counters show their rate.\n",
    ]

    public static func main(_ arguments: [String]) -> Int32 {
        let invocation: Invocation
        do {
            invocation = try parse(Array(arguments.dropFirst()))
        } catch {
            printError(error.message + " (see resmon --help)")
            return ExitCode.usage
        }
        guard let command = invocation.command else {
            print(usage)
            return invocation.help ? ExitCode.success : ExitCode.usage
        }
        if invocation.help {
            guard let help = commandHelp[command] else {
                printError("unknown command \"\(command)\" (see resmon --help)")
                return ExitCode.usage
            }
            print(help, terminator: "")
            return ExitCode.success
        }
        let client = ResmonClient(socketPath: invocation.socket)
        do {
            switch command {
            case "status": try status(client, invocation)
            case "subsystems": try subsystems(client, invocation)
            case "stats": try stats(client, invocation)
            case "get": try get(client, invocation)
            case "push": try push(client, invocation)
            case "history": try history(client, invocation)
            case "monitor": try monitor(client, invocation)
            case "events": try events(client, invocation)
            case "sinks": try sinks(client, invocation)
            case "import-perfmon": try importPerfmon(client, invocation)
            case "watch": try watch(client, invocation)
            case "version": print("resmon \(ResmonVersion.current)")
            default:
                printError("unknown command \"\(command)\" (see resmon --help)")
                return ExitCode.usage
            }
            return ExitCode.success
        } catch let error as UsageError {
            printError(error.message + " (see resmon \(command) --help)")
            return ExitCode.usage
        } catch let error as ClientError {
            printError(error.description)
            if case .unreachable = error { return ExitCode.unreachable }
            return ExitCode.failure
        } catch {
            printError("\(error)")
            return ExitCode.failure
        }
    }

    static func parse(_ arguments: [String]) throws(UsageError) -> Invocation {
        var invocation = Invocation()
        let valued: Set<String> = ["--socket", "--interval", "--count", "--where", "--kind", "--unit", "--help-text", "--since", "--cf",
                                   "--samples", "--cancel-samples", "--cancel-below", "--cancel-above", "--cancel-value", "--transform",
                                   "--severity", "--cancel-severity", "--logging-rate", "--rate", "--interval-limit", "--name", "--id",
                                   "--from-file", "--tolerance", "--after", "--limit", "--filter", "--fill", "--select", "--aggregate", "--object"]
        var index = 0
        while index < arguments.count {
            var argument = arguments[index]
            var inline: String?
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                inline = String(argument[argument.index(after: equals)...])
                argument = String(argument[..<equals])
            }
            switch argument {
            case "--json": invocation.json = true
            case "--follow", "-f": invocation.follow = true
            case "--help", "-h": invocation.help = true
            case _ where valued.contains(argument):
                var value = inline
                if value == nil {
                    index += 1
                    guard index < arguments.count else { throw UsageError(message: "\(argument) needs a value") }
                    value = arguments[index]
                }
                if argument == "--socket" { invocation.socket = value }
                else if argument == "--where", let value { invocation.conditions.append(value) }
                else { invocation.options[argument] = value }
            case "--delete": invocation.delete = true
            case "--stopped": invocation.options["--stopped"] = "true"
            case "--capture": invocation.options["--capture"] = "true"
            case "--events": invocation.options["--events"] = "true"
            case "--each": invocation.options["--each"] = "true"
            case _ where argument.hasPrefix("-") && argument.count > 1:
                throw UsageError(message: "unknown option \"\(argument)\"")
            default:
                if invocation.command == nil { invocation.command = argument } else { invocation.arguments.append(argument) }
            }
            index += 1
        }
        return invocation
    }

    // MARK: - Commands

    static func status(_ client: ResmonClient, _ invocation: Invocation) throws {
        try expectArguments(invocation, 0...0)
        let status = try client.status()
        if invocation.json { return printJSON(status) }
        var table = TextTable(header: ["resmond", "\(status.version) (pid \(status.pid)), up \(ValueFormatter.duration(status.uptimeSeconds))"])
        table.append(["socket", status.socket])
        table.append(["http", status.listen.map { "http://\($0)" } ?? "off"])
        table.append(["step", "\(ValueFormatter.number(status.stepSeconds)) s, \(status.cycles) cycles"])
        table.append(["statistics", "\(status.statistics) (\(status.subsystemsAvailable) subsystems available, \(status.subsystemsUnavailable) unavailable)"])
        table.append(["self", "cpu \(ValueFormatter.number(status.cpuSecondsTotal)) s, rss \(ValueFormatter.bytes(status.residentBytes))"
                      + (status.lastSampleCPUSeconds.map { ", last sample \(ValueFormatter.number($0 * 1000)) ms cpu" } ?? "")])
        table.append(["busy", status.busy ? "yes: refusing new monitors (\(status.busyReason ?? "over a self-limit"))" : "no"])
        table.append(["state", status.stateDirectory])
        print(table.render(), terminator: "")
    }

    static func subsystems(_ client: ResmonClient, _ invocation: Invocation) throws {
        try expectArguments(invocation, 0...0)
        let subsystems = try client.subsystems()
        if invocation.json { return printJSON(SubsystemList(subsystems: subsystems)) }
        var table = TextTable(header: ["SUBSYSTEM", "STATE", "PERIOD", "STATISTICS", "DETAIL"], rightAligned: [2, 3])
        for subsystem in subsystems {
            var detail = subsystem.reason ?? subsystem.summary
            if let error = subsystem.lastError, subsystem.reason == nil {
                detail += "; last error: \(error)" + ((subsystem.malformedLines ?? 0) > 1 ? " (\(subsystem.malformedLines!) malformed lines)" : "")
            }
            table.append([subsystem.name, subsystem.state, ValueFormatter.number(subsystem.periodSeconds) + " s",
                          String(subsystem.statistics), detail])
        }
        print(table.render(), terminator: "")
    }

    static func stats(_ client: ResmonClient, _ invocation: Invocation) throws {
        try expectArguments(invocation, 0...1)
        let statistics = try client.statistics(matching: invocation.arguments.first, where: invocation.conditions)
        if invocation.json { return printJSON(StatisticList(statistics: statistics)) }
        print(statisticsTable(statistics), terminator: "")
    }

    static func statisticsTable(_ statistics: [StatisticInfo]) -> String {
        var table = TextTable(header: ["KEY", "VALUE", "KIND"], rightAligned: [1])
        for statistic in statistics {
            table.append([statistic.key, ValueFormatter.format(statistic), statistic.kind])
        }
        return table.render()
    }

    static func get(_ client: ResmonClient, _ invocation: Invocation) throws {
        try expectArguments(invocation, 1...Int.max)
        let statistics = try invocation.arguments.map { key throws(ClientError) in try client.statistic(key) }
        if invocation.json {
            return statistics.count == 1 ? printJSON(statistics[0]) : printJSON(StatisticList(statistics: statistics))
        }
        for (index, statistic) in statistics.enumerated() {
            if index > 0 { print() }
            var table = TextTable(header: ["key", statistic.key])
            table.append(["value", ValueFormatter.format(statistic)])
            if statistic.kind == "counter" {
                table.append(["total", ValueFormatter.format(statistic.total, unit: statistic.unit)])
                table.append(["increase", ValueFormatter.format(statistic.increase, unit: statistic.unit)])
            }
            table.append(["kind", statistic.kind])
            table.append(["unit", statistic.unit])
            table.append(["resolution", ValueFormatter.number(statistic.resolution)])
            table.append(["upper bound", statistic.upperBound.map { ValueFormatter.format($0, unit: statistic.unit) } ?? "none"])
            table.append(["labels", statistic.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: " ")])
            table.append(["time", statistic.time.map(formatTime) ?? "never"])
            table.append(["help", statistic.help])
            print(table.render(), terminator: "")
        }
    }

    static func push(_ client: ResmonClient, _ invocation: Invocation) throws {
        if invocation.delete {
            try expectArguments(invocation, 1...1)
            try client.removePushed(invocation.arguments[0])
            return
        }
        try expectArguments(invocation, 2...2)
        guard let value = Double(invocation.arguments[1]), value.isFinite else {
            throw UsageError(message: "VALUE: expected a number, got \"\(invocation.arguments[1])\"")
        }
        let statistic = try client.push(invocation.arguments[0], value: value, kind: invocation.options["--kind"] ?? "gauge",
                                        unit: invocation.options["--unit"] ?? "", help: invocation.options["--help-text"])
        if invocation.json { return printJSON(statistic) }
        print("\(statistic.key) = \(ValueFormatter.format(statistic))")
    }

    static func monitor(_ client: ResmonClient, _ invocation: Invocation) throws {
        guard let verb = invocation.arguments.first else { throw UsageError(message: "monitor needs a command: create, list, show, start, stop, pause, resume, reset, reset-notification, delete") }
        var rest = invocation
        rest.arguments = Array(invocation.arguments.dropFirst())
        switch verb {
        case "create":
            if rest.options["--cf"] != nil { throw UsageError(message: "--cf applies to monitor test only") }
            let specs = try monitorSpecs(rest)
            let created = try client.createMonitors(specs)
            if invocation.json { return printJSON(MonitorList(monitors: created)) }
            for monitor in created { print("created \(monitor.id): \(monitor.spec.name ?? "")") }
        case "test":
            let specs = try monitorSpecs(rest)
            guard specs.count == 1 else { throw UsageError(message: "monitor test replays one spec") }
            let since = rest.options["--since"].map { text in duration(text).map { "-\($0)" } ?? text } ?? "-6h"
            // Default: resmond replays the function that cannot miss a raise (MAX for above, MIN for below).
            let functions = ["average": "AVERAGE", "avg": "AVERAGE", "min": "MIN", "max": "MAX", "last": "LAST"]
            let function = try rest.options["--cf"].map { text throws(UsageError) -> String in
                guard let name = functions[text.lowercased()] else {
                    throw UsageError(message: "--cf: expected average, min, max or last, got \"\(text)\"")
                }
                return name
            }
            let result = try client.backtest(specs[0], since: since, cf: function)
            if invocation.json { return printJSON(result) }
            let archives = (result.archives ?? [result.step]).map { ValueFormatter.duration(Double($0)) }.joined(separator: ", ")
            print("replayed \(result.readings) readings every \(ValueFormatter.duration(Double(result.step))) from the \(result.cf ?? "") archives with \(archives) rows, from \(formatTime(Double(result.start))) to \(formatTime(Double(result.end))) of \(result.statistics.joined(separator: ", "))")
            if let samples = result.samples, let rate = result.monitorRate, let spec = specs.first, spec.type == nil || spec.type == "threshold" {
                let readings = spec.samples ?? 1
                print("samples: \(readings) readings × \(ValueFormatter.number(rate)) s = \(ValueFormatter.duration(Double(readings) * rate)), replayed as \(samples) reading\(samples == 1 ? "" : "s") \(ValueFormatter.duration(Double(result.step))) apart")
            }
            var table = TextTable(header: ["TIME", "EVENT", "VALUE", "MESSAGE"])
            var raisedSince: Double?
            var raisedTotal = 0.0
            for event in result.events {
                table.append([formatTime(event.time), event.type, event.value.map(ValueFormatter.number) ?? "", event.message])
                if event.type == "canceled" {
                    if let since = raisedSince { raisedTotal += event.time - since }
                    raisedSince = nil
                } else if raisedSince == nil && event.type != "watermark" && event.type != "resourceConfigurationChange" {
                    raisedSince = event.time
                }
            }
            if let since = raisedSince { raisedTotal += Double(result.end) - since }
            if result.events.isEmpty { print("it would not have raised") } else { print(table.render(), terminator: "") }
            let raises = result.events.filter { $0.type != "canceled" && $0.type != "watermark" }.count
            if raises > 0 { print("it would have raised \(raises) times, raised for \(Int(raisedTotal)) s in all") }
        case "list":
            guard rest.arguments.isEmpty else { throw UsageError(message: "monitor list takes no arguments") }
            let monitors = try client.monitors()
            if invocation.json { return printJSON(MonitorList(monitors: monitors)) }
            var table = TextTable(header: ["ID", "NAME", "STATE", "LAST VALUE", "RUNNING"])
            for monitor in monitors {
                table.append([monitor.id, monitor.spec.name ?? "", monitor.state.phase + (monitor.state.paused ? " (paused)" : ""),
                              monitor.state.lastValue.map(ValueFormatter.number) ?? "unknown", monitor.state.running ? "yes" : "no"])
            }
            print(table.render(), terminator: "")
        case "show", "start", "stop", "pause", "resume", "reset", "reset-notification", "delete":
            guard rest.arguments.count == 1 else { throw UsageError(message: "monitor \(verb) needs one monitor id") }
            let id = rest.arguments[0]
            let monitor: MonitorInfo
            switch verb {
            case "show": monitor = try client.monitor(id)
            case "delete":
                try client.deleteMonitor(id)
                if !invocation.json { print("deleted \(id)") }
                return
            default: monitor = try client.perform(verb, monitor: id)
            }
            if invocation.json { return printJSON(monitor) }
            var table = TextTable(header: ["id", monitor.id])
            table.append(["name", monitor.spec.name ?? ""])
            table.append(["target", monitor.spec.target.description + (monitor.spec.transform.map { $0 == "none" ? "" : " (\($0))" } ?? "")])
            if let template = monitor.spec.template { table.append(["template", template]) }
            switch monitor.spec.type ?? "threshold" {
            case "watermark":
                table.append(["watermark", "\(monitor.spec.mark ?? "high"): " + (monitor.state.watermark.map(ValueFormatter.number) ?? "none yet")
                              + (monitor.state.watermarkTime.map { " at \(formatTime($0))" } ?? "")])
            case "leakyBucket":
                table.append(["bucket", "level \(monitor.state.level.map(ValueFormatter.number) ?? "?") of \(ValueFormatter.number(monitor.spec.bucketSize ?? 0)), refilled by \(ValueFormatter.number(monitor.spec.fillValue ?? 0)) per period"])
            default:
                table.append(["condition", "\(monitor.spec.condition ?? "") \(ValueFormatter.number(monitor.spec.value ?? 0)), \(monitor.spec.samples ?? 1) samples"
                              + (monitor.spec.cancelValue.map { ", cancel past \(ValueFormatter.number($0))" } ?? "")])
            }
            table.append(["state", monitor.state.phase + (monitor.state.count > 0 ? " (\(monitor.state.count))" : "")
                          + (monitor.state.running ? "" : ", stopped") + (monitor.state.paused ? ", paused" : "")])
            table.append(["last value", monitor.state.lastValue.map(ValueFormatter.number) ?? "unknown"])
            table.append(["severity", "\(monitor.spec.severity ?? "warning"), cancel \(monitor.spec.cancelSeverity ?? "notice")"])
            print(table.render(), terminator: "")
        default:
            throw UsageError(message: "unknown monitor command \"\(verb)\"")
        }
    }

    /// The specs of `monitor create`: from a file, or from KEY CONDITION VALUE and options.
    static func monitorSpecs(_ invocation: Invocation) throws -> [MonitorSpec] {
        let options = invocation.options
        if let file = options["--from-file"] {
            guard invocation.arguments.isEmpty else { throw UsageError(message: "--from-file takes no KEY CONDITION VALUE") }
            guard let data = FileManagerless.read(file) else { throw UsageError(message: "--from-file: cannot read \(file)") }
            do {
                if data.first(where: { $0 != 0x20 && $0 != 0x0a && $0 != 0x09 }) == UInt8(ascii: "[") {
                    return try JSONDecoder().decode([MonitorSpec].self, from: Data(data))
                }
                return [try JSONDecoder().decode(MonitorSpec.self, from: Data(data))]
            } catch {
                throw UsageError(message: "--from-file: \(file) is not a monitor spec: \(error)")
            }
        }
        // The target: KEY, or --select REGEX [--where LABEL~REGEX]... with --aggregate F or --each.
        let target: MonitorTarget
        var arguments = invocation.arguments
        if let select = options["--select"] {
            var labels: [String: String] = [:]
            for condition in invocation.conditions {
                guard let split = condition.firstIndex(where: { $0 == "=" || $0 == "~" }) else {
                    throw UsageError(message: "--where \(condition): expected LABEL=VALUE or LABEL~REGEX")
                }
                let value = String(condition[condition.index(after: split)...])
                labels[String(condition[..<split])] = condition[split] == "~" ? value : "^" + escapeRegex(value) + "$"
            }
            let each = options["--each"] != nil
            guard each || options["--aggregate"] != nil else { throw UsageError(message: "--select needs --aggregate sum|average|min|max|count, or --each") }
            target = .selection(MonitorSelection(select: select, where: labels.isEmpty ? nil : labels,
                                                 aggregate: options["--aggregate"], each: each ? true : nil))
            guard arguments.count == 2 else { throw UsageError(message: "monitor create --select … needs CONDITION VALUE (no KEY)") }
        } else {
            guard arguments.count == 3 else { throw UsageError(message: "monitor create needs KEY CONDITION VALUE") }
            target = .key(arguments.removeFirst())
        }
        var spec: MonitorSpec
        switch arguments[0] {
        case "watermark":
            spec = MonitorSpec(target: target, type: "watermark")
            spec.mark = arguments[1]
            if options["--events"] != nil { spec.events = true }
        case "leaky-bucket", "leakyBucket":
            guard let size = Double(arguments[1]) else { throw UsageError(message: "SIZE: expected a number, got \"\(arguments[1])\"") }
            guard let fill = options["--fill"].flatMap(Double.init) else { throw UsageError(message: "a leaky bucket needs --fill F (a number)") }
            spec = MonitorSpec(target: target, type: "leakyBucket")
            spec.bucketSize = size
            spec.fillValue = fill
        default:
            guard let value = Double(arguments[1]) else { throw UsageError(message: "VALUE: expected a number, got \"\(arguments[1])\"") }
            spec = MonitorSpec(target: target, condition: arguments[0], value: value)
        }
        func number(_ name: String) throws -> Double? {
            guard let text = options[name] else { return nil }
            guard let value = Double(text) else { throw UsageError(message: "\(name): expected a number, got \"\(text)\"") }
            return value
        }
        func whole(_ name: String) throws -> Int? {
            guard let text = options[name] else { return nil }
            guard let value = Int(text) else { throw UsageError(message: "\(name): expected a whole number, got \"\(text)\"") }
            return value
        }
        spec.samples = try whole("--samples")
        spec.cancelSamples = try whole("--cancel-samples")
        spec.cancelValue = try number("--cancel-below") ?? number("--cancel-above") ?? number("--cancel-value")
        spec.tolerance = try number("--tolerance")
        spec.transform = options["--transform"]
        spec.severity = options["--severity"]
        spec.cancelSeverity = options["--cancel-severity"]
        spec.loggingRate = try number("--logging-rate")
        spec.monitoringRate = try number("--rate")
        spec.monitoringInterval = try number("--interval-limit")
        spec.name = options["--name"]
        spec.id = options["--id"]
        if options["--stopped"] != nil { spec.start = false }
        if options["--capture"] != nil { spec.dataCapture = true }
        return [spec]
    }

    /// A literal as a POSIX extended regular expression.
    static func escapeRegex(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if "\\^$.|?*+()[]{}".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }

    static func events(_ client: ResmonClient, _ invocation: Invocation) throws {
        try expectArguments(invocation, 0...0)
        let limit = try invocation.options["--limit"].map { text -> Int in
            guard let value = Int(text), (1...10_000).contains(value) else { throw UsageError(message: "--limit: expected 1 to 10000") }
            return value
        } ?? (invocation.follow ? 10 : 50)
        let filter = invocation.options["--filter"]
        let since = invocation.options["--since"].map { text in duration(text).map { "-\($0)" } ?? text }
        let list: EventList
        if let text = invocation.options["--after"] {
            guard let after = Int64(text), after >= 0 else { throw UsageError(message: "--after: expected an event id") }
            list = try client.events(after: after, limit: limit, filter: filter, since: since)
        } else {
            // The last `limit` matching events, shown oldest first.
            let newest = try client.events(limit: limit, filter: filter, since: since, newestFirst: true)
            list = EventList(events: newest.events.reversed(), next: newest.events.first?.id ?? 0)
        }
        if invocation.follow { return try follow(client, invocation, shown: list, filter: filter) }
        if invocation.json { return printJSON(list) }
        var table = TextTable(header: ["ID", "TIME", "SEVERITY", "TYPE", "MONITOR", "MESSAGE"])
        for event in list.events {
            table.append([String(event.id), formatTime(event.time), event.severity, "\(event.type) (\(event.code))",
                          event.monitorName ?? event.monitorId ?? "", event.message])
        }
        print(table.render(), terminator: "")
    }

    /// `events --follow`: what was shown, then every later event as it is logged, a line each.
    static func follow(_ client: ResmonClient, _ invocation: Invocation, shown list: EventList, filter: String?) throws {
        func show(_ event: EventRecord) {
            if invocation.json {
                printJSON(event, pretty: false)
            } else {
                print([String(event.id), formatTime(event.time), event.severity, "\(event.type) (\(event.code))",
                       event.monitorName ?? event.monitorId ?? "-", event.message].joined(separator: "  "))
            }
            fflush(nil) // a line as soon as it happens, also into a pipe
        }
        list.events.forEach(show)
        // Resume after the last event shown; with none shown, after the newest in the log.
        var after = list.events.last?.id
        if after == nil { after = try client.events(limit: 1, newestFirst: true).events.first?.id ?? 0 }
        try client.followEvents(after: after, filter: filter, onEvent: { event in
            show(event)
            return true
        }, onReconnect: { reason in printError("reconnecting: \(reason)") })
    }

    static func importPerfmon(_ client: ResmonClient, _ invocation: Invocation) throws {
        try expectArguments(invocation, 1...1)
        guard let object = invocation.options["--object"] else { throw UsageError(message: "--object host or cgroup:/PATH is required") }
        let file = invocation.arguments[0]
        let bytes: [UInt8]
        if file == "-" {
            var input: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while case let count = Glibc.read(0, &chunk, chunk.count), count > 0 { input += chunk[0..<count] }
            bytes = input
        } else {
            guard let read = FileManagerless.read(file) else { throw UsageError(message: "cannot read \(file)") }
            bytes = read
        }
        let created = try client.importPerfmon(xml: bytes, object: object)
        if invocation.json { return printJSON(MonitorList(monitors: created)) }
        var table = TextTable(header: ["ID", "NAME", "TARGET", "CONDITION"])
        for monitor in created {
            table.append([monitor.id, monitor.spec.name ?? "", monitor.spec.target.description,
                          "\(monitor.spec.condition ?? "") \(ValueFormatter.number(monitor.spec.value ?? 0)), \(monitor.spec.samples ?? 1) samples"])
        }
        print(table.render(), terminator: "")
    }

    static func sinks(_ client: ResmonClient, _ invocation: Invocation) throws {
        try expectArguments(invocation, 0...0)
        let sinks = try client.sinks()
        if invocation.json { return printJSON(SinkList(sinks: sinks)) }
        var table = TextTable(header: ["NAME", "TYPE", "AFTER", "DELIVERED", "REJECTED", "RETRIES", "LAST ERROR"])
        for sink in sinks {
            table.append([sink.name, sink.type, String(sink.after), String(sink.delivered), String(sink.rejected),
                          String(sink.retries), sink.lastError ?? ""])
        }
        print(table.render(), terminator: "")
    }

    /// `90`, `90s`, `10m`, `2h`, `7d` in seconds.
    static func duration(_ text: String) -> Int? {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800]
        if let unit = text.last.flatMap({ units[$0] }), let number = Int(text.dropLast()), number > 0 { return number * unit }
        if let number = Int(text), number > 0 { return number }
        return nil
    }

    static func history(_ client: ResmonClient, _ invocation: Invocation) throws {
        try expectArguments(invocation, 1...1)
        var since = 600
        if let text = invocation.options["--since"] {
            guard let seconds = duration(text) else { throw UsageError(message: "--since: expected a duration such as 90s, 10m, 2h, 7d, got \"\(text)\"") }
            since = seconds
        }
        let function = invocation.options["--cf"] ?? "average"
        guard ["average", "avg", "min", "max", "last"].contains(function.lowercased()) else {
            throw UsageError(message: "--cf: expected average, min, max or last, got \"\(function)\"")
        }
        let history = try client.history(invocation.arguments[0], function: function.uppercased(), start: -since)
        if invocation.json { return printJSON(history) }
        let statistic = try? client.statistic(invocation.arguments[0])
        let perSecond = statistic?.kind == "counter"
        print("\(history.key) \(history.cf) every \(ValueFormatter.duration(Double(history.step))), \(history.rows.count) rows")
        print(sparkline(history.rows.map(\.v)))
        var table = TextTable(header: ["TIME", "VALUE"], rightAligned: [1])
        for row in history.rows {
            table.append([formatTime(Double(row.t)), ValueFormatter.format(row.v, unit: history.unit, perSecond: perSecond)])
        }
        print(table.render(), terminator: "")
    }

    /// One character per value, ▁ to █ between the smallest and largest; a space when unknown.
    static func sparkline(_ values: [Double?]) -> String {
        let bars = Array("▁▂▃▄▅▆▇█")
        let known = values.compactMap { $0 }
        guard let low = known.min(), let high = known.max() else { return String(repeating: " ", count: values.count) }
        return String(values.map { value -> Character in
            guard let value else { return " " }
            if high == low { return bars[3] }
            return bars[min(bars.count - 1, Int((value - low) / (high - low) * Double(bars.count - 1) + 0.5))]
        })
    }

    static func watch(_ client: ResmonClient, _ invocation: Invocation) throws {
        try expectArguments(invocation, 1...Int.max)
        var interval: Double
        if let text = invocation.options["--interval"] {
            guard let value = Double(text), value >= 0.1, value <= 3600 else {
                throw UsageError(message: "--interval: expected seconds from 0.1 to 3600, got \"\(text)\"")
            }
            interval = value
        } else {
            interval = try client.status().stepSeconds
        }
        var remaining: Int?
        if let text = invocation.options["--count"] {
            guard let count = Int(text), count >= 1 else { throw UsageError(message: "--count: expected a positive whole number, got \"\(text)\"") }
            remaining = count
        }
        let terminal = isatty(1) == 1
        while true {
            let statistics = try invocation.arguments.map { key throws(ClientError) in try client.statistic(key) }
            if invocation.json {
                printJSON(StatisticList(statistics: statistics), pretty: false)
            } else {
                let body = formatTime(Clock.now()) + "\n" + statisticsTable(statistics)
                // Home the cursor and clear the screen, so the table refreshes in place.
                print(terminal ? "\u{1B}[H\u{1B}[2J" + body : body, terminator: terminal ? "" : "\n")
            }
            fflushStandardOutput()
            if let count = remaining {
                remaining = count - 1
                if count - 1 == 0 { return }
            }
            usleep(UInt32(interval * 1_000_000))
        }
    }

    // MARK: - Helpers

    static func expectArguments(_ invocation: Invocation, _ range: ClosedRange<Int>) throws(UsageError) {
        let count = invocation.arguments.count
        guard range.contains(count) else {
            if range.upperBound == 0 { throw UsageError(message: "\(invocation.command ?? "") takes no arguments") }
            if count < range.lowerBound { throw UsageError(message: "\(invocation.command ?? "") needs a statistic key") }
            throw UsageError(message: "too many arguments")
        }
        let allowed: [String: Set<String>] = ["watch": ["--interval", "--count"], "push": ["--kind", "--unit", "--help-text"],
                                              "history": ["--since", "--cf"], "events": ["--after", "--limit", "--filter", "--since"],
                                              "import-perfmon": ["--object"],
                                              "monitor": ["--samples", "--cancel-samples", "--cancel-below", "--cancel-above", "--cancel-value",
                                                          "--transform", "--severity", "--cancel-severity", "--logging-rate", "--rate",
                                                          "--interval-limit", "--name", "--id", "--from-file", "--tolerance", "--stopped", "--capture",
                                                          "--fill", "--events", "--select", "--aggregate", "--each", "--since"]]
        if let option = invocation.options.keys.first(where: { !(allowed[invocation.command ?? ""] ?? []).contains($0) }) {
            throw UsageError(message: "\(option) does not apply to \(invocation.command ?? "this command")")
        }
        if !invocation.conditions.isEmpty && invocation.command != "stats" && invocation.command != "monitor" {
            throw UsageError(message: "--where applies to stats and monitor create --select only")
        }
        if invocation.delete && invocation.command != "push" {
            throw UsageError(message: "--delete applies to push only")
        }
    }

    static func printJSON<Body: Encodable>(_ body: Body, pretty: Bool = true) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(body) { print(String(decoding: data, as: UTF8.self)) }
    }

    static func printError(_ message: String) {
        let line = Array(("resmon: " + message + "\n").utf8)
        _ = line.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }

    static func fflushStandardOutput() {
        fflush(nil)
    }

    static func formatTime(_ epoch: Double) -> String {
        var seconds = time_t(epoch)
        var parts = tm()
        localtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }
}

/// Reads a small file without Foundation's FileManager.
enum FileManagerless {
    static func read(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count == 0 { break }
            bytes += chunk[0..<count]
            if bytes.count > 64 << 20 { return nil }
        }
        return bytes
    }
}

enum Clock {
    static func now() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
