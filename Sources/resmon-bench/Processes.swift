// What the sections share to start, watch and measure processes: resmond, the peers, rrdtool.
import HTTPClient
import ResmonSystem
import Server
import Statistics

#if canImport(Glibc)
    import Glibc
#endif

/// Starts `path` with its standard output and error sent to /dev/null.
func spawn(_ path: String, _ arguments: [String]) -> pid_t? {
    var child = pid_t()
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    defer { posix_spawn_file_actions_destroy(&actions) }
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    return posix_spawn(&child, path, &actions, nil, argv, environ) == 0 ? child : nil
}

/// SIGTERM, a wait of up to `graceSeconds` for the process to end (a resmond writes a large
/// state on its way out), then SIGKILL; reaped either way.
func terminate(_ pid: pid_t, graceSeconds: Double) {
    kill(pid, SIGTERM)
    var status: Int32 = 0
    for _ in 0..<Int(graceSeconds * 10) {
        if waitpid(pid, &status, WNOHANG) == pid { return }
        usleep(100_000)
    }
    kill(pid, SIGKILL)
    waitpid(pid, &status, 0)
}

/// A `Field:   123 kB` line of /proc/PID/status or smaps_rollup, in kibibytes.
func kibibytes(_ field: String, in text: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        return line.split(separator: " ").dropFirst().first.flatMap { Double($0) }
    }
    return nil
}

/// A /proc file's text, or "" once the process is gone.
func read(_ path: String) -> String {
    (try? ProcFile(path, capacity: 4096).readText()) ?? ""
}

/// utime + stime of a process, in seconds.
func cpuSeconds(_ pid: pid_t) -> Double {
    let stat = read("/proc/\(pid)/stat")
    guard let close = stat.lastIndex(of: ")") else { return .nan }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return .nan }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// The bench maps the libraries resmond maps (libmicrohttpd, gnutls, SQLite). Pages two processes
/// map stay with both, so the bench gives back what it touched only while starting before it
/// measures a resmond's memory: resmond is then measured as the only user of those pages, as on
/// a host where nothing else runs libmicrohttpd.
func releaseTheBenchsStartupPages() { _ = StartupPages.release() }

/// The bench's own resident memory, from /proc/self/statm.
func residentBytes() -> Double {
    let text = read("/proc/self/statm")
    let fields = text.split(separator: " ")
    return fields.count > 1 ? (Double(fields[1]) ?? .nan) * Double(sysconf(Int32(_SC_PAGESIZE))) : .nan
}

/// A TCP GET through libcurl: the body's length, or nil.
func fetchLength(_ url: String) -> Int? {
    guard let answer = try? HTTPClient.fetch(url, timeoutMilliseconds: 5000, maximumBytes: 64 << 20), answer.status == 200 else { return nil }
    return answer.body.count
}

/// A copy of `path` in `directory`, for a resmond to run alone as on a host: two processes of
/// one file share its pages, which neither can then give back after start-up.
func privateCopy(of path: String, in directory: String) -> String {
    let copy = directory + "/resmond"
    return Glibc.system("cp '\(path)' '\(copy)'") == 0 ? copy : path
}

/// Configuration files for resmond and the peers.
func writeFile(_ path: String, _ text: String) {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    _ = text.withCString { write(descriptor, $0, strlen($0)) }
    close(descriptor)
}

/// A loopback port nothing listens on, for node_exporter, Prometheus and a profiled resmond.
func freeTCPPort() -> Int {
    guard let (descriptor, port) = try? ListeningSocket.tcp(host: "127.0.0.1", port: 0) else { return 0 }
    close(descriptor)
    return port
}
