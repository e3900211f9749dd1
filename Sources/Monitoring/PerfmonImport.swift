import FoundationEssentials
import ResmonAPI
import ResmonSystem
import Statistics

/// A perfmon configuration (XenServer's `other-config:perfmon`) turned into resmon monitors:
/// `<config><variable><name value="cpu_usage"/><alarm_trigger_level value="0.5"/></variable></config>`.
/// Each variable maps to a monitor on the host or on a cgroup (perfmon's VMs), with perfmon's
/// defaults per variable (docs/MONITORS.md). Unlike perfmon, raised alarms are also cleared.
public enum PerfmonImport {
    public enum Object: Sendable, Equatable {
        case host
        case cgroup(String)

        /// `host` or `cgroup:/path`.
        public init?(parsing text: String) {
            if text == "host" { self = .host; return }
            guard text.hasPrefix("cgroup:/"), !text.contains(where: \.isNewline) else { return nil }
            self = .cgroup(String(text.dropFirst("cgroup:".count)))
        }

        /// `host` or `cgroup:/path`, as parsed: the `perfmon_object` label of its monitors.
        public var text: String {
            switch self {
            case .host: "host"
            case .cgroup(let path): "cgroup:" + path
            }
        }
    }

    public struct ImportError: Error, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
        init(_ message: String) { self.message = message }
    }

    static let tags: Set<String> = [
        "name", "alarm_trigger_level", "alarm_trigger_period", "alarm_auto_inhibit_period",
        "alarm_trigger_sense", "alarm_priority", "consolidation_fn", "rrd_regex"
    ]

    /// One perfmon variable as resmon takes it: the monitor, the statistics it reads now, and a
    /// warning when it reads none (or when resmon does not use part of its configuration).
    public struct Variable: Sendable {
        public let name: String
        public var spec: MonitorSpec
        public var statistics: [String]
        public var warning: String?
    }

    /// The monitors a perfmon document asks for (see `variables`).
    public static func specs(xml: [UInt8], object: Object, step: Double, table: SampleTable) throws(ImportError) -> [MonitorSpec] {
        try variables(xml: xml, object: object, step: step, table: table).map(\.spec)
    }

    /// The variables of a perfmon document, each with its monitor. `step` is resmond's base step
    /// (readings per trigger period); `table` tells which statistics exist now (whether /var/log
    /// is a file system of its own, what an `rrd_regex` finds).
    public static func variables(xml: [UInt8], object: Object, step: Double, table: SampleTable) throws(ImportError) -> [Variable] {
        let root: XMLElement
        do {
            root = try XMLElement.parse(xml)
        } catch {
            throw ImportError("perfmon XML: \(error.description)")
        }
        guard root.name == "config" else { throw ImportError("perfmon XML: the root element is <\(root.name)>, expected <config>") }
        var variables: [Variable] = []
        var names = Set<String>()
        for variable in root.children where variable.name == "variable" {
            var values: [String: String] = [:]
            for child in variable.children where tags.contains(child.name) {
                guard let value = child.attributes["value"] else {
                    throw ImportError("perfmon XML: <\(child.name)> needs a value attribute")
                }
                values[child.name] = value
            }
            guard let name = values["name"], !name.isEmpty else { throw ImportError("perfmon XML: a <variable> has no <name value=\"…\"/>") }
            guard names.insert(name).inserted else { throw ImportError("variable \(name): given twice") }
            if let found = try self.variable(name: name, values: values, object: object, step: step, table: table) {
                // Names are sanitised into the id ("a.b" and "a_b" both give a_b): refused, never one replacing the other.
                if let other = variables.first(where: { $0.spec.id == found.spec.id }) {
                    throw ImportError("variables \(other.name) and \(name) both make monitor \(found.spec.id ?? ""): rename one")
                }
                variables.append(found)
            }
        }
        guard !variables.isEmpty else { throw ImportError("perfmon XML: no <variable> that resmon can monitor here") }
        return variables
    }

    /// perfmon's consolidation functions (`supported_consolidation_functions`) and `min`.
    static let consolidations: Set<String> = ["sum", "average", "max", "min", "get_percent_fs_usage"]

    /// Host keys that have xapi names (`XapiDataSources`): what a host `rrd_regex` is searched over.
    static let hostFamilies = "^(cpu|memory|load|net):"

    private static func variable(
        name: String, values: [String: String], object: Object, step: Double,
        table: SampleTable
    ) throws(ImportError) -> Variable? {
        func number(_ tag: String, _ fallback: Double?) throws(ImportError) -> Double {
            guard let text = values[tag] else {
                guard let fallback else { throw ImportError("variable \(name): \(tag) has no default; give one") }
                return fallback
            }
            guard let value = Double(text), value.isFinite else { throw ImportError("variable \(name): \(tag) \"\(text)\" is not a number") }
            return value
        }
        let scope = PerfmonImport.scope(object)
        let consolidation = values["consolidation_fn"]
        if let consolidation, !consolidations.contains(consolidation) {
            throw ImportError("variable \(name): consolidation_fn \"\(consolidation)\" is not supported (sum, average, max, min or get_percent_fs_usage)")
        }
        // perfmon averages cpu_usage and sums everything else unless told.
        let function = consolidation ?? (name == "cpu_usage" ? "average" : "sum")
        var target: MonitorTarget
        var level: Double?
        var sense = "high"
        var inhibit = 3600.0
        var transform: ResmonAPI.Transform?
        var scale = 1.0
        var warning: String?
        if consolidation == "get_percent_fs_usage" || (name == "fs_usage" && values["rrd_regex"] == nil) {
            // perfmon's `df /etc/passwd`: the root file system, whatever the object (a VM's
            // fs_usage is dom0's too); it reads no data source, so an rrd_regex is not used.
            target = .key("fs:/:used_ratio")
            if name == "fs_usage" {
                level = 0.9
                inhibit = 604_800
            }
            if values["rrd_regex"] != nil {
                warning = "rrd_regex is not used with consolidation_fn get_percent_fs_usage (as in perfmon): the root file system's used ratio is"
            }
        } else if let regex = values["rrd_regex"] {
            guard regex.utf8.count <= BoundedRegex.maximumPatternBytes else {
                throw ImportError("variable \(name): rrd_regex is longer than \(BoundedRegex.maximumPatternBytes) bytes")
            }
            do {
                _ = try BoundedRegex.shared(regex, holder: .root)
            } catch {
                throw ImportError("variable \(name): rrd_regex \"\(regex)\" does not compile: \(error.reason)")
            }
            // Searched over the xapi names /rrd_updates serves for the object, as perfmon searches
            // them; a regex with a ':' can only mean resmon's keys, and is searched over those.
            if regex.contains(":") {
                target = .selection(MonitorSelection(select: regex, aggregate: function))
            } else {
                let select: String
                switch object {
                case .host: select = hostFamilies
                case .cgroup(let path): select = "^cgroup:\(escape(path)):"
                }
                target = .selection(MonitorSelection(select: select, where: ["xapi_name": regex], aggregate: function))
            }
            if name == "memory_free_kib" { sense = "low" }
        } else {
            switch (name, object) {
            case ("cpu_usage", .host):
                target = .selection(MonitorSelection(select: "^cpu:cpu[0-9]+:usage_ratio$", aggregate: function))
            case ("cpu_usage", .cgroup(let path)):
                target = .key("cgroup:\(path):cpu_ratio")
            case ("network_usage", .host):
                target = .selection(
                    MonitorSelection(
                        select: "^net:[^:]+:(receive|transmit)_bytes_total$", where: ["physical": "^true$"],
                        aggregate: function))
            case ("network_usage", .cgroup(let path)):
                // A container's own network namespace (docs/STATISTICS.md); in the host's, no members.
                target = .selection(MonitorSelection(select: "^cgroup:\(escape(path)):network_(receive|transmit)_bytes_total$", aggregate: function))
            case ("disk_usage", .host):
                target = .selection(MonitorSelection(select: "^disk:[^:]+:(read|written)_bytes_total$", aggregate: function))
            case ("disk_usage", .cgroup(let path)):
                target = .selection(MonitorSelection(select: "^cgroup:\(escape(path)):(read|written)_bytes_total$", aggregate: function))
            case ("log_fs_usage", .host):
                // Only when /var/log is a file system of its own.
                guard table.sample(forKey: "fs:/var/log:used_ratio") != nil else { return nil }
                target = .key("fs:/var/log:used_ratio")
                level = 0.9
                inhibit = 604_800
            case ("mem_usage", .host):
                target = .key("memory:host:used_ratio")
                level = 0.95
            case ("mem_usage", .cgroup(let path)):
                target = .key("cgroup:\(path):memory_bytes")
                transform = "percent"
                scale = 100
                level = 0.95
            case ("memory_free_kib", .host):
                target = .key("memory:host:available_bytes")
                sense = "low"
                scale = 1024
            default:
                throw ImportError(
                    "variable \(name): resmon has no equivalent for \(object == .host ? "the host" : "a cgroup") (known: cpu_usage, network_usage, disk_usage, fs_usage, log_fs_usage, mem_usage, memory_free_kib); give an rrd_regex over the data-source names /rrd_updates serves (cpu0, pif_eth0_rx, memory), or over resmon statistic keys (with a ':')"
                )
            }
        }
        // What the target reads now; an rrd_regex that does not compile is refused here.
        var statistics: [String] = []
        switch target {
        case .key(let key):
            if table.sample(forKey: key) != nil { statistics = [key] }
        case .selection(let selection):
            let selector: Selector
            do {
                selector = try Selector(match: selection.select, labels: selection.where ?? [:], holder: .root)
            } catch {
                throw ImportError("variable \(name): rrd_regex \"\(values["rrd_regex"] ?? selection.select)\" does not compile: \(error.message)")
            }
            let selected = table.handles(selectedBy: selector).map(\.descriptor.key)
            statistics = selected.map(\.text).sorted()
            // xapi's *_kib data sources are in KiB: a level over them only is one too.
            let xapi = selected.flatMap { XapiDataSources.names(for: $0) }
            if name != "memory_free_kib", values["rrd_regex"] != nil, !xapi.isEmpty, xapi.allSatisfy({ $0.name.hasSuffix("_kib") }) { scale = 1024 }
            if name == "memory_free_kib" && values["rrd_regex"] != nil { scale = 1024 }
        }
        if statistics.isEmpty && warning == nil {
            if let regex = values["rrd_regex"] {
                warning =
                    "rrd_regex \"\(regex)\" matches no \(regex.contains(":") ? "statistic key" : "data source of \(object == .host ? "the host" : "the cgroup") (the names /rrd_updates serves, such as cpu0, memory, pif_eth0_rx)") now: the monitor stays unknown until one appears"
            } else {
                warning = "\(target.description) matches no statistic now: the monitor stays unknown until one appears"
            }
        }
        let trigger = try number("alarm_trigger_level", level)
        let period = try number("alarm_trigger_period", 60)
        inhibit = try number("alarm_auto_inhibit_period", inhibit)
        for (tag, seconds) in [("alarm_trigger_period", period), ("alarm_auto_inhibit_period", inhibit)] where seconds < 0 {
            throw ImportError("variable \(name): \(tag) \(values[tag] ?? "") is negative")
        }
        // The inhibit period becomes loggingRate, bounded as the API bounds it.
        guard MonitorDefinition.durations.contains(inhibit) else {
            throw ImportError(
                "variable \(name): alarm_auto_inhibit_period \(values["alarm_auto_inhibit_period"] ?? "") is longer than \(Int(MonitorDefinition.durations.upperBound)) s (a year)"
            )
        }
        // The period becomes a sample count: checked before it is turned into an Int (1e300 trapped).
        let mostSamples = MonitorDefinition.sampleCounts.upperBound
        guard let samples = InputNumber.integer(truncating: (period / step).rounded(.up), in: 0...mostSamples) else {
            throw ImportError(
                "variable \(name): alarm_trigger_period \(values["alarm_trigger_period"] ?? "") is longer than \(mostSamples) samples of \(Int(step)) s")
        }
        sense = values["alarm_trigger_sense"] ?? sense
        guard sense == "high" || sense == "low" else { throw ImportError("variable \(name): alarm_trigger_sense is high or low, not \"\(sense)\"") }
        let priority = values["alarm_priority"] ?? "5"
        let severities: [String: Severity] = ["1": .crit, "2": .err, "3": .warning, "4": .notice, "5": .info]
        guard let severity = severities[priority] else { throw ImportError("variable \(name): alarm_priority is 1 to 5, not \"\(priority)\"") }

        var spec = MonitorSpec(target: target, condition: sense == "high" ? .above : .below, value: trigger * scale)
        spec.id = monitorID(scope: scope, variable: name)
        spec.name = "perfmon \(name)" + (object == .host ? "" : " of \(object.text)")
        spec.transform = transform
        spec.samples = max(1, samples)
        spec.loggingRate = inhibit
        spec.severity = severity
        spec.labels = ["perfmon_variable": name, "perfmon_object": object.text]
        return Variable(name: name, spec: spec, statistics: statistics, warning: warning)
    }

    /// `host`, or `cgroup` and the path escaped one to one: ASCII letters and digits kept, `/`
    /// as `_`, every other byte as `-` and two hex digits (`/machine.slice` →
    /// `cgroup_machine-2eslice`), so that two paths never share an id (`/atk.x` and `/atk_x`
    /// once both gave `cgroup_atk_x`, and one import replaced the other's monitors). Past 40
    /// characters, the first 30 and `--` and a hash of the path (FNV-1a); the import refuses
    /// monitors of the scope that carry another object's `perfmon_object` label.
    static func scope(_ object: Object) -> String {
        guard case .cgroup(let path) = object else { return "host" }
        var escaped = "cgroup"
        for byte in path.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                escaped.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/"): escaped += "_"
            default: escaped += "-" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
            }
        }
        guard escaped.utf8.count > 40 else { return escaped }
        var hash: UInt32 = 2_166_136_261
        for byte in path.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        let hex = String(hash, radix: 16)
        return String(escaped.prefix(30)) + "--" + String(repeating: "0", count: 8 - hex.count) + hex
    }

    static func monitorID(scope: String, variable: String) -> String {
        String(("perfmon.\(scope)." + String(variable.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })).prefix(64))
    }

    private static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if "\\^$.|?*+()[]{}".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}

