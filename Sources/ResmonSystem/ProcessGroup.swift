import CSystem

#if canImport(Glibc)
    import Glibc
#endif

/// A program started with posix_spawn as the leader of its own process group, with an empty
/// signal mask and default dispositions, so that it and every child it makes can be killed at
/// once. Used by exec plug-ins and the exec sink.
public enum ProcessGroup {
    public struct SpawnError: Error, Sendable, CustomStringConvertible {
        public let code: Int32
        public var description: String { Errno(rawValue: code).description }
    }

    /// Starts `command` (an absolute path and its arguments) with `environment`; standard input,
    /// output and error come from the descriptors given (nil: /dev/null). Returns the pid, which
    /// is also the group id. With `newSession` the program leads a session of its own instead of
    /// only a group, so that every process it starts, whatever group it makes, can be found by
    /// that session id (`pkill -s`): the test harness's reaper relies on it.
    public static func spawn(
        _ command: [String], environment: [String], stdin: Int32? = nil, stdout: Int32? = nil,
        stderr: Int32? = nil, newSession: Bool = false
    ) throws(SpawnError) -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        // A new session makes its leader a group leader too; asking for both fails with EPERM.
        let grouping = newSession ? ProcessGroup.spawnNewSession : POSIX_SPAWN_SETPGROUP
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | grouping))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdin { posix_spawn_file_actions_adddup2(&actions, stdin, 0) } else { posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) }
        if let stdout { posix_spawn_file_actions_adddup2(&actions, stdout, 1) } else { posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0) }
        if let stderr { posix_spawn_file_actions_adddup2(&actions, stderr, 2) } else { posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0) }
        let arguments = command.map { strdup($0) } + [nil]
        let variables = environment.map { strdup($0) } + [nil]
        defer {
            arguments.forEach { free($0) }
            variables.forEach { free($0) }
        }
        // Started and recorded under one lock, so that `reapOrphans` never takes a child just
        // started for one nobody knows.
        let (status, pid) = known.withLock { known -> (Int32, pid_t) in
            var pid: pid_t = 0
            let status = posix_spawn(&pid, command[0], &actions, &attributes, arguments, variables)
            if status == 0 { known.insert(pid) }
            return (status, pid)
        }
        guard status == 0 else { throw SpawnError(code: status) }
        return pid
    }

    /// The children `spawn` started that have not been reaped through `wait` yet: every other
    /// child of resmond is an orphan it inherited as a subreaper.
    private static let known = Lock<Set<pid_t>>([])

    /// `waitpid` for a child `spawn` started (`options` as waitpid's, WNOHANG say): the pid once
    /// reaped, 0 while it runs, -1 when it is not a child. Every reap of such a child goes
    /// through here, so that `reapOrphans` knows it is no longer there.
    @discardableResult
    public static func wait(_ pid: pid_t, status: inout Int32, options: Int32 = 0) -> pid_t {
        var result: pid_t
        repeat { result = waitpid(pid, &status, options) } while result < 0 && errno == EINTR
        if result == pid || result < 0 { _ = known.withLock { $0.remove(pid) } }
        return result
    }

    /// glibc's `POSIX_SPAWN_SETSID` (2.26 and later), which Swift does not import: spawn.h
    /// declares it only under `_GNU_SOURCE`.
    private static let spawnNewSession: Int32 = 0x80

    /// Kills the whole group and reaps its leader.
    public static func kill(_ pid: pid_t) {
        _ = Glibc.kill(0 - pid, SIGKILL)
        var status: Int32 = 0
        wait(pid, status: &status)
    }

    /// What one run of a program printed, read until it exits, `limit` bytes are read, or
    /// `timeout` seconds pass (the group is then killed).
    public enum RunOutcome: Sendable {
        case finished(output: [UInt8], status: Int32)
        case tooLarge(output: [UInt8])
        case timedOut
    }

    public static func run(_ command: [String], environment: [String], timeout: Double, limit: Int) throws(SpawnError) -> RunOutcome {
        let ends: (read: FileDescriptor, write: FileDescriptor)
        do { ends = try FileDescriptor.pipe() } catch { throw SpawnError(code: error.rawValue) }
        let pid: pid_t
        do {
            pid = try spawn(command, environment: environment, stdout: ends.write.rawValue)
        } catch {
            ends.read.close()
            ends.write.close()
            throw error
        }
        ends.write.close()
        defer { ends.read.close() }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        let deadline = Clock.monotonic() + timeout
        while true {
            let left = deadline - Clock.monotonic()
            guard left > 0 else {
                kill(pid)
                return .timedOut
            }
            var descriptor = pollfd(fd: ends.read.rawValue, events: Int16(POLLIN), revents: 0)
            let ready = (try? Errno.retryingInterrupted { poll(&descriptor, 1, Int32(min(left, 1) * 1000) + 1) }) ?? 0
            guard ready > 0 else { continue }
            let count = (try? ends.read.read(into: &chunk, count: chunk.count)) ?? 0
            if count <= 0 { break }
            output += chunk[0..<count]
            if output.count > limit {
                kill(pid)
                return .tooLarge(output: Array(output.prefix(limit)))
            }
        }
        // Output closed: wait for the exit within what is left of the timeout, without reaping
        // the leader yet: while it is a zombie its group id cannot go to another process, so
        // what it left running in its group (`sleep 1000 >/dev/null &`) is killed, and nothing else.
        while !hasExited(pid) {
            if Clock.monotonic() >= deadline {
                kill(pid)
                return .timedOut
            }
            usleep(2000)
        }
        var status: Int32 = 0
        kill(pid, status: &status)
        return .finished(output: output, status: status)
    }

    /// Whether a child has exited, leaving it to be reaped (waitid with WNOWAIT).
    static func hasExited(_ pid: pid_t) -> Bool {
        var information = siginfo_t()
        let result = waitid(P_PID, id_t(pid), &information, WEXITED | WNOHANG | WNOWAIT)
        // With WNOHANG and nothing to report, Linux answers 0 and leaves the record zeroed.
        return result == 0 ? information.si_signo != 0 : errno != EINTR
    }

    /// Kills the group and reaps its leader, giving the leader's status.
    static func kill(_ pid: pid_t, status: inout Int32) {
        _ = Glibc.kill(0 - pid, SIGKILL)
        wait(pid, status: &status)
    }

    /// Kills and reaps the children of this process that `spawn` did not start: what a program
    /// left running in a session or group of its own, which the kernel re-parents to resmond
    /// once resmond is a child subreaper (`PR_SET_CHILD_SUBREAPER`) and its parent exits.
    /// Returns how many it killed. Those still dying after a second are reaped by the next call.
    /// Makes this process a child subreaper (`PR_SET_CHILD_SUBREAPER`): descendants whose parent
    /// exits come to it, not to init, so that `reapOrphans` can kill them.
    public static func becomeChildSubreaper() throws(Errno) {
        guard rs_set_child_subreaper() == 0 else { throw Errno.current }
    }

    @discardableResult
    public static func reapOrphans() -> Int {
        let orphans = known.withLock { known in
            let orphans = children().filter { !known.contains($0) }
            for pid in orphans { _ = Glibc.kill(pid, SIGKILL) }
            return orphans
        }
        var left = orphans
        let deadline = Clock.monotonic() + 1
        while !left.isEmpty && Clock.monotonic() < deadline {
            left.removeAll { pid in
                var status: Int32 = 0
                return waitpid(pid, &status, WNOHANG) != 0
            }
            if !left.isEmpty { usleep(1000) }
        }
        return orphans.count
    }

    /// This process's children: each thread's `/proc/self/task/TID/children` (the kernel's
    /// CONFIG_PROC_CHILDREN), or where that is missing, every process whose parent it is.
    static func children() -> [pid_t] {
        let tasks = numericEntries(of: "/proc/self/task")
        guard let first = tasks.first, access("/proc/self/task/\(first)/children", R_OK) == 0 else { return childrenByParent() }
        var pids: [pid_t] = []
        for task in tasks {
            guard let bytes = try? readFile(at: "/proc/self/task/\(task)/children", limit: 1 << 20) else { continue }
            pids += bytes.split(whereSeparator: { $0 == 0x20 || $0 == 0x0a }).compactMap { pid_t(String(decoding: $0, as: UTF8.self)) }
        }
        return pids
    }

    private static func childrenByParent() -> [pid_t] {
        let me = getpid()
        return numericEntries(of: "/proc").filter { pid in
            guard let bytes = try? readFile(at: "/proc/\(pid)/stat", limit: 4096), let close = bytes.lastIndex(of: 0x29) else { return false }
            // After "pid (comm) ": the state, then the parent's pid.
            let fields = bytes[(close + 1)...].split(separator: 0x20)
            return fields.count > 1 && pid_t(String(decoding: fields[1], as: UTF8.self)) == me
        }
    }

    private static func numericEntries(of directory: String) -> [pid_t] {
        var pids: [pid_t] = []
        try? forEachDirectoryEntry(in: directory) { name, _ in
            if let pid = pid_t(String(decodingUTF8: name)) { pids.append(pid) }
        }
        return pids
    }
}
