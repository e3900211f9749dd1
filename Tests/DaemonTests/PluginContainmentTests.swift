import Foundation
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What an exec plug-in leaves behind is killed: its process group after each run, and what
/// escaped the group (a new session) once resmond, a child subreaper, inherits it.
@Suite struct PluginContainmentTests {
    /// Pids of the processes whose command line is exactly `arguments`.
    static func processes(running arguments: [String]) -> [pid_t] {
        let wanted = Array(arguments.joined(separator: "\u{0}").utf8) + [0]
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), let line = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            return Array(line) == wanted ? pid : nil
        }
    }

    /// The children of `parent` that are zombies (exited, never reaped).
    static func zombies(of parent: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 && fields[0] == "Z" && pid_t(fields[1]) == parent ? pid : nil
        }
    }

    @Test func backgroundAndNewSessionChildrenOfAnExecPluginDoNotOutliveItsRun() throws {
        let directory = TemporaryDirectory("resmon-plugin-leak")
        // Unique to this test run, so that another run's processes are never counted or killed.
        let background = ["sleep", "100123.\(getpid())"]
        let escaped = ["sleep", "100124.\(getpid())"]
        defer {
            for pid in Self.processes(running: background) + Self.processes(running: escaped) { kill(pid, SIGKILL) }
        }
        let plain = try PluginTests.script(
            directory, "plain.sh", "\(background.joined(separator: " ")) >/dev/null 2>&1 &\necho 'leak_runs 1'\nexit 0")
        let session = try PluginTests.script(
            directory, "session.sh", "setsid \(escaped.joined(separator: " ")) >/dev/null 2>&1 &\necho 'leak_runs 1'\nexit 0")
        try directory.write("config/subsystems.d/plain.json", #"{"kind": "exec", "command": ["\#(plain)"], "interval": 1}"#)
        try directory.write("config/subsystems.d/session.json", #"{"kind": "exec", "command": ["\#(session)"], "interval": 1}"#)
        let daemon = try DaemonHarness(directory: directory)
        func runs(_ name: String) -> Int { ((try? daemon.client.subsystems()) ?? []).first { $0.name == name }?.runs ?? 0 }
        #expect(daemon.eventually(timeout: 60) { runs("plain") >= 3 && runs("session") >= 3 })
        #expect(
            daemon.eventually(timeout: 20) { Self.processes(running: background).isEmpty },
            "left behind: \(Self.processes(running: background))")
        #expect(
            daemon.eventually(timeout: 20) { Self.processes(running: escaped).isEmpty },
            "escaped into a new session: \(Self.processes(running: escaped))")
        let pid = try daemon.client.status().pid
        #expect(daemon.eventually(timeout: 20) { Self.zombies(of: pid).isEmpty }, "unreaped: \(Self.zombies(of: pid))")
        #expect(try daemon.client.health().status == "ok")
    }
}
