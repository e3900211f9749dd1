import Foundation
import ResmonAPI
import ResmonTestSupport
import Testing

/// What `resmon` prints for a person: one rule for values (a ratio is a percentage wherever it
/// is shown), tables that fit 100 columns, short ids that work as ids, and an empty result that
/// says so.
@Suite struct CLIOutputTests {
    @Test func tablesFitAHundredColumnsAndShortIDsWorkAsIDs() throws {
        let daemon = try DaemonHarness(defaultMonitors: true)
        let environment = ["RESMON_SOCKET": daemon.socket]
        let resmon = Products.path("resmon")
        _ = try daemon.client.push("app:web:busy_ratio", value: 0.42)
        var spec = MonitorSpec(target: "app:web:busy_ratio", condition: "above", value: 0.6)
        spec.name = "the web tier's share of busy workers, which pages the on-call engineer when it stays high"
        let created = try #require(try daemon.client.createMonitors([spec]).first)
        #expect(UUIDText.isUUID(created.id), "the API's default id is a UUID")
        #expect(daemon.eventually(timeout: 30) { (try? daemon.client.monitor(created.id).state.lastValue) == 0.42 })

        let list = try Products.run(resmon, ["monitor", "list"], environment: environment)
        #expect(list.status == 0, "\(list.error)")
        let lines = list.output.split(separator: "\n")
        #expect(lines.count > 3)
        #expect(lines.allSatisfy { $0.count <= 100 }, "\(lines.filter { $0.count > 100 })")
        let short = String(created.id.prefix(8))
        let row = try #require(lines.first { $0.hasPrefix(short + " ") }, "\(list.output)")
        #expect(row.contains("the web tier's share") && row.contains("…") && row.contains("42 %"), "\(row)")
        #expect(!list.output.contains(created.id), "tables show the short id")

        let shown = try Products.run(resmon, ["monitor", "show", short], environment: environment)
        #expect(shown.status == 0, "\(shown.error)")
        #expect(shown.output.contains(created.id) && shown.output.contains("above 60 %") && shown.output.contains("42 %"), "\(shown.output)")
        #expect(shown.output.contains(spec.name!), "show has the whole name")
        let stopped = try Products.run(resmon, ["monitor", "stop", short], environment: environment)
        #expect(stopped.status == 0, "\(stopped.error)")
        #expect(try !daemon.client.monitor(created.id).state.running)
        let unknown = try Products.run(resmon, ["monitor", "show", "ffffffff"], environment: environment)
        #expect(unknown.status == 1 && unknown.error.contains("no monitor ffffffff"), "\(unknown.error)")

        let stats = try Products.run(resmon, ["stats", "busy_ratio"], environment: environment)
        #expect(stats.output.contains("42 %"), "the same rule in stats: \(stats.output)")
    }

    @Test func anEmptyResultSaysSo() throws {
        let daemon = try DaemonHarness()
        let environment = ["RESMON_SOCKET": daemon.socket]
        let resmon = Products.path("resmon")
        let stats = try Products.run(resmon, ["stats", ":rss_bytes$", "--where", "name~^no-such-program$"], environment: environment)
        #expect(stats.status == 0 && stats.output == "no statistics whose keys match ':rss_bytes$' and have name~^no-such-program$\n", "\(stats.output)")
        let monitors = try Products.run(resmon, ["monitor", "list"], environment: environment)
        #expect(monitors.output == "no monitors\n", "\(monitors.output)")
        let events = try Products.run(resmon, ["events", "--filter", "severity >= crit"], environment: environment)
        #expect(events.output == "no events match 'severity >= crit'\n", "\(events.output)")
    }
}

