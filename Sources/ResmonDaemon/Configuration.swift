import Events
import FoundationEssentials
import RemoteWrite
import ResmonAPI
import ResmonSystem
import Statistics

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP address to serve on.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    /// Parses `HOST:PORT`, `[V6]:PORT` or `localhost:PORT`; nil when it is none of these.
    public init?(parsing text: String) {
        var host: Substring
        let portText: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        if host == "localhost" { host = "127.0.0.1" }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { return nil }
        self.host = String(host)
        self.port = port
    }

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether the address is a loopback one in any spelling: 127.0.0.0/8, `::1` however
    /// written (`0:0:0:0:0:0:0:1`), and IPv4-mapped `::ffff:127.x.y.z` (attack round 5: those
    /// two turned the Host check off and were logged as not loopback).
    public var isLoopback: Bool {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, host, &v6) == 1 else { return false }
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
        return bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff && bytes[12] == 127
    }
}

/// Everything resmond can be told, from `resmond.json` and the command line (docs/CONFIG.md).
public struct DaemonConfiguration: Sendable, Equatable {
    public var stateDirectory: String
    public var configDirectory: String
    /// The Unix socket; default `<stateDirectory>/resmond.sock`.
    public var socket: String?
    /// The group that owns the socket; nil means `resmon` when that group exists.
    public var socketGroup: String?
    /// nil when TCP is off (`--listen none`).
    public var listen: ListenAddress?
    public var maxRequestBytes = 1 << 20
    public var httpThreads = 2
    /// Open connections per listening socket, event streams included.
    public var maxConnections = 2048
    /// Open TCP connections one peer address may hold, event streams included.
    public var connectionsPerAddress = 64
    /// Event streams one TCP address (one Unix-socket uid other than root) may hold.
    public var streamsPerAddress = 16
    /// Event streams one listening socket may hold.
    public var maxStreams = 128
    /// Seconds within which a request's line, headers and body must all have arrived.
    public var requestSeconds = 10
    /// Seconds within which a request's line and headers must have arrived (at most requestSeconds).
    public var headerSeconds = 5
    /// Base sampling step in seconds.
    public var step = 5
    /// Exit after this many sampling cycles (for tests and benchmarks).
    public var cycles: Int?
    public var procRoot = "/proc"
    public var sysRoot = "/sys"
    /// Processes and cgroups are sampled every 5 s unless configured: a host's process table is
    /// its most expensive read, and monitors that need one faster ask the collector for it.
    public var subsystems: [String: SubsystemSettings] = DaemonConfiguration.defaultSubsystems
    public static let defaultSubsystems = ["process": SubsystemSettings(period: 5), "cgroup": SubsystemSettings(period: 5)]
    /// Seconds between history snapshots (a crash loses at most this much history).
    public var historySnapshotSeconds = 60
    /// Timescales kept for process statistics (1: the finest only; 4: all).
    public var historyProcessTiers = 1
    public var historyPluginTiers = 1
    /// The most plug-in statistics archived at once; past it, new ones get no archive.
    public var historyMaxPluginStatistics = 2000
    /// Events older than this many days are deleted.
    public var eventRetentionDays = 30
    /// At most this many events are kept; root's go only for root's own count (docs/EVENTS.md).
    public var eventRetentionCount = 1_000_000
    /// At most this many of one uid other than root (nil: a tenth of `eventRetentionCount`).
    public var eventRetentionCountPerUser: Int?
    /// Storm limits: raises a monitor may log a minute, and all monitors together a second.
    public var eventsPerMonitorPerMinute = 30
    public var eventsPerSecond = 1000
    /// Seconds a pushed statistic lives without a new push.
    public var pushExpireSeconds = 300
    /// A root-owned file holding the bearer token that authorizes writes over TCP.
    public var tokenFile: String?
    /// The TCP listener's TLS certificate (chain) and private key, PEM files; both or neither.
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// Serve plain HTTP on an address other than loopback, which is refused otherwise.
    public var insecure = false
    /// Self-limits: over this CPU share of one core or this RSS, new monitors are refused (503 busy).
    public var cpuLimitPercent = 5.0
    public var memoryLimitMB = 25
    public var selfMonitoringSeconds = 15
    /// What one requester other than root (a uid, a TCP address without the token) may use of
    /// one core for its requests, averaged over about ten seconds (RequestWork), before 429.
    public var requesterCPUPercent = 50.0
    /// Whether resmond gives back the pages only start-up used, after its first self-monitoring period.
    public var releaseStartupPages = true
    /// How often `subsystems.d` is re-read (it is also re-read on SIGHUP).
    public var registryRefreshSeconds = 60
    /// The most series all plug-ins together may hold (each also has its own `maxSeries`).
    public var registryMaxSeries = 10_000
    /// Where events are delivered (`sinks`), in name order.
    public var sinks: [SinkConfiguration] = []
    /// The host's name and fleet labels in events, alerts and `/metrics` (nil host: the hostname).
    public var host: String?
    public var labels: [String: String] = [:]
    /// Where samples are pushed with Prometheus remote_write (`remoteWrite`), if anywhere.
    public var remoteWrite: RemoteWriteSettings?

