import Events

/// Delivers events to the configured sinks (syslog, webhooks, programs, Alertmanager), each on
/// its own worker; a reload restarts the changed ones.
final class SinkService: Service {
    let name = "sinks"
    let runner: SinkRunner
    private let configuration: RunningConfiguration

    init(runner: SinkRunner, configuration: RunningConfiguration) {
        self.runner = runner
        self.configuration = configuration
    }

    func start() { apply(configuration.current) }

    /// Starts (or, on reload, restarts) the sinks `configuration` names; unchanged ones keep running.
    func apply(_ configuration: DaemonConfiguration) {
        runner.configure(configuration.sinks, host: HostFacts.hostName(), log: { Log.warning($0) })
    }

    func stop(deadline: Double) { runner.stop() }
}
