import Foundation
import HTTPClient
import ResmonTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 22, D2: a regular expression from any reader took 59 s of CPU (a backreference pattern)
/// or 550 MB for good (`a{1,32767}`) in glibc's regcomp/regexec, and /healthz waited. Every way
/// a pattern comes in is refused with a clear error, and resmond stays up, responsive and small.
@Suite struct RegexBoundsTests {
    static let backreferences = #"(.*)(.*)(.*)(.*)(.*)\5\4\3\2\1x"#
    static let hugeCount = "a{1,32767}"
    static let tooLong = String(repeating: "(ab|cd)", count: 200)
    static let hostile = [backreferences, hugeCount, tooLong]

    static func json(_ text: String) throws -> String {
        String(decoding: try JSONEncoder().encode(text), as: UTF8.self)
    }

    static func residentKilobytes(_ pid: pid_t) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        return try #require(Int(line.split(separator: " ")[1]))
    }

    /// `GET /healthz` over loopback TCP, as the attack measured it.
    static func healthOverTCP(_ listen: String) -> Int {
        (try? HTTPClient.fetch("http://\(listen)/healthz", timeoutMilliseconds: 15_000, maximumBytes: 1 << 16))?.status ?? 0
    }

    @Test func hostilePatternsAreRefusedOnEveryRouteAndResmondStaysResponsive() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "127.0.0.1:0", "--step", "1"])
        let listen = try #require(try daemon.client.status().listen)
        let residentBefore = try Self.residentKilobytes(daemon.process.pid)

        // The issue's requests, two at once, beside /healthz over TCP.
        let answers = Synchronization.Mutex<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 3) { index in
            let status =
                index == 2
                ? Self.healthOverTCP(listen)
                : ((try? daemon.client.send("GET", "/v1/statistics", query: [("match", index == 0 ? Self.hugeCount : Self.backreferences)]))?.status ?? 0)
            answers.withLock { $0.append(status) }
        }
        #expect(answers.withLock { $0.sorted() } == [200, 400, 400])

        for pattern in Self.hostile {
            let shown = "\(pattern.prefix(40))"
            // GET /v1/statistics?match= and ?where=label~
            let match = try daemon.client.send("GET", "/v1/statistics", query: [("match", pattern)])
            let matchText = String(decoding: match.body, as: UTF8.self)
            #expect(
                match.status == 400 && matchText.contains("invalid_regex") && matchText.contains("match: invalid regular expression"), "\(shown): \(matchText)")
            let label = try daemon.client.send("GET", "/v1/statistics", query: [("where", "name~" + pattern)])
            let labelText = String(decoding: label.body, as: UTF8.self)
            #expect(label.status == 400 && labelText.contains("name~: invalid regular expression"), "\(shown): \(labelText)")

            // Event filters: the query and the stream.
            let quoted = "\"" + pattern.replacingOccurrences(of: "\\", with: "\\\\") + "\""
            for path in ["/v1/events", "/v1/events/stream"] {
                let events = try daemon.client.send("GET", path, query: [("filter", "message ~ \(quoted)")])
                let eventsText = String(decoding: events.body, as: UTF8.self)
                #expect(events.status == 400 && eventsText.contains("invalid regular expression"), "\(path) \(shown): \(eventsText)")
            }

            // Monitor targets: select and where, on create and in a backtest.
            let targets = [
                #"{"select": \#(try Self.json(pattern)), "aggregate": "sum"}"#,
                #"{"select": "^cpu:", "where": {"name": \#(try Self.json(pattern))}, "aggregate": "sum"}"#
            ]
            for target in targets {
                let spec = #"{"id": "hostile", "target": \#(target), "condition": "above", "value": 1}"#
                let created = try daemon.client.send("POST", "/v1/monitors", body: Array(spec.utf8))
                let createdText = String(decoding: created.body, as: UTF8.self)
                #expect(created.status == 400 && createdText.contains("invalid regular expression"), "\(shown): \(createdText)")
                let backtest = try daemon.client.send("POST", "/v1/monitors/test", body: Array(#"{"spec": \#(spec)}"#.utf8))
                let backtestText = String(decoding: backtest.body, as: UTF8.self)
                #expect(backtest.status == 400 && backtestText.contains("invalid regular expression"), "\(shown): \(backtestText)")
            }

            // perfmon's rrd_regex.
            let variable =
                #"<config><variable><name value="network_usage"/><alarm_trigger_level value="1"/><rrd_regex value="\#(pattern)"/></variable></config>"#
            let imported = try daemon.client.send("POST", "/v1/monitors/import/perfmon", query: [("object", "host")], body: Array(variable.utf8))
            let importedText = String(decoding: imported.body, as: UTF8.self)
            #expect(imported.status == 400 && importedText.contains("rrd_regex"), "\(shown): \(importedText)")
        }

        // A monitors.d file: the entry is refused and logged, the others load.
        try daemon.directory.write(
            "config/monitors.d/regex.json",
            """
            {"backreferences": {"target": {"select": \(try Self.json(Self.backreferences)), "aggregate": "sum"}, "condition": "above", "value": 1},
             "count": {"target": {"select": "^cpu:", "where": {"name": \(try Self.json(Self.hugeCount))}, "aggregate": "sum"}, "condition": "above", "value": 1},
             "fine": {"target": {"select": "^cpu:cpu\\\\d+:usage_ratio$", "aggregate": "average"}, "condition": "above", "value": 2}}
            """)
        daemon.signal(SIGHUP)
        #expect(daemon.eventually(timeout: 30) { (try? daemon.client.monitor("regex.fine")) != nil })
        // Logged after the file's monitors are in place: waited for, not read at once.
        #expect(
            daemon.eventually(timeout: 30) { daemon.stderr.contains("monitors.d/regex.json: regex.backreferences: target: match: invalid regular expression") },
            "\(daemon.stderr)")
        #expect(
            daemon.eventually(timeout: 30) { daemon.stderr.contains("monitors.d/regex.json: regex.count: target: name~: invalid regular expression") },
            "\(daemon.stderr)")

        // The same patterns in RE2's syntax work: `\d`, and a case-insensitive label match.
        #expect(try daemon.client.statistics(matching: #"^cpu:cpu\d+:usage_ratio$"#).isEmpty == false)
        #expect(try daemon.client.statistics(matching: "^cpu:", where: ["subsystem~(?i)^CPU$"]).isEmpty == false)
        _ = try daemon.client.events(filter: #"message ~ "(?i)ABOVE" || type ~ "^x""#)

        // Still up, answering, and as small as it was.
        #expect(Self.healthOverTCP(listen) == 200)
        try daemon.waitForCycles(2)
        let residentAfter = try Self.residentKilobytes(daemon.process.pid)
        #expect(residentAfter < residentBefore + 64 * 1024, "RSS \(residentBefore) kB before, \(residentAfter) kB after")
    }

    /// A sink's filter in resmond.json is checked with the same engine, and named by its key.
    @Test func aSinkFilterWithAnUnboundedPatternIsRefusedWithTheKey() throws {
        for pattern in Self.hostile {
            let directory = TemporaryDirectory("resmon-regex-config")
            let filter = "message ~ \"" + pattern.replacingOccurrences(of: "\\", with: "\\\\") + "\""
            try directory.write("config/resmond.json", #"{"sinks": {"x": {"type": "syslog", "filter": \#(try Self.json(filter))}}}"#)
            let result = try Products.run(Products.path("resmond"), ["--config-dir", directory.file("config"), "--check-config"])
            #expect(
                result.status != 0 && result.error.contains("key sinks.x.filter") && result.error.contains("invalid regular expression"),
                "\(pattern.prefix(40)): \(result.error)")
        }
    }
}
