import Foundation
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// No test leaves a process behind, even when the test runner itself is killed: every child
/// the harness starts leads a session that a reaper ends when the runner's process ends.
@Suite struct ProcessHygieneTests {
    static let victimVariable = "RESMON_TEST_VICTIM"

    /// Runs only inside the runner that the next test starts and kills (the variable names the
    /// file it reports to): a daemon with an exec plug-in, a CLI follower and a helper program,
    /// then it waits to be killed.
    @Test(.enabled(if: ProcessInfo.processInfo.environment[victimVariable] != nil))
    func victimStartsChildrenThenWaitsToBeKilled() throws {
        let report = try #require(ProcessInfo.processInfo.environment[Self.victimVariable])
        let directory = TemporaryDirectory("resmon-victim")
        let pluginPid = directory.file("plugin.pid")
        let program = try PluginTests.script(directory, "slow.sh", "echo $$ > \(pluginPid); sleep 600; echo 'slow 1'")
        try directory.write("config/subsystems.d/slow.json", #"{"kind": "exec", "command": ["\#(program)"], "timeout": 600}"#)
        let daemon = try DaemonHarness(directory: directory)
        let follower = try ChildProcess(Products.path("resmon"), ["--socket", daemon.socket, "events", "--follow"])
        let sleeper = try SpawnedGroup("/bin/sleep", ["600"])
        #expect(daemon.eventually(timeout: 60) { FileManager.default.fileExists(atPath: pluginPid) })
        let plugin = try String(contentsOfFile: pluginPid, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        try "\(daemon.process.pid) \(follower.pid) \(sleeper.pid) \(plugin)\n".write(toFile: report, atomically: true, encoding: .utf8)
        while true { pause() }
    }

    @Test func aKilledTestRunnerLeavesNoChildBehind() throws {
        let directory = TemporaryDirectory("resmon-hygiene")
        let report = directory.file("children")
        let runner = try ChildProcess(
            CommandLine.arguments[0],
            [
                "--testing-library", "swift-testing",
                "--filter", "victimStartsChildrenThenWaitsToBeKilled"
            ],
            environment: [Self.victimVariable: report])
        defer { runner.stop() }
        var children: [pid_t] = []
        #expect(
            eventually(timeout: 120) {
                children = ((try? String(contentsOfFile: report, encoding: .utf8)) ?? "").split(whereSeparator: \.isWhitespace).compactMap { pid_t($0) }
                return children.count == 4
            }, "the runner started its children")
        try #require(children.count == 4)
        #expect(children.allSatisfy(Self.isAlive), "all four run before the runner is killed")

        // Only the runner, by SIGKILL: no deinit, no defer, no atexit of its own runs.
        runner.signal(SIGKILL)
        #expect(
            eventually(timeout: 60) { !children.contains(where: Self.isAlive) },
            "still running: \(children.filter(Self.isAlive))")
    }

    /// Alive and not a zombie waiting for init to reap it.
    static func isAlive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let end = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: end)...].split(separator: " ").first != "Z"
    }
}
