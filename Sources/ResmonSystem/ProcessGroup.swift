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
        var pid: pid_t = 0
        let status = posix_spawn(&pid, command[0], &actions, &attributes, arguments, variables)
        guard status == 0 else { throw SpawnError(code: status) }
        return pid
    }

    /// glibc's `POSIX_SPAWN_SETSID` (2.26 and later), which Swift does not import: spawn.h
    /// declares it only under `_GNU_SOURCE`.
    private static let spawnNewSession: Int32 = 0x80

    /// Kills the whole group and reaps its leader.
    public static func kill(_ pid: pid_t) {
        _ = Glibc.kill(0 - pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
    }

    /// What one run of a program printed, read until it exits, `limit` bytes are read, or
    /// `timeout` seconds pass (the group is then killed).
    public enum RunOutcome: Sendable {
        case finished(output: [UInt8], status: Int32)
        case tooLarge(output: [UInt8])
        case timedOut
    }

    public static func run(_ command: [String], environment: [String], timeout: Double, limit: Int) throws(SpawnError) -> RunOutcome {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw SpawnError(code: errno) }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let pid: pid_t
        do {
            pid = try spawn(command, environment: environment, stdout: ends[1])
        } catch {
            close(ends[0])
            close(ends[1])
            throw error
        }
        close(ends[1])
        defer { close(ends[0]) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        let deadline = Clock.monotonic() + timeout
        while true {
            let left = deadline - Clock.monotonic()
            guard left > 0 else {
                kill(pid)
                return .timedOut
            }
            var descriptor = pollfd(fd: ends[0], events: Int16(POLLIN), revents: 0)
            let ready = (try? Errno.retryingInterrupted { poll(&descriptor, 1, Int32(min(left, 1) * 1000) + 1) }) ?? 0
            guard ready > 0 else { continue }
            let count = (try? FileDescriptor(rawValue: ends[0]).read(into: &chunk, count: chunk.count)) ?? 0
            if count <= 0 { break }
            output += chunk[0..<count]
            if output.count > limit {
                kill(pid)
                return .tooLarge(output: Array(output.prefix(limit)))
            }
        }
        // Output closed: wait for the exit within what is left of the timeout.
        var status: Int32 = 0
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Clock.monotonic() >= deadline {
                kill(pid)
                return .timedOut
            }
            usleep(2000)
        }
        return .finished(output: output, status: status)
    }
}