    public init(
        stateDirectory: String = DefaultPaths.stateDirectory(),
        configDirectory: String = DefaultPaths.configDirectory()
    ) {
        self.stateDirectory = stateDirectory
        self.configDirectory = configDirectory
        self.listen = ListenAddress(host: "127.0.0.1", port: DefaultPaths.tcpPort)
    }

    public var socketPath: String { socket ?? stateDirectory + "/" + DefaultPaths.socketName }
    public var configFile: String { configDirectory + "/" + DefaultPaths.configName }

    /// The subsystems resmond knows, for validating `collect.subsystems`.
    public static var subsystemNames: [String] { BuiltInSubsystem.names }
}

/// A configuration that cannot be used: which file (or flag), which key, and why.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible, Equatable {
    public let source: String
    public let key: String?
    public let reason: String

    public var description: String {
        if let key { return "\(source): key \(key): \(reason)" }
        return "\(source): \(reason)"
    }
}

/// Reads `resmond.json` into a configuration, refusing unknown keys and bad values.
public struct ConfigurationFile {
    let path: String

    public init(path: String) { self.path = path }

    /// Applies the file to `configuration`. A missing file changes nothing.
    public func apply(to configuration: inout DaemonConfiguration) throws(ConfigurationError) {
        guard let (text, _) = try ConfigurationFile.read(path, source: path) else { return }
        try ConfigurationFile.apply(text, source: path, to: &configuration)
    }

    /// Applies a file's bytes, read already, to `configuration`; errors name `source`. What
    /// `apply(to:)` does after reading, apart so that the fuzzer (FuzzTargets) feeds it bytes.
    package static func apply(_ text: [UInt8], source: String, to configuration: inout DaemonConfiguration) throws(ConfigurationError) {
        let root: JSONValue
        do {
            root = try StrictJSON.parse(text)
        } catch {
            throw ConfigurationError(source: source, key: nil, reason: "not valid JSON: \(error)")
        }
        var reader = Reader(source: source)
        try reader.apply(root, to: &configuration)
    }

    /// Why a file that declares what runs with resmond's rights cannot be trusted, or nil: it
    /// must be owned by root or by resmond's own user, and writable by nobody else. `info` is
    /// the `fstat` of the descriptor the file was read from (`read`), so that what was checked
    /// is what was read.
    static func trustProblem(_ info: stat) -> String? {
        let rule =
            geteuid() == 0
            ? "must be owned by root and writable by nobody else" : "must be owned by root or uid \(geteuid()) (resmond's) and writable by nobody else"
        if info.st_uid != 0 && info.st_uid != geteuid() { return "\(rule) (owned by uid \(info.st_uid))" }
        if info.st_mode & 0o022 != 0 { return "\(rule) (mode 0\(String(info.st_mode & 0o7777, radix: 8)))" }
        return nil
    }

    /// A configuration file's bytes and its `fstat`, nil when it does not exist; every file
    /// resmond reads from its configuration comes through here (`readRegularFile`: opened
    /// non-blocking, a FIFO, device, socket or directory refused, never waited on; at most
    /// 4 MiB). Errors name `source`.
    static func read(_ path: String, source: String, followingSymlinks: Bool = true) throws(ConfigurationError) -> (bytes: [UInt8], info: stat)? {
        do {
            return try readRegularFile(at: path, limit: 4 << 20, followingSymlinks: followingSymlinks)
        } catch {
            let reason: String
            switch error {
            case .tooLarge: reason = "larger than 4 MiB"
            case .notRegular(_, let kind): reason = "is \(kind), not a regular file: not read"
            case .system(_, let errno): reason = "cannot be read: \(errno)"
            }
            throw ConfigurationError(source: source, key: nil, reason: reason)
        }
    }

}

/// Walks the JSON object tree with the key path in hand.
struct Reader {
    let source: String

    func fail(_ key: String, _ reason: String) -> ConfigurationError {
        ConfigurationError(source: source, key: key, reason: reason)
    }

