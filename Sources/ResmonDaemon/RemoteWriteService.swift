import RemoteWrite
import ResmonAPI
import ResmonSystem
import Statistics

/// Prometheus remote_write (`remoteWrite` in resmond.json): the sampling thread hands it each
/// cycle's readings (`capture`), its own thread sends them. A reload starts, changes or stops it;
/// a change keeps the queue.
final class RemoteWriteService: Service {
    let name = "remote-write"
    private let table: SampleTable
    private let configuration: RunningConfiguration
    private let writer = Lock<RemoteWriter?>(nil)

    init(table: SampleTable, configuration: RunningConfiguration) {
        self.table = table
        self.configuration = configuration
    }

    func start() { apply(configuration.current) }

    func apply(_ configuration: DaemonConfiguration) {
        let settings = configuration.remoteWrite.map { RemoteWriteService.withDefaultLabels($0, identity: configuration.identity) }
        let (started, stopped): (RemoteWriter?, RemoteWriter?) = writer.withLock { writer in
            switch (writer, settings) {
            case (nil, let settings?):
                writer = RemoteWriter(table: table, settings: settings, log: { Log.warning($0) })
                return (writer, nil)
            case (let running?, nil):
                writer = nil
                return (nil, running)
            case (let running?, let settings?):
                running.update(settings)
                return (nil, nil)
            case (nil, nil):
                return (nil, nil)
            }
        }
        started?.start()
        // Not waited for (this is the sampling thread): it ends after the request in progress.
        stopped?.stop(deadline: Clock.monotonic())
    }

    /// `job` is `resmon` and `instance` the host's name unless configured, as a scrape of this
    /// host would label them; `host` and the fleet labels (resmond.json's `host` and `labels`)
    /// are added as Prometheus adds `external_labels`, where the section does not set them.
    static func withDefaultLabels(_ settings: RemoteWriteSettings, identity: HostIdentity) -> RemoteWriteSettings {
        var settings = settings
        if settings.labels["job"] == nil { settings.labels["job"] = "resmon" }
        if settings.labels["instance"] == nil { settings.labels["instance"] = identity.host }
        if settings.labels["host"] == nil { settings.labels["host"] = identity.host }
        for (name, value) in identity.labels where settings.labels[name] == nil { settings.labels[name] = value }
        return settings
    }

    /// On the sampling thread, after each step's collection.
    func capture() { writer.withLock { $0 }?.capture() }

    func status() -> RemoteWriteStatus? { writer.withLock { $0 }?.status() }

    func stop(deadline: Double) {
        let running = writer.withLock { writer in
            defer { writer = nil }
            return writer
        }
        running?.stop(deadline: deadline)
    }
}
