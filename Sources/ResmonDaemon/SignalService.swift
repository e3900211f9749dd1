import Dispatch
import ResmonSystem
import Server
import Storage

#if canImport(Glibc)
    import Glibc
#endif

/// Signals, on a queue of their own through dispatch sources: TERM/INT stop, HUP/TTIN reload
/// (TTIN as the RMF), USR1/TTOU write a state dump (TTOU as the RMF).
final class SignalService: Service {
    let name = "signals"
    private let stop: @Sendable () -> Void
    private let reload: @Sendable () -> Void
    private let dump: @Sendable () -> Void
    private let queue = DispatchQueue(label: "resmond.signals")
    private let sources = Lock<[any DispatchSourceSignal]>([])

    init(stop: @escaping @Sendable () -> Void, reload: @escaping @Sendable () -> Void, dump: @escaping @Sendable () -> Void) {
        self.stop = stop
        self.reload = reload
        self.dump = dump
    }

    func start() {
        // Made inside the lock: a dispatch source is not Sendable, so it never leaves it.
        sources.withLock { $0 = installHandlers() }
    }

    private func installHandlers() -> [any DispatchSourceSignal] {
        func on(_ signals: [Int32], _ action: @escaping @Sendable () -> Void) -> [any DispatchSourceSignal] {
            signals.map { number in
                // Ignored, so that only the source sees it: the default action would end resmond.
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler(handler: action)
                source.resume()
                return source
            }
        }
        return on([SIGTERM, SIGINT], stop) + on([SIGHUP, SIGTTIN], reload) + on([SIGUSR1, SIGTTOU], dump)
    }

    func stop(deadline: Double) {
        sources.withLock { sources in
            sources.forEach { $0.cancel() }
            sources = []
        }
    }
}

/// `resmond-dump.json` in the state directory: status, subsystems and every statistic, as the
/// API answers them (SIGUSR1).
enum StateDump {
    static func write(router: APIRouter, stateDirectory: String) {
        let path = stateDirectory + "/resmond-dump.json"
        func body(_ path: String) -> [UInt8] {
            router.handle(HTTPRequest(method: "GET", path: path)).body
        }
        let bytes =
            Array("{\"time\":\(Clock.wall()),\"status\":".utf8) + body("/v1/status")
            + Array(",\"subsystems\":".utf8) + body("/v1/subsystems")
            + Array(",\"statistics\":".utf8) + body("/v1/statistics") + Array("}\n".utf8)
        do {
            try writeAtomically(bytes, to: path)
            Log.info("state dump written to \(path)")
        } catch {
            Log.error("state dump failed: \(error)")
        }
    }
}