    func object(_ value: JSONValue, _ key: String, allowed: Set<String>?) throws(ConfigurationError) -> [String: JSONValue] {
        guard case .object(let members) = value else { throw fail(key, "expected an object, got \(value.typeName)") }
        if let allowed, let unknown = members.keys.sorted().first(where: { !allowed.contains($0) }) {
            let path = key.isEmpty ? unknown : key + "." + unknown
            throw fail(path, "unknown key (known here: \(allowed.sorted().joined(separator: ", ")))")
        }
        return members
    }

    func string(_ value: JSONValue, _ key: String) throws(ConfigurationError) -> String {
        guard case .string(let text) = value else { throw fail(key, "expected a string, got \(value.typeName)") }
        guard !text.isEmpty else { throw fail(key, "must not be empty") }
        return text
    }

    func path(_ value: JSONValue, _ key: String) throws(ConfigurationError) -> String {
        let text = try string(value, key)
        guard text.hasPrefix("/") else { throw fail(key, "expected an absolute path, got \"\(text)\"") }
        return text
    }

    func integer(_ value: JSONValue, _ key: String, _ range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard case .number(let number) = value, number == number.rounded(), let integer = Int(exactly: number) else {
            throw fail(key, "expected a whole number, got \(value.typeName)")
        }
        guard range.contains(integer) else { throw fail(key, "\(integer) is out of range \(range.lowerBound)…\(range.upperBound)") }
        return integer
    }

    func bool(_ value: JSONValue, _ key: String) throws(ConfigurationError) -> Bool {
        guard case .bool(let flag) = value else { throw fail(key, "expected true or false, got \(value.typeName)") }
        return flag
    }