extension CLIOutputTests {
    @Test func eventsFollowTheSameRuleAndNameAProcess() throws {
        let daemon = try DaemonHarness()
        _ = try daemon.client.push("app:web:busy_ratio", value: 0.95)
        let process = "process:\(daemon.process.pid):rss_bytes"
        #expect(daemon.eventually(timeout: 60) { (try? daemon.client.statistic(process)) != nil })
        let ratio = MonitorSpec(target: "app:web:busy_ratio", condition: "above", value: 0.8)
        var memory = MonitorSpec(target: .key(process), condition: "above", value: 1_048_576)
        memory.id = "resmond-rss"
        let created = try daemon.client.createMonitors([ratio, memory])
        #expect(created.first?.spec.name == "app:web:busy_ratio above 80 %", "a generated name follows the rule")
        #expect(daemon.eventually(timeout: 60) { ((try? daemon.client.events().events.count) ?? 0) == 2 })
        let messages = try daemon.client.events().events.map(\.message)
        #expect(messages.contains("app:web:busy_ratio is 95 %, above 80 %"), "\(messages)")
        let rss = try #require(messages.first { $0.hasPrefix(process) }, "\(messages)")
        #expect(rss.hasPrefix(process + " (resmond) is ") && rss.contains(" MiB, above 1 MiB"), "\(rss)")
    }
}

extension CLIOutputTests {
    /// Usage, --help and option errors come from each command's declaration.
    @Test(arguments: [
        "status", "subsystems", "stats", "get", "watch", "history", "push", "monitor", "events",
        "import-perfmon", "sinks", "reload", "version"
    ])
    func everyCommandHasHelpFromItsDeclaration(command: String) throws {
        let resmon = Products.path("resmon")
        let overview = try Products.run(resmon, ["--help"])
        #expect(overview.status == 0 && overview.output.contains("\n  \(command) "), "\(overview.output)")
        let help = try Products.run(resmon, [command, "--help"])
        #expect(help.status == 0 && help.output.hasPrefix("Usage: resmon \(command)") && help.output.contains("--json"), "\(help.output)")
        let unknown = try Products.run(resmon, [command, "--frobnicate"], environment: ["RESMON_SOCKET": "/nonexistent"])
        #expect(
            unknown.status == 64 && unknown.error == "resmon: unknown option --frobnicate for \(command) (see resmon \(command) --help)\n",
            "\(unknown.error)")
    }

    @Test func optionsApplyWhereTheyAreDeclared() throws {
        let resmon = Products.path("resmon")
        let environment = ["RESMON_SOCKET": "/nonexistent"]
        let list = try Products.run(resmon, ["monitor", "list", "--samples", "3"], environment: environment)
        #expect(list.status == 64 && list.error.contains("--samples does not apply to monitor list"), "\(list.error)")
        let create = try Products.run(resmon, ["monitor", "create", "load:host:load1", "above", "5", "--cf", "max"], environment: environment)
        #expect(create.status == 64 && create.error.contains("--cf applies to monitor test only"), "\(create.error)")
        let missing = try Products.run(resmon, ["history"], environment: environment)
        #expect(missing.status == 64 && missing.error.contains("history needs KEY"), "\(missing.error)")
        let none = try Products.run(resmon, [])
        #expect(none.status == 64 && none.error.contains("a command is needed"))
        let negative = try Products.run(resmon, ["push", "app:x:y", "-5"], environment: environment)
        #expect(negative.status == 2, "a negative VALUE is a value, not an option: \(negative.error)")
    }

    /// A duration past Int (issue 22's audit): a usage error (EX_USAGE), not a trap.
    @Test func aDurationPastIntIsAUsageError() throws {
        let resmon = Products.path("resmon")
        let directory = TemporaryDirectory("resmon-cli")
        let result = try Products.run(
            resmon, ["history", "cpu:total:usage_ratio", "--since", "99999999999999w"], environment: ["RESMON_SOCKET": directory.file("none.sock")])
        #expect(result.status == 64, "\(result.status) \(result.error)")
        #expect(result.error.contains("--since: expected a duration"), "\(result.error)")
    }
}
