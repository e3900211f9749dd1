import ResmonSystem
import Server

#if canImport(Glibc)
    import Glibc
#endif

/// The API over HTTP on libmicrohttpd's threads: the Unix socket, and the TCP port when one is
/// configured.
final class HTTPService: Service {
    let name = "HTTP servers"
    private let configuration: DaemonConfiguration
    private let router: LateBound<APIRouter>
    private let servers = Lock<[HTTPServer]>([])
    private let listenAddress = Lock<String?>(nil)

    /// `router` is bound before the group starts; it is late only because the router's status
    /// reads this service's listen address.
    init(configuration: DaemonConfiguration, router: LateBound<APIRouter>) {
        self.configuration = configuration
        self.router = router
    }

    /// The TCP address served (with the port the kernel picked for port 0), for `/v1/status`.
    var listenDescription: String? { listenAddress.withLock { $0 } }

    func start() throws {
        guard let router = router.value else { throw DaemonFailure("the HTTP servers were started without a router") }
        let groupID = socketGroupID()
        do {
            // The TCP port is bound and published first: a client that reaches the Unix socket
            // the moment it answers finds the listen address in /v1/status.
            var tcpDescriptor: Int32?
            let tls = try configuration.readTLS()
            if let listen = configuration.listen {
                if !listen.isLoopback && tls == nil {
                    Log.warning("serving plain HTTP on \(listen), which is not a loopback address (http.insecure)")
                }
                let (descriptor, port) = try ListeningSocket.tcp(host: listen.host, port: listen.port)
                tcpDescriptor = descriptor
                listenAddress.withLock { $0 = ListenAddress(host: listen.host, port: port).description }
            }
            let unixDescriptor = try ListeningSocket.unix(path: configuration.socketPath, mode: 0o660, groupID: groupID)
            var started = [try serve(unixDescriptor, .unixSocket, router)]
            if let tcpDescriptor {
                do {
                    started.append(try serve(tcpDescriptor, .tcp, router, tls: tls))
                } catch {
                    started.forEach { $0.stop() }
                    throw error
                }
            }
            servers.withLock { $0 = started }
        } catch {
            throw DaemonFailure("\(error)")
        }
    }

    /// Whether nothing is at the Unix socket's path any more (removed with the state directory).
    var unixSocketIsGone: Bool {
        var status = stat()
        return lstat(configuration.socketPath, &status) != 0 && errno == ENOENT
    }

    /// Binds the Unix socket again at its path, where nothing is now, and has the Unix socket's
    /// server take its connections as its own (`HTTPServer.adopt`: the same threads, limits and
    /// quotas; the socket adopted at an earlier removal is closed). The caller holds the state
    /// directory's instance lock. Returns false when the servers have stopped.
    func rebindUnixSocket() throws(DaemonFailure) -> Bool {
        let path = configuration.socketPath
        do {
            return try servers.withLock { servers throws(ServerError) -> Bool in
                // Under the lock: a stop empties the list before it stops the servers.
                guard let server = servers.first else { return false }
                try server.adopt(ListeningSocket.unix(path: path, mode: 0o660, groupID: socketGroupID()))
                return true
            }
        } catch {
            throw DaemonFailure("cannot bind the Unix socket \(path) again: \(error)")
        }
    }

    private func socketGroupID() -> UInt32? {
        guard let name = configuration.socketGroup ?? (getgrnam("resmon") != nil ? "resmon" : nil), let group = getgrnam(name) else {
            return nil
        }
        return group.pointee.gr_gid
    }

    private func serve(_ descriptor: Int32, _ transport: HTTPRequest.Transport, _ router: APIRouter, tls: TLSMaterial? = nil) throws -> HTTPServer {
        try HTTPServer(
            descriptor: descriptor, transport: transport, handler: router,
            maxBodyBytes: configuration.maxRequestBytes, threads: configuration.httpThreads,
            connectionLimit: configuration.maxConnections, connectionsPerAddress: configuration.connectionsPerAddress,
            requestSeconds: configuration.requestSeconds, headerSeconds: configuration.headerSeconds,
            streamsPerPeer: configuration.streamsPerAddress, maxStreams: configuration.maxStreams, tls: tls)
    }

    /// Finishes the requests in progress (libmicrohttpd waits for them), then removes the socket
    /// so that clients see "not running" rather than "refused".
    func stop(deadline: Double) {
        let running = servers.withLock { servers in
            defer { servers = [] }; return servers
        }
        for server in running.reversed() { server.stop() }
        unlink(configuration.socketPath)
    }
}