    mutating func apply(_ root: JSONValue, to configuration: inout DaemonConfiguration) throws(ConfigurationError) {
        let top = try object(
            root, "",
            allowed: [
                "stateDir", "step", "cycles", "http", "collect", "push", "history", "events",
                "sinks", "limits", "registry", "host", "labels", "remoteWrite"
            ])
        try identity(top, to: &configuration)
        if let value = top["remoteWrite"] { configuration.remoteWrite = try remoteWrite(value) }
        if let value = top["registry"] {
            let registry = try object(value, "registry", allowed: ["refreshSeconds", "maxSeries"])
            if let value = registry["refreshSeconds"] { configuration.registryRefreshSeconds = try integer(value, "registry.refreshSeconds", 1...86400) }
            if let value = registry["maxSeries"] { configuration.registryMaxSeries = try integer(value, "registry.maxSeries", 1...10_000_000) }
        }
        if let value = top["limits"] {
            let limits = try object(
                value, "limits",
                allowed: [
                    "cpuPercent", "memoryMB", "selfMonitoringSeconds",
                    "releaseStartupPages", "requesterCPUPercent"
                ])
            if let value = limits["cpuPercent"] {
                guard case .number(let percent) = value, percent > 0, percent <= 1600 else {
                    throw fail("limits.cpuPercent", "expected a percentage of one core above 0 (up to 1600)")
                }
                configuration.cpuLimitPercent = percent
            }
            if let value = limits["requesterCPUPercent"] {
                guard case .number(let percent) = value, percent > 0, percent <= 1600 else {
                    throw fail("limits.requesterCPUPercent", "expected a percentage of one core above 0 (up to 1600)")
                }
                configuration.requesterCPUPercent = percent
            }
            if let value = limits["memoryMB"] { configuration.memoryLimitMB = try integer(value, "limits.memoryMB", 1...1_048_576) }
            if let value = limits["selfMonitoringSeconds"] {
                configuration.selfMonitoringSeconds = try integer(value, "limits.selfMonitoringSeconds", 1...3600)
            }
            if let value = limits["releaseStartupPages"] {
                configuration.releaseStartupPages = try bool(value, "limits.releaseStartupPages")
            }
        }
        if let value = top["stateDir"] { configuration.stateDirectory = try path(value, "stateDir") }
        if let value = top["step"] { configuration.step = try integer(value, "step", 1...300) }
        if let value = top["cycles"] {
            configuration.cycles = value == .null ? nil : try integer(value, "cycles", 1...Int(Int32.max))
        }
        if let value = top["http"] { try applyHTTP(value, to: &configuration) }
        if let value = top["history"] {
            let history = try object(value, "history", allowed: ["snapshotSeconds", "processTiers", "pluginTiers", "maxPluginStatistics"])
            if let value = history["maxPluginStatistics"] {
                configuration.historyMaxPluginStatistics = try integer(value, "history.maxPluginStatistics", 0...10_000_000)
            }
            if let value = history["snapshotSeconds"] { configuration.historySnapshotSeconds = try integer(value, "history.snapshotSeconds", 1...86400) }
            if let value = history["processTiers"] { configuration.historyProcessTiers = try integer(value, "history.processTiers", 1...4) }
            if let value = history["pluginTiers"] { configuration.historyPluginTiers = try integer(value, "history.pluginTiers", 1...4) }
        }
        if let value = top["events"] {
            let events = try object(
                value, "events", allowed: ["retentionDays", "retentionCount", "retentionCountPerUser", "perMonitorPerMinute", "maxPerSecond"])
            if let value = events["perMonitorPerMinute"] {
                configuration.eventsPerMonitorPerMinute = try integer(value, "events.perMonitorPerMinute", 1...100_000)
            }
            if let value = events["maxPerSecond"] { configuration.eventsPerSecond = try integer(value, "events.maxPerSecond", 1...1_000_000) }
            if let value = events["retentionDays"] { configuration.eventRetentionDays = try integer(value, "events.retentionDays", 1...36500) }
            if let value = events["retentionCount"] { configuration.eventRetentionCount = try integer(value, "events.retentionCount", 100...1_000_000_000) }
            if let value = events["retentionCountPerUser"] {
                let share = try integer(value, "events.retentionCountPerUser", 1...1_000_000_000)
                guard share <= configuration.eventRetentionCount else {
                    throw fail("events.retentionCountPerUser", "\(share) is above events.retentionCount (\(configuration.eventRetentionCount))")
                }
                configuration.eventRetentionCountPerUser = share
            }
        }
        if let value = top["sinks"] {
            let sinks = try object(value, "sinks", allowed: nil)
            configuration.sinks = try sinks.keys.sorted().map { name throws(ConfigurationError) in
                try sink(name: name, sinks[name]!)
            }
        }
        if let value = top["push"] {
            let push = try object(value, "push", allowed: ["expireSeconds"])
            if let value = push["expireSeconds"] { configuration.pushExpireSeconds = try integer(value, "push.expireSeconds", 1...86400) }
        }
        if let value = top["collect"] {
            let collect = try object(value, "collect", allowed: ["procRoot", "sysRoot", "subsystems"])
            if let value = collect["procRoot"] { configuration.procRoot = try path(value, "collect.procRoot") }
            if let value = collect["sysRoot"] { configuration.sysRoot = try path(value, "collect.sysRoot") }
            if let value = collect["subsystems"] {
                let names = Set(DaemonConfiguration.subsystemNames)
                let subsystems = try object(value, "collect.subsystems", allowed: names)
                for (name, entry) in subsystems {
                    let key = "collect.subsystems." + name
                    let fields = try object(entry, key, allowed: ["enabled", "period"])
                    var settings = configuration.subsystems[name] ?? SubsystemSettings()
                    if let value = fields["enabled"] { settings.enabled = try bool(value, key + ".enabled") }
                    if let value = fields["period"] { settings.period = Double(try integer(value, key + ".period", 1...3600)) }
                    configuration.subsystems[name] = settings
                }
            }
        }
    }
}

enum ListenFlag {
    static func parse(_ text: String, source: String, key: String) throws(ConfigurationError) -> ListenAddress? {
        if text == "none" { return nil }
        guard let address = ListenAddress(parsing: text) else {
            throw ConfigurationError(source: source, key: key, reason: "expected \"HOST:PORT\" (for example 127.0.0.1:9465) or \"none\", got \"\(text)\"")
        }
        return address
    }
}

