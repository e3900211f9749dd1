import Foundation
import ResmonSystem
import Statistics

#if canImport(Glibc)
    import Glibc
#endif

/// Ends every session the tests start when the test process ends, however it ends.
///
/// A test that crashes or is killed runs no `deinit` and no `defer`, and the daemons, CLI
/// followers and receivers it started would run on for good. So each child leads a session of
/// its own, and its session id is written to a small reaper process (`awk`, in a session of its
/// own too, so a terminal's ^C does not reach it) whose standard input is a pipe only this
/// process holds. When this process ends, even by SIGKILL, the kernel closes the pipe; the
/// reaper reads end of file and kills every session still listed, grandchildren included
/// (resmond's plug-ins lead groups of their own, but stay in resmond's session).
enum Reaper {
    /// The pipe's write end; `-1` when no reaper could be started (then only `deinit`s reap).
    private static let writeEnd: Int32 = {
        // O_CLOEXEC at creation: no child, however started, inherits the write end and keeps
        // the reaper waiting after this process has gone.
        guard let pipe = try? FileDescriptor.pipe() else { return -1 }
        let ends = [pipe.read.rawValue, pipe.write.rawValue]
        let script = """
            /^-/ { delete session[substr($0, 2)]; next }
            { session[$0] = 1 }
            END { for (id in session) system("pkill -KILL -s " id "; kill -KILL -- -" id " 2>/dev/null") }
            """
        let started = try? ProcessGroup.spawn(
            ["/usr/bin/awk", script], environment: ["PATH=/usr/bin:/bin"],
            stdin: ends[0], newSession: true)
        close(ends[0])
        guard started != nil else {
            close(ends[1])
            return -1
        }
        return ends[1]
    }()

    static func watch(_ session: pid_t) { send("\(session)\n") }

    static func forget(_ session: pid_t) { send("-\(session)\n") }

    private static func send(_ line: String) {
        guard writeEnd >= 0 else { return }
        // One short write is atomic on a pipe: lines from several threads never interleave.
        _ = Array(line.utf8).withUnsafeBytes { write(writeEnd, $0.baseAddress, $0.count) }
    }
}

/// A program a test started, leading a session of its own that the `Reaper` ends with the test
/// process; `deinit` kills the session and reaps the leader.
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    private let status = NSLock()
    private var exitStatus: Int32?

    /// Starts `executable` with `arguments`; standard streams come from the descriptors given
    /// (nil: /dev/null). The environment is the test process's, with `environment` merged in.
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        stdin: Int32? = nil, stdout: Int32? = nil, stderr: Int32? = nil
    ) throws {
        let variables = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { $0.key + "=" + $0.value }
        pid = try ProcessGroup.spawn(
            [executable] + arguments, environment: variables, stdin: stdin, stdout: stdout,
            stderr: stderr, newSession: true)
        Reaper.watch(pid)
    }

    deinit { stop() }

    /// Whether the program has not exited yet (reaps it when it has).
    public var isRunning: Bool { poll(block: false) == nil }

    /// The raw wait status once the program has exited.
    public var terminationStatus: Int32? { poll(block: false) }

    /// The exit code, or 128 + the signal that ended it, once the program has exited.
    public var exitCode: Int32? {
        guard let raw = poll(block: false) else { return nil }
        return raw & 0x7f == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
    }

    public func signal(_ number: Int32) { _ = kill(pid, number) }

    /// Waits for the program to exit; its exit code (as `exitCode`), or nil at the deadline.
    public func waitForExit(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning && Date() < deadline { usleep(5_000) }
        return exitCode
    }

    /// Kills the whole session (the program's plug-ins and other children too) and reaps the
    /// leader.
    public func stop() {
        ChildProcess.killSession(pid)
        _ = poll(block: true)
        Reaper.forget(pid)
    }

    /// The processes in the program's session, itself included: what it started too.
    public var sessionMembers: [pid_t] { ChildProcess.members(ofSession: pid) }

    /// Sends SIGKILL to every process whose session id is `session`, as `pkill -s` does.
    static func killSession(_ session: pid_t) {
        _ = kill(0 - session, SIGKILL)
        for member in members(ofSession: session) { _ = kill(member, SIGKILL) }
    }

    /// The live processes whose session id is `session`, read from /proc.
    public static func members(ofSession session: pid_t) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let member = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let end = stat.lastIndex(of: ")")
            else { return nil }
            // After the command's closing parenthesis: state, ppid, pgrp, session.
            let fields = stat[stat.index(after: end)...].split(separator: " ")
            return fields.count > 3 && fields[0] != "Z" && pid_t(fields[3]) == session ? member : nil
        }
    }

    private func poll(block: Bool) -> Int32? {
        status.withLock {
            if let exitStatus { return exitStatus }
            var raw: Int32 = 0
            var result: pid_t
            repeat { result = waitpid(pid, &raw, block ? 0 : WNOHANG) } while result < 0 && errno == EINTR
            if result == pid { exitStatus = raw } else if result < 0 { exitStatus = -1 }
            return exitStatus
        }
    }
}
