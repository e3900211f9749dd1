import Events
import ResmonSystem
import Server

/// `/v1/events/stream`: the hub that feeds every open stream from the engine's log. It is
/// started after the HTTP servers because it must stop before them: libmicrohttpd must not be
/// stopped with a stream's connection suspended.
final class EventStreamService: Service {
    let name = "event streams"
    let hub: EventStreamHub

    init(maximumStreams: Int, events: EventStore) {
        var settings = EventStreamHub.Settings()
        settings.maximumStreams = maximumStreams
        hub = EventStreamHub(settings: settings, store: events)
    }

    /// The hub serves from construction: streams may open as soon as the servers answer.
    func start() {}

    /// Ends every stream (consumers reconnect to the next resmond) and waits until
    /// libmicrohttpd has released them.
    func stop(deadline: Double) { hub.stop(deadline: max(0, deadline - Clock.monotonic())) }
}