extension Reader {
    /// One entry of `sinks`: `{"type": "syslog"|"webhook"|"exec"|"alertmanager", "filter": …, …}`.
    func sink(name: String, _ value: JSONValue) throws(ConfigurationError) -> SinkConfiguration {
        let key = "sinks." + name
        guard name.utf8.count <= 64, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
            throw fail(key, "a sink name is 1 to 64 letters, digits, '-', '_' or '.'")
        }
        let common: Set<String> = ["type", "filter", "maxBackoffSeconds"]
        guard case .object(let members) = value, let typeValue = members["type"] else {
            throw fail(key, "expected an object with \"type\": syslog, webhook, exec or alertmanager")
        }
        let type = try string(typeValue, key + ".type")
        func number(_ name: String, _ range: ClosedRange<Double>, _ fallback: Double) throws(ConfigurationError) -> Double {
            guard let value = members[name] else { return fallback }
            guard case .number(let number) = value else { throw fail(key + "." + name, "expected a number, got \(value.typeName)") }
            guard range.contains(number) else { throw fail(key + "." + name, "\(number) is out of range \(range.lowerBound)…\(range.upperBound)") }
            return number
        }
        func httpURL(_ name: String) throws(ConfigurationError) -> String {
            guard let value = members[name] else { throw fail(key + "." + name, "required for a \(type) sink") }
            let text = try string(value, key + "." + name)
            guard text.hasPrefix("http://") || text.hasPrefix("https://"), !text.contains(where: { $0.isWhitespace }) else {
                throw fail(key + "." + name, "expected an http:// or https:// URL, got \"\(text)\"")
            }
            return text
        }
        let kind: SinkConfiguration.Kind
        switch type {
        case "syslog":
            _ = try object(value, key, allowed: common.union(["socket", "address", "facility", "appName"]))
            var target = SinkConfiguration.SyslogTarget.unixSocket("/dev/log")
            if let socket = members["socket"] { target = .unixSocket(try path(socket, key + ".socket")) }
            if let address = members["address"] {
                let text = try string(address, key + ".address")
                guard let parsed = ListenAddress(parsing: text) else {
                    throw fail(key + ".address", "expected HOST:PORT with a numeric host, got \"\(text)\"")
                }
                target = .udp(host: parsed.host, port: parsed.port)
            }
            let facility =
                try members["facility"].map { value throws(ConfigurationError) -> Int in
                    let text = try string(value, key + ".facility")
                    guard let code = Reader.facilities[text] else {
                        throw fail(key + ".facility", "expected one of \(Reader.facilities.keys.sorted().joined(separator: ", ")), got \"\(text)\"")
                    }
                    return code
                } ?? 3
            let appName = try members["appName"].map { value throws(ConfigurationError) in try string(value, key + ".appName") } ?? "resmond"
            kind = .syslog(target, facility: facility, appName: appName)
        case "webhook":
            _ = try object(value, key, allowed: common.union(["url", "headers", "timeoutSeconds"]))
            var headers: [String: String] = [:]
            if let value = members["headers"] {
                for (name, header) in try object(value, key + ".headers", allowed: nil) {
                    let text = try string(header, key + ".headers." + name)
                    guard !name.contains(where: { $0 == ":" || $0.isWhitespace }), !text.contains(where: \.isNewline) else {
                        throw fail(key + ".headers." + name, "a header name without ':' or spaces, and a value on one line")
                    }
                    headers[name] = text
                }
            }
            kind = .webhook(url: try httpURL("url"), headers: headers, timeoutSeconds: try number("timeoutSeconds", 0.1...300, 10))
        case "exec":
            _ = try object(value, key, allowed: common.union(["command", "timeoutSeconds", "concurrency"]))
            guard case .array(let parts)? = members["command"], !parts.isEmpty else {
                throw fail(key + ".command", "expected an array: the program's absolute path, then its arguments")
            }
            var command: [String] = []
            for (index, part) in parts.enumerated() {
                command.append(index == 0 ? try path(part, key + ".command[0]") : try string(part, key + ".command[\(index)]"))
            }
            // A program that runs as resmond's user must come from a file only root can change.
            var info = stat()
            guard stat(source, &info) == 0, info.st_uid == 0, info.st_mode & 0o022 == 0 else {
                throw fail(key, "exec sinks are accepted only from a configuration file owned by root and writable by nobody else")
            }
            let concurrency = Int(try number("concurrency", 1...64, 4))
            kind = .exec(command: command, timeoutSeconds: try number("timeoutSeconds", 0.1...3600, 10), concurrency: concurrency)
        case "alertmanager":
            _ = try object(value, key, allowed: common.union(["url", "resendSeconds", "timeoutSeconds"]))
            kind = .alertmanager(
                url: try httpURL("url"), resendSeconds: try number("resendSeconds", 1...3600, 60),
                timeoutSeconds: try number("timeoutSeconds", 0.1...300, 10))
        default:
            throw fail(key + ".type", "expected syslog, webhook, exec or alertmanager, got \"\(type)\"")
        }
        var filter: String?
        if let value = members["filter"] {
            let text = try string(value, key + ".filter")
            do {
                _ = try EventFilter(text, holder: .root)
            } catch {
                throw fail(key + ".filter", error.description)
            }
            filter = text
        }
        return SinkConfiguration(
            name: name, kind: kind, filter: filter,
            maximumBackoffSeconds: try number("maxBackoffSeconds", 1...86400, 300))
    }

    static let facilities = [
        "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
        "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "local0": 16, "local1": 17, "local2": 18,
        "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23
    ]
}