extension MonitorEngine {
    /// Applies a perfmon configuration for one object as perfmon's refresh does: a variable
    /// whose monitor is unchanged keeps its state, a changed one is replaced (starting afresh; a
    /// raised one is cancelled first), a new one is created, and the monitors of an earlier
    /// import for the object whose variables are gone are deleted. Every monitor is validated
    /// before anything changes. Only root imports: the ids (`perfmon.…`) have a dot.
    public func importPerfmon(
        _ variables: [PerfmonImport.Variable], object: PerfmonImport.Object,
        caller: Int
    ) throws(MonitorError) -> PerfmonImportResponse {
        let prefix = "perfmon.\(PerfmonImport.scope(object))."
        if caller != 0 {
            throw MonitorError(
                kind: .forbidden, message: "a perfmon import makes monitors \(prefix)…, and ids with a dot belong to root's configuration: import as root")
        }
        let wanted = Set(variables.compactMap(\.spec.id))
        var existing: [String: MonitorInfo] = [:]
        for monitor in list() where monitor.id.hasPrefix(prefix) && monitor.spec.labels?["perfmon_variable"] != nil {
            // Another object's monitors under the same ids (a hash shared by two long paths):
            // refused, never replaced.
            if let other = monitor.spec.labels?["perfmon_object"], other != object.text {
                throw MonitorError(
                    kind: .conflict,
                    message: "\(monitor.id) belongs to the perfmon import for \(other), and \(object.text) would make the same ids: delete those monitors first"
                )
            }
            existing[monitor.id] = monitor
        }
        // Validated, and in the form resmond stores (defaults filled in), to compare with what is.
        var normalized: [String: MonitorSpec] = [:]
        for (position, variable) in variables.enumerated() {
            do {
                let definition = try MonitorDefinition(spec: variable.spec, owner: caller, createdAt: 0, step: step, table: table)
                normalized[definition.id] = definition.spec
            } catch {
                throw MonitorError(kind: .invalid, message: "variable \(variable.name) (monitors[\(position)]): \(error.message)")
            }
        }
        var outcomes: [String: String] = [:]
        let fresh = variables.filter { existing[$0.spec.id ?? ""] == nil }.map(\.spec)
        if !fresh.isEmpty {
            for monitor in try create(fresh, owner: caller) { outcomes[monitor.id] = "created" }
        }
        let encoder = WireJSON.encoder()
        for variable in variables {
            guard let id = variable.spec.id, let old = existing[id] else { continue }
            guard var stored = normalized[id] else { continue }
            stored.start = old.spec.start
            guard old.spec != stored else {
                outcomes[id] = "unchanged"
                continue
            }
            // Every field: the new one's, and null for those only the old one has.
            let patch: [String: JSONValue]
            do {
                guard case .object(let new) = try JSONDecoder().decode(JSONValue.self, from: try encoder.encode(variable.spec)),
                    case .object(let previous) = try JSONDecoder().decode(JSONValue.self, from: try encoder.encode(old.spec))
                else {
                    throw MonitorError(kind: .invalid, message: "variable \(variable.name): cannot compare its monitor")
                }
                var fields = new
                for name in previous.keys where fields[name] == nil { fields[name] = .null }
                fields["id"] = nil
                patch = fields
            } catch let error as MonitorError {
                throw error
            } catch {
                throw MonitorError(kind: .invalid, message: "variable \(variable.name): \(error)")
            }
            _ = try update(id, patch: patch, caller: caller)
            outcomes[id] = "replaced"
        }
        let removed = existing.keys.filter { !wanted.contains($0) }.sorted()
        for id in removed { try delete(id, caller: caller) }
        var monitors: [MonitorInfo] = []
        var reports: [PerfmonImportResponse.Variable] = []
        for variable in variables {
            guard let id = variable.spec.id, let info = monitor(id) else { continue }
            monitors.append(info)
            reports.append(
                .init(
                    name: variable.name, monitor: id, outcome: outcomes[id] ?? "unchanged",
                    statistics: variable.statistics, warning: variable.warning ?? info.state.warning))
        }
        return PerfmonImportResponse(monitors: monitors, variables: reports, removed: removed)
    }
}
