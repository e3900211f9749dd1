import ResmonAPI

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

    public static let usage = """
        Usage: resmond [OPTIONS]

        The resmon daemon: collects the host's statistics and serves them over HTTP on a Unix
        socket and a loopback TCP port. Runs in the foreground (systemd Type=notify).

        Options:
          --state-dir DIR     state directory (default \(DefaultPaths.stateDirectory()))
          --config-dir DIR    configuration directory holding resmond.json (default \(DefaultPaths.configDirectory()))
          --socket PATH       Unix socket (default STATE-DIR/\(DefaultPaths.socketName))
          --listen ADDR       loopback TCP address HOST:PORT, or none (default 127.0.0.1:\(DefaultPaths.tcpPort))
          --step SECONDS      base sampling step, 1 to 300 (default 5)
          --cycles N          exit 0 after N sampling cycles
          --cpu-limit PERCENT     self-limit: refuse new monitors over this CPU share of one core (default 5)
          --memory-limit MB       self-limit: refuse new monitors over this RSS (default 25)
          --self-monitoring SECONDS   how often resmond measures itself against its limits (default 15)
          --check-config      validate the configuration and exit (0 valid, 1 not)
          --help              show this help
          --version           show the version

        Signals: TERM/INT stop, HUP/TTIN reload resmond.json, USR1/TTOU write a state dump
        into the state directory. Exit status: 0 stopped cleanly, 1 failed, 2 bad usage.
        See docs/CONFIG.md for every configuration key.
        """

    /// A command line that cannot be understood.
    public struct UsageError: Error, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public init() {}

    public init(arguments: [String]) throws(UsageError) {
        var index = 0
        func value(_ flag: String, _ inline: String?) throws(UsageError) -> String {
            if let inline { return inline }
            index += 1
            guard index < arguments.count else { throw UsageError(message: "\(flag) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            let argument = arguments[index]
            var flag = argument
            var inline: String?
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                flag = String(argument[..<equals])
                inline = String(argument[argument.index(after: equals)...])
            }
            switch flag {
            case "--help", "-h": action = .help
            case "--version": action = .version
            case "--check-config": action = .checkConfig
            case "--state-dir": stateDirectory = try DaemonOptions.absolute(flag, value(flag, inline))
            case "--config-dir": configDirectory = try DaemonOptions.absolute(flag, value(flag, inline))
            case "--socket": socket = try DaemonOptions.absolute(flag, value(flag, inline))
            case "--listen":
                let text = try value(flag, inline)
                do {
                    listen = .some(try ListenFlag.parse(text, source: "--listen", key: ""))
                } catch {
                    throw UsageError(message: "--listen: expected HOST:PORT or none, got \"\(text)\"")
                }
            case "--step":
                let text = try value(flag, inline)
                guard let step = Int(text), (1...300).contains(step) else {
                    throw UsageError(message: "--step: expected whole seconds from 1 to 300, got \"\(text)\"")
                }
                self.step = step
            case "--cycles":
                let text = try value(flag, inline)
                guard let cycles = Int(text), cycles >= 1 else {
                    throw UsageError(message: "--cycles: expected a positive whole number, got \"\(text)\"")
                }
                self.cycles = cycles
            case "--cpu-limit":
                let text = try value(flag, inline)
                guard let percent = Double(text), percent > 0, percent <= 1600 else {
                    throw UsageError(message: "--cpu-limit: expected a percentage of one core above 0, got \"\(text)\"")
                }
                cpuLimit = percent
            case "--memory-limit":
                let text = try value(flag, inline)
                guard let megabytes = Int(text), (1...1_048_576).contains(megabytes) else {
                    throw UsageError(message: "--memory-limit: expected whole megabytes from 1, got \"\(text)\"")
                }
                memoryLimit = megabytes
            case "--self-monitoring":
                let text = try value(flag, inline)
                guard let seconds = Int(text), (1...3600).contains(seconds) else {
                    throw UsageError(message: "--self-monitoring: expected whole seconds from 1 to 3600, got \"\(text)\"")
                }
                selfMonitoring = seconds
            default:
                throw UsageError(message: "unknown option \"\(argument)\" (see resmond --help)")
            }
            index += 1
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
