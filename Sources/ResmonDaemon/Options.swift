import ResmonAPI
import ResmonSystem

/// resmond's command line.
public struct DaemonOptions: Sendable, Equatable {
    public enum Action: Sendable, Equatable { case run, checkConfig, help, version }

    public var action: Action = .run
    public var stateDirectory: String?
    public var configDirectory: String?
    public var socket: String?
    /// `.some(nil)` is `--listen none`.
    public var listen: ListenAddress??
    public var step: Int?
    public var cycles: Int?
    public var cpuLimit: Double?
    public var memoryLimit: Int?
    public var selfMonitoring: Int?
    /// Start on a state database that lost its contents, beginning anew.
    public var acceptStateLoss = false

    /// resmond's flags, declared once: the parser, `--help` and resmond(8) read them.
    public static let declarations: [OptionDeclaration] = [
        .value("--state-dir", placeholder: "DIR", help: "state directory (default \(DefaultPaths.stateDirectory()))"),
        .value("--config-dir", placeholder: "DIR", help: "configuration directory holding resmond.json (default \(DefaultPaths.configDirectory()))"),
        .value("--socket", placeholder: "PATH", help: "Unix socket (default STATE-DIR/\(DefaultPaths.socketName))"),
        .value("--listen", placeholder: "ADDR", help: "loopback TCP address HOST:PORT, or none (default 127.0.0.1:\(DefaultPaths.tcpPort))"),
        .value("--step", placeholder: "SECONDS", help: "base sampling step, 1 to 300 (default 5)"),
        .value("--cycles", placeholder: "N", help: "exit 0 after N sampling cycles"),
        .value("--cpu-limit", placeholder: "PERCENT", help: "self-limit: refuse new monitors over this CPU share of one core (default 5)"),
        .value("--memory-limit", placeholder: "MB", help: "self-limit: refuse new monitors over this RSS (default 25)"),
        .value("--self-monitoring", placeholder: "SECONDS", help: "how often resmond measures itself against its limits (default 15)"),
        .flag(
            "--accept-state-loss",
            help:
                "start even though the state database lost what its marker says it held (monitors, events), beginning anew; event ids continue above the old ones"
        ),
        .flag("--check-config", help: "validate the configuration and exit (0 valid, 1 not)"),
        .flag("--help", "-h", help: "show this help"),
        .flag("--version", help: "show the version")
    ]

    /// What resmond is, for `--help` and resmond(8).
    public static let about = """
        The resmon daemon: collects the host's statistics and serves them over HTTP on a Unix
        socket and a loopback TCP port. Runs in the foreground (systemd Type=notify).
        """

    /// The signals resmond acts on, for `--help` and resmond(8).
    public static let signals: [(names: String, effect: String)] = [
        ("TERM, INT", "stop"),
        ("HUP, TTIN", "reload resmond.json, subsystems.d and monitors.d (as `resmon reload` does)"),
        ("USR1, TTOU", "write a state dump into the state directory")
    ]

    /// resmond's exit statuses, for `--help` and resmond(8).
    public static let exitStatuses: [(status: Int32, meaning: String)] = [
        (0, "stopped cleanly (or --check-config found the configuration valid)"),
        (1, "failed: a bad configuration, another resmond on the state directory, a socket it cannot bind, a state database that lost its contents"),
        (2, "bad usage")
    ]

    /// The environment variables resmond reads, for resmond(8).
    public static let environment: [(name: String, meaning: String)] = [
        ("XDG_STATE_HOME", "for a user other than root, the default state directory is $XDG_STATE_HOME/resmon (else ~/.local/state/resmon)"),
        ("XDG_CONFIG_HOME", "for a user other than root, the default configuration directory is $XDG_CONFIG_HOME/resmon (else ~/.config/resmon)"),
        ("NOTIFY_SOCKET", "set by systemd: resmond reports READY=1 and STOPPING=1 there (sd_notify)"),
        (
            "WATCHDOG_USEC",
            "set by systemd with WatchdogSec=: the sampling loop sends WATCHDOG=1 every half of it, so a hung loop is restarted (WATCHDOG_PID, if set, must be resmond's)"
        ),
        (
            "JOURNAL_STREAM",
            "set by systemd when standard error is the journal: each log line then starts with its priority (<3> error, <4> warning, <6> info), so journalctl -p works"
        )
    ]

