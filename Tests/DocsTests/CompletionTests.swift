import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

/// The shell completions, run in the real shells: commands, verbs and options from resmon's
/// declarations, monitor ids and statistic keys from a running resmond.
@Suite struct CompletionTests {
    static let root = Products.packageRoot()
    /// resmon on the PATH, as the completions call it.
    static let path = (Products.path("resmon") as NSString).deletingLastPathComponent + ":/usr/bin:/bin"

    /// What bash's completion offers for `line` (the cursor at its end), as bash calls it:
    /// COMP_LINE, COMP_POINT, and COMP_WORDS split at COMP_WORDBREAKS (colons included).
    static func bash(_ line: String, socket: String = "/nonexistent/resmond.sock") throws -> [String] {
        let script = """
            source \(root)/dist/completion/resmon.bash
            COMP_LINE=$1; COMP_POINT=${#COMP_LINE}
            read -ra COMP_WORDS <<<"${COMP_LINE//:/ : }"
            [[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
            COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
            _resmon
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        let result = try Products.run(
            "/bin/bash", ["--norc", "--noprofile", "-c", script, "bash", line], environment: ["PATH": path, "RESMON_SOCKET": socket])
        #expect(result.status == 0 && result.error.isEmpty, "bash: \(result.error)")
        return result.output.split(separator: "\n").map(String.init)
    }

    static func fish(_ line: String, socket: String = "/nonexistent/resmond.sock") throws -> [String] {
        let result = try Products.run(
            "/usr/bin/fish", ["--no-config", "-c", "source \(root)/dist/completion/resmon.fish; complete -C $argv[1]", line],
            environment: ["PATH": path, "RESMON_SOCKET": socket])
        #expect(result.status == 0 && result.error.isEmpty, "fish: \(result.error)")
        return result.output.split(separator: "\n").map { String($0.prefix { $0 != "\t" }) }
    }

    /// What zsh's completion offers, typed into an interactive zsh in a pseudo-terminal.
    static func zsh(_ line: String, socket: String = "/nonexistent/resmond.sock") throws -> [String] {
        let result = try Products.run(
            "/usr/bin/zsh", ["-f", root + "/Tests/DocsTests/Shell/zsh-capture.zsh", root + "/dist/completion", line],
            environment: ["PATH": path, "RESMON_SOCKET": socket], timeout: 60)
        #expect(result.status == 0, "zsh: \(result.error)")
        return result.output.split(separator: "\n").map(String.init)
    }

    @Test func bashCompletesCommandsVerbsAndOptions() throws {
        #expect(try Self.bash("resmon mon") == ["monitor"])
        #expect(try Self.bash("resmon s").sorted() == ["sinks", "stats", "status", "subsystems"])
        #expect(try Self.bash("resmon monitor st").sorted() == ["start", "stop"])
        #expect(try Self.bash("resmon --socket /tmp/x eve").sorted() == ["event", "events"], "the socket's value is no command")
        #expect(try Self.bash("resmon events --fo") == ["--follow"])
        #expect(try Self.bash("resmon stats --wh") == ["--where"])
        #expect(try Self.bash("resmon --js") == ["--json"])
        #expect(try Self.bash("resmon history cpu:total:usage_ratio --cf m").sorted() == ["max", "min"], "an option's choices")
        #expect(try Self.bash("resmon monitor create --severity cr") == ["crit"])
        #expect(try Self.bash("resmon get cpu:").isEmpty, "no resmond: nothing, and nothing printed")
    }

    @Test func fishCompletesCommandsVerbsAndOptions() throws {
        #expect(try Self.fish("resmon mon") == ["monitor"])
        #expect(try Self.fish("resmon monitor st").sorted() == ["start", "stop"])
        #expect(try Self.fish("resmon events --fo") == ["--follow"])
        #expect(try Self.fish("resmon stats --wh") == ["--where"])
        #expect(try Self.fish("resmon history cpu:total:usage_ratio --cf m").sorted() == ["max", "min"])
    }

    @Test func zshCompletesCommandsVerbsAndOptions() throws {
        let result = try Products.run("/usr/bin/zsh", ["-n", Self.root + "/dist/completion/_resmon"])
        #expect(result.status == 0 && result.error.isEmpty, "zsh -n: \(result.error)")
        #expect(try Self.zsh("resmon mon") == ["monitor"])
        #expect(try Self.zsh("resmon monitor st").sorted() == ["start", "stop"])
        #expect(try Self.zsh("resmon events --fo") == ["--follow"])
        #expect(try Self.zsh("resmon push app:x:y 1 --kind c") == ["counter"])
        #expect(try Self.zsh("resmon --socket /tmp/x eve").sorted() == ["event", "events"])
    }

    /// Against a real resmond with two monitors: their ids, and statistic keys, colons and all.
    @Test func monitorIDsAndStatisticKeysComeFromTheRunningDaemon() throws {
        let daemon = try DaemonHarness()
        try daemon.waitForCycles(1)
        let created = try daemon.client.createMonitors([
            MonitorSpec(target: "cpu:total:usage_ratio", condition: "above", value: 0.99),
            MonitorSpec(target: "memory:host:used_ratio", condition: "above", value: 0.99)
        ])
        let ids = created.map(\.id).sorted()
        #expect(ids.count == 2)
        #expect(try Self.bash("resmon monitor show ", socket: daemon.socket).sorted() == ids)
        let first = try #require(ids.first)
        #expect(try Self.bash("resmon monitor delete " + first.prefix(6), socket: daemon.socket).contains(first))
        #expect(try Self.bash("resmon monitor create ", socket: daemon.socket).contains("cpu:total:usage_ratio"))
        // bash replaces only what follows the word's last colon.
        #expect(try Self.bash("resmon get cpu:total:usage_r", socket: daemon.socket) == ["usage_ratio"])
        #expect(try Self.bash("resmon --json watch memory:host:", socket: daemon.socket).contains("used_ratio"))
        #expect(try Self.fish("resmon monitor show ", socket: daemon.socket).sorted() == ids)
        #expect(try Self.fish("resmon get cpu:total:usage_r", socket: daemon.socket) == ["cpu:total:usage_ratio"])
        #expect(try Self.zsh("resmon monitor show ", socket: daemon.socket).sorted() == ids)
        #expect(try Self.zsh("resmon get cpu:total:usage_r", socket: daemon.socket) == ["cpu:total:usage_ratio"])

        // --socket on the line names the daemon, before the command or after it.
        for line in ["resmon --socket \(daemon.socket) monitor show ", "resmon monitor show --socket=\(daemon.socket) "] {
            #expect(try Self.bash(line).sorted() == ids, "\(line)")
            #expect(try Self.fish(line).sorted() == ids, "\(line)")
            #expect(try Self.zsh(line).sorted() == ids, "\(line)")
        }

        let resmon = Products.path("resmon")
        let listed = try Products.run(resmon, ["--complete", "monitors", ""], environment: ["RESMON_SOCKET": daemon.socket])
        #expect(listed.status == 0 && listed.output.split(separator: "\n").map(String.init).sorted() == ids, "\(listed.error)")
        let gone = try Products.run(resmon, ["--complete", "statistics", "cpu:"], environment: ["RESMON_SOCKET": "/nonexistent/resmond.sock"])
        #expect(gone.status != 0 && gone.output.isEmpty && gone.error.isEmpty, "quiet without a daemon: \(gone.error)")
    }

    /// A statistic key is anyone's who may push one (attack round 5): `$(…)` in it must reach the
    /// command line quoted, never as shell code, and a glob pattern in it must not expand.
    @Test func aHostileKeyIsOfferedQuotedAndNeverRun() throws {
        let daemon = try DaemonHarness()
        let scratch = TemporaryDirectory("resmon-completion")
        let marker = scratch.file("ran")
        let hostile = "app:web$(touch " + marker + "):requests"
        _ = try daemon.client.push(hostile, value: 1)
        _ = try daemon.client.push("app:glob*:x", value: 1)
        let offered = try Self.bash("resmon get app:w", socket: daemon.socket)
        let reply = try #require(offered.first, "the hostile key is offered")
        // What bash inserts, read back as the shell reads a command line, is the key's last part.
        let words = try Products.run("/bin/bash", ["--norc", "--noprofile", "-c", "eval \"set -- $1\"; printf '%s' \"$1\"", "bash", reply])
        #expect(words.output == String(hostile.split(separator: ":", maxSplits: 1)[1]), "quoted: \(reply)")
        #expect(!FileManager.default.fileExists(atPath: marker), "the key's $(…) never ran")
        #expect(try Self.bash("resmon get app:g", socket: daemon.socket) == ["glob\\*:x"], "a glob pattern is offered quoted")
        #expect(try Self.fish("resmon get app:w", socket: daemon.socket).count == 1)
        #expect(!FileManager.default.fileExists(atPath: marker))
    }
}
