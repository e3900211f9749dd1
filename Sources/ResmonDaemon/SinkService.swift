import Events

/// Delivers events to the configured sinks (syslog, webhooks, programs, Alertmanager), each on
/// its own worker; a reload restarts the changed ones.
final class SinkService: Service {
    let name = "sinks"
    let runner: SinkRunner
    private let configuration: RunningConfiguration
    /// The host's name in syslog lines and alerts (resmond.json's `host`).
    private let host: String

    init(runner: SinkRunner, configuration: RunningConfiguration, host: String) {
        self.runner = runner
        self.configuration = configuration
        self.host = host
    }

    func start() { apply(configuration.current) }

    /// Starts (or, on reload, restarts) the sinks `configuration` names; unchanged ones keep running.
    func apply(_ configuration: DaemonConfiguration) {
        runner.configure(configuration.sinks, host: host, log: { Log.warning($0) })
    }

    func stop(deadline: Double) { runner.stop() }
}