    public static var usage: String {
        """
        Usage: resmond [OPTIONS]

        \(about)

        Options:
        \(ArgumentParser.help(for: declarations))

        Signals: \(signals.map { "\($0.names) \($0.effect)" }.joined(separator: "; ")).
        Exit status: \(exitStatuses.map { "\($0.status) \($0.meaning.split(separator: ":")[0])" }.joined(separator: ", ")).
        See docs/CONFIG.md, or resmond(8) and resmond.json(5), for every configuration key.
        """
    }

    /// A command line that cannot be understood.
    public struct UsageError: Error, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public init() {}

    public init(arguments: [String]) throws(UsageError) {
        let parsed: ParsedArguments
        do {
            parsed = try ArgumentParser.parse(arguments, options: DaemonOptions.declarations)
        } catch {
            throw UsageError(message: error.description + " (see resmond --help)")
        }
        if let extra = parsed.positional.first { throw UsageError(message: "unexpected argument \"\(extra)\" (see resmond --help)") }
        if parsed.flag("--check-config") { action = .checkConfig }
        acceptStateLoss = parsed.flag("--accept-state-loss")
        if parsed.flag("--version") { action = .version }
        if parsed.flag("--help") { action = .help }
        func whole(_ flag: String, _ range: ClosedRange<Int>, _ expected: String) throws(UsageError) -> Int? {
            guard let text = parsed.value(flag) else { return nil }
            guard let number = Int(text), range.contains(number) else { throw UsageError(message: "\(flag): expected \(expected), got \"\(text)\"") }
            return number
        }
        stateDirectory = try parsed.value("--state-dir").map { path throws(UsageError) in try DaemonOptions.absolute("--state-dir", path) }
        configDirectory = try parsed.value("--config-dir").map { path throws(UsageError) in try DaemonOptions.absolute("--config-dir", path) }
        socket = try parsed.value("--socket").map { path throws(UsageError) in try DaemonOptions.absolute("--socket", path) }
        if let text = parsed.value("--listen") {
            do {
                listen = .some(try ListenFlag.parse(text, source: "--listen", key: ""))
            } catch {
                throw UsageError(message: "--listen: expected HOST:PORT or none, got \"\(text)\"")
            }
        }
        step = try whole("--step", 1...300, "whole seconds from 1 to 300")
        cycles = try whole("--cycles", 1...Int.max, "a positive whole number")
        memoryLimit = try whole("--memory-limit", 1...1_048_576, "whole megabytes from 1")
        selfMonitoring = try whole("--self-monitoring", 1...3600, "whole seconds from 1 to 3600")
        if let text = parsed.value("--cpu-limit") {
            guard let percent = Double(text), percent > 0, percent <= 1600 else {
                throw UsageError(message: "--cpu-limit: expected a percentage of one core above 0, got \"\(text)\"")
            }
            cpuLimit = percent
        }
    }

    static func absolute(_ flag: String, _ path: String) throws(UsageError) -> String {
        guard path.hasPrefix("/") else {
            // Relative paths would change meaning with the working directory systemd gives us.
            throw UsageError(message: "\(flag): expected an absolute path, got \"\(path)\"")
        }
        return path
    }

    /// The configuration: embedded defaults, then resmond.json, then these flags.
    public func configuration() throws(ConfigurationError) -> DaemonConfiguration {
        var configuration = DaemonConfiguration()
        if let configDirectory { configuration.configDirectory = configDirectory }
        try ConfigurationFile(path: configuration.configFile).apply(to: &configuration)
        if let stateDirectory { configuration.stateDirectory = stateDirectory }
        if let socket { configuration.socket = socket }
        if let listen { configuration.listen = listen }
        if let step { configuration.step = step }
        if let cycles { configuration.cycles = cycles }
        if let cpuLimit { configuration.cpuLimitPercent = cpuLimit }
        if let memoryLimit { configuration.memoryLimitMB = memoryLimit }
        if let selfMonitoring { configuration.selfMonitoringSeconds = selfMonitoring }
        return configuration
    }
}
