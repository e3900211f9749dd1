import ResmonClient
import ResmonSystem

#if canImport(Glibc)
    import Glibc
#endif

/// A resmond the bench starts for one section: its own state and configuration directory under
/// /tmp, optionally its own copy of the binary, started and answering `/healthz` before the
/// section measures it; `stop()` ends it and removes the directory.
struct BenchDaemon {
    let pid: pid_t
    let directory: String
    let client: ResmonClient
    /// When it was started (`Clock.monotonic()`).
    let started: Double

    /// Starts `resmondPath` with `arguments` after `--state-dir` and `--config-dir`; nil (and a
    /// line saying why) when it cannot start or does not answer within 60 s. `prepare` writes
    /// configuration files into the fresh directory before the start.
    static func start(
        _ resmondPath: String, name: String, arguments: [String], privateBinary: Bool = true, timeoutMilliseconds: Int = 10_000,
        prepare: (String) -> Void = { _ in }
    ) -> BenchDaemon? {
        let directory = "/tmp/resmon-bench-\(getpid())-\(name)"
        mkdir(directory, 0o755)
        mkdir(directory + "/config", 0o755)
        prepare(directory)
        let binary = privateBinary ? privateCopy(of: resmondPath, in: directory) : resmondPath
        guard let pid = spawn(binary, ["--state-dir", directory, "--config-dir", directory + "/config"] + arguments) else {
            print("\(name): cannot start \(resmondPath)")
            _ = Glibc.system("rm -rf '\(directory)'")
            return nil
        }
        let started = Clock.monotonic()
        let daemon = BenchDaemon(
            pid: pid, directory: directory, client: ResmonClient(socketPath: directory + "/resmond.sock", timeoutMilliseconds: timeoutMilliseconds),
            started: started)
        while (try? daemon.client.health()) == nil {
            guard Clock.monotonic() - started < 60 else {
                print("\(name): resmond did not answer within 60 s")
                daemon.stop()
                return nil
            }
            usleep(50_000)
        }
        return daemon
    }

    /// Ends it (two minutes' grace: a large state is written on the way out) and removes the
    /// directory.
    func stop() {
        terminate(pid, graceSeconds: 120)
        _ = Glibc.system("rm -rf '\(directory)'")
    }
}
