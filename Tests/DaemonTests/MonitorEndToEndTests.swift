import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct MonitorEndToEndTests {
    @Test func aRestartCleanOrKillNineNeitherLosesNorRepeats() throws {
        let directory = TemporaryDirectory("resmon-monitor-restart")
        var daemon: DaemonHarness? = try DaemonHarness(directory: directory)
        _ = try daemon!.client.push("app:test:level", value: 10)
        var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        spec.id = "level"
        _ = try daemon!.client.createMonitors([spec])
        _ = try daemon!.client.push("app:test:level", value: 60)
        #expect(daemon!.eventually { (try? daemon!.client.monitor("level").state.phase) == "raised" })
        #expect(try daemon!.client.events().events.map(\.type) == ["above"])

        for stop in [SIGTERM, SIGKILL] {
            daemon!.signal(stop)
            _ = daemon!.waitForExit(timeout: 5)
            daemon = nil
            daemon = try DaemonHarness(directory: directory)
            _ = try daemon!.client.push("app:test:level", value: 70)  // still above
            #expect(daemon!.eventually { (try? daemon!.client.monitor("level").state.lastValue) == 70 })
            #expect(try daemon!.client.monitor("level").state.phase == "raised")
            #expect(try daemon!.client.events().events.map(\.type) == ["above"], "after \(stop == SIGTERM ? "SIGTERM" : "SIGKILL")")
        }
        _ = try daemon!.client.push("app:test:level", value: 1)
        #expect(daemon!.eventually { (try? daemon!.client.events().events.map(\.type)) == ["above", "canceled"] })
    }

    /// Issue 15: a monitor flapping on a pushed statistic logs one raise and its cancel per
    /// loggingRate (perfmon's inhibit period), and the hold survives kill -9.
    @Test func aFlappingMonitorIsHeldToItsLoggingRateAcrossAKillNine() throws {
        let directory = TemporaryDirectory("resmon-monitor-flap")
        var daemon: DaemonHarness? = try DaemonHarness(directory: directory)
        _ = try daemon!.client.push("app:test:level", value: 10)
        var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        spec.id = "flap"
        spec.loggingRate = 3600
        _ = try daemon!.client.createMonitors([spec])
        /// Pushes a value and waits until the monitor has evaluated it.
        func push(_ value: Double) throws {
            _ = try daemon!.client.push("app:test:level", value: value)
            try #require(
                daemon!.eventually(timeout: 30) { (try? daemon!.client.monitor("flap").state.lastValue) == value },
                "the monitor never read \(value)")
        }
        for round in 0..<7 {
            try push(60 + Double(round))  // a different value each time, so the wait sees the new one
            #expect(try daemon!.client.monitor("flap").state.phase == "raised")
            try push(10 + Double(round))
            #expect(try daemon!.client.monitor("flap").state.phase == "clear")
        }
        let events = try daemon!.client.events().events
        #expect(events.map(\.type) == ["above", "canceled"])
        try #require(events.count == 2)
        #expect(events[1].cancels == events[0].id)

        daemon!.signal(SIGKILL)
        _ = daemon!.waitForExit(timeout: 10)
        daemon = nil
        daemon = try DaemonHarness(directory: directory)
        try push(70)  // raised again after the restart: still held
        let held = try daemon!.client.monitor("flap").state
        #expect(held.phase == "raised" && held.notified == false)
        try push(5)
        #expect(try daemon!.client.events().events.map(\.type) == ["above", "canceled"])

        // Deleting a monitor another depends on answers 409, naming the dependent.
        var dependent = MonitorSpec(target: "app:test:level", condition: "above", value: 80)
        dependent.id = "dependent"
        dependent.precondition = MonitorPrecondition(monitor: "flap")
        _ = try daemon!.client.createMonitors([dependent])
        do {
            try daemon!.client.deleteMonitor("flap")
            Issue.record("deleting a monitor another depends on was accepted")
        } catch {
            guard case .api(let status, let code, let message) = error else { Issue.record("unexpected \(error)"); return }
            #expect(status == 409 && code == .conflict)
            #expect(message == "monitors dependent depend on flap (precondition); change or delete them first")
        }
    }

    @Test func aBurstOfCreationsInterruptedByKillNineLosesNoneAcknowledged() throws {
        let directory = TemporaryDirectory("resmon-monitor-burst")
        var daemon: DaemonHarness? = try DaemonHarness(directory: directory)
        let client = daemon!.client
        let acknowledged = ResmonTestSupport.Mutex<[String]>([])
        let failure = ResmonTestSupport.Mutex<String>("")
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            for index in 0..<2000 {
                var spec = MonitorSpec(target: "load:host:load1", condition: "above", value: 1000)
                spec.id = "burst-\(index)"
                do {
                    _ = try client.createMonitors([spec])
                } catch {
                    failure.set("\(error)")
                    break
                }
                acknowledged.set(acknowledged.get() + [spec.id!])
            }
            done.signal()
        }
        // Kill it mid-burst: once some creations are acknowledged, however busy the machine is.
        let deadline = Date().addingTimeInterval(20)
        while acknowledged.get().count < 20 && Date() < deadline && failure.get().isEmpty { usleep(10_000) }
        daemon!.signal(SIGKILL)
        _ = daemon!.waitForExit(timeout: 5)
        done.wait()
        daemon = nil
        let acked = acknowledged.get()
        #expect(acked.count > 10, "\(failure.get())")
        let restarted = try DaemonHarness(directory: directory)
        let stored = Set(try restarted.client.monitors().map(\.id))
        #expect(acked.allSatisfy { stored.contains($0) }, "lost: \(acked.filter { !stored.contains($0) }.prefix(5))")
    }

    @Test func aMonitorFasterThanItsSubsystemGetsItSampledAtItsRate() throws {
        let daemon = try DaemonHarness()
        let key = "process:\(daemon.process.pid):rss_bytes"
        #expect(daemon.eventually(timeout: 7) { (try? daemon.client.statistic(key)) != nil })
        func processPeriod() -> Double? { try? daemon.client.subsystems().first { $0.name == "process" }?.periodSeconds }
        #expect(processPeriod() == 5)
        var spec = MonitorSpec(target: key, condition: "above", value: 1e15)
        spec.id = "fast"
        spec.monitoringRate = 1
        var second = spec
        second.id = "fast-too"
        _ = try daemon.client.createMonitors([spec, second])
        #expect(daemon.eventually(timeout: 4) { processPeriod() == 1 })
        // The collector hears of the rate, not of each monitor: it holds while one monitor needs it.
        try daemon.client.deleteMonitor("fast")
        try daemon.waitForCycles(2)  // a withdrawn request takes effect at the next cycle
        #expect(processPeriod() == 1)
        try daemon.client.deleteMonitor("fast-too")
        #expect(daemon.eventually(timeout: 4) { processPeriod() == 5 })
    }

    @Test func aSubSecondMonitorReadsItsStatisticAtItsRate() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "none", "--step", "5"])
        var spec = MonitorSpec(target: "cpu:total:usage_ratio", condition: "above", value: 2)
        spec.id = "fast"
        spec.microMonitoringRate = 100_000  // 100 ms, with a 5 s step
        spec.dataCapture = true
        _ = try daemon.client.createMonitors([spec])
        func captured() throws -> [CapturedReading] {
            let body = try daemon.client.send("GET", "/v1/monitors/fast/capture").body
            return try JSONDecoder().decode([String: [CapturedReading]].self, from: Data(body))["readings"] ?? []
        }
        #expect(try daemon.eventually(timeout: 60) { try captured().count >= 8 })
        let readings = try captured()
        try #require(readings.count >= 8)
        // Each reading is a fresh one, never two from one sample, and they come faster than the
        // 5 s step gives samples: eight readings span less than one step (a busy machine only
        // delays a reading, so this holds however loaded it is, short of 600 ms of delay each).
        let gaps = zip(readings, readings.dropFirst()).map { $1.time - $0.time }
        #expect(gaps.allSatisfy { $0 >= 0.09 }, "\(gaps)")
        #expect(readings[7].time - readings[0].time < 5, "\(gaps)")

        func refusal(_ target: String, micro: Int) throws -> String {
            var spec = MonitorSpec(target: target, condition: "above", value: 1)
            spec.microMonitoringRate = micro
            let response = try daemon.client.send("POST", "/v1/monitors", body: Array(try JSONEncoder().encode(spec)))
            return response.status == 400 ? String(decoding: response.body, as: UTF8.self) : "HTTP \(response.status)"
        }
        #expect(try refusal("load:host:load1", micro: 100_000).contains("every 5 s"))
        #expect(try refusal("cpu:total:usage_ratio", micro: 5_000).contains("10 ms"))
        let process = "process:\(daemon.process.pid):rss_bytes"
        #expect(daemon.eventually(timeout: 7) { (try? daemon.client.statistic(process)) != nil })
        #expect(try refusal(process, micro: 500_000).contains("sub-step monitoring is available"))
    }

    @Test func overItsSelfLimitsResmondRefusesNewMonitorsAndKeepsTheOld() throws {
        let daemon = try DaemonHarness(configuration: #"{"limits": {"memoryMB": 4096, "selfMonitoringSeconds": 1}}"#)
        _ = try daemon.client.push("app:test:level", value: 10)
        var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        spec.id = "old"
        var kept = spec
        kept.id = "kept"
        _ = try daemon.client.createMonitors([spec, kept])
        #expect(daemon.eventually { (try? daemon.client.status().limits?.measuredMemoryMB) != nil })
        #expect(try daemon.client.status().busy == false)
        // A memory limit resmond cannot meet, applied by a reload.
        try daemon.directory.write("config/resmond.json", #"{"limits": {"memoryMB": 1, "selfMonitoringSeconds": 1}}"#)
        daemon.signal(SIGHUP)
        #expect(daemon.eventually { (try? daemon.client.status().busy) == true })
        #expect(try daemon.client.status().busyReason?.contains("RSS") == true)
        spec.id = "new"
        let refused = try daemon.client.send("POST", "/v1/monitors", body: Array(JSONEncoder().encode(spec)))
        #expect(refused.status == 503 && String(decoding: refused.body, as: UTF8.self).contains("busy"))
        _ = try daemon.client.perform("stop", monitor: "old")
        let start = try daemon.client.send("POST", "/v1/monitors/old/start")
        #expect(start.status == 503)
        #expect(try daemon.client.metrics().split(separator: "\n").contains { $0.hasPrefix("resmon_busy{host=") && $0.hasSuffix("} 1") })
        // Existing monitors keep running while busy.
        _ = try daemon.client.push("app:test:level", value: 60)
        #expect(daemon.eventually { (try? daemon.client.events().events.map(\.monitorId)) == ["kept"] })
        try daemon.directory.write("config/resmond.json", #"{"limits": {"memoryMB": 4096, "selfMonitoringSeconds": 1}}"#)
        daemon.signal(SIGHUP)
        #expect(daemon.eventually { (try? daemon.client.status().busy) == false })
        _ = try daemon.client.perform("start", monitor: "old")
        _ = try daemon.client.push("app:test:level", value: 61)
        #expect(daemon.eventually { (try? daemon.client.events().events.map(\.monitorId)) == ["kept", "old"] })
        #expect(daemon.eventually(timeout: 30) { daemon.stderr.contains("over the self-limits") && daemon.stderr.contains("back under the self-limits") })
    }

    /// Issue 6's "each process named X" and "the processes named X in total", one command each,
    /// following processes that start and exit. The sleeper gets a name of its own, so that
    /// other tests' processes do not join.
    @Test func aTemplateAndAnAggregateFollowProcessesThatStartAndExit() throws {
        let directory = TemporaryDirectory("resmon-template")
        let name = "rsleep\(Int.random(in: 100_000...999_999))"
        let program = directory.file(name)
        try Products.copyExecutable("/bin/sleep", to: program)
        let daemon = try DaemonHarness(configuration: #"{"collect": {"subsystems": {"process": {"period": 1}}}}"#)
        let resmon = Products.path("resmon")
        let select = ["--select", "^process:[0-9]+:rss_bytes$", "--where", "name=\(name)"]
        for arguments in [["--each", "above", "1", "--id", "each-sleeper"], ["--aggregate", "count", "above", "1", "--id", "two-sleepers"]] {
            let created = try Products.run(resmon, ["monitor", "create"] + select + arguments, environment: ["RESMON_SOCKET": daemon.socket])
            #expect(created.status == 0, "\(created.output) \(created.error)")
        }
        func instances() -> [MonitorInfo] { ((try? daemon.client.monitors()) ?? []).filter { $0.spec.template == "each-sleeper" } }
        let first = try SpawnedGroup(program, ["300"])
        #expect(daemon.eventually { instances().count == 1 && instances()[0].state.phase == "raised" })
        #expect(instances().first?.id.hasPrefix("each-sleeper.process.\(first.pid)-") == true, "PID and start time: \(instances().map(\.id))")
        let second = try SpawnedGroup(program, ["300"])
        #expect(daemon.eventually { instances().count == 2 })
        #expect(daemon.eventually { (try? daemon.client.monitor("two-sleepers").state.phase) == "raised" })
        first.stop()
        #expect(daemon.eventually { instances().count == 1 && instances()[0].id.hasPrefix("each-sleeper.process.\(second.pid)-") })
        #expect(daemon.eventually { (try? daemon.client.monitor("two-sleepers").state.phase) == "clear" })
        let events = try daemon.client.events().events
        let firstInstance = events.first { $0.monitorId?.hasPrefix("each-sleeper.process.\(first.pid)-") == true }?.monitorId
        #expect(events.filter { $0.monitorId == firstInstance }.map(\.type) == ["above", "canceled"], "retired with a cancel")
        #expect(events.filter { $0.monitorId == "two-sleepers" }.map(\.type) == ["above", "canceled"])
        #expect(events.first { $0.monitorId == firstInstance }?.labels["name"] == name)
        second.stop()
        #expect(daemon.eventually { instances().isEmpty })
    }

    @Test func monitorFilesAreReconciledAtStartAndOnReloadAndTheDefaultsAreWrittenOnce() throws {
        let directory = TemporaryDirectory("resmon-monitor-files")
        var daemon: DaemonHarness? = try DaemonHarness(directory: directory, defaultMonitors: true)
        let defaults = directory.file("config/monitors.d/defaults.json")
        #expect(FileManager.default.fileExists(atPath: defaults))
        var ids = Set(try daemon!.client.monitors().map(\.id))
        #expect(ids.isSuperset(of: ["defaults.cpu-busy", "defaults.memory-low", "defaults.fs-full", "defaults.cgroup-memory"]))
        #expect(
            daemon!.eventually { (try? daemon!.client.monitors().contains { $0.id.hasPrefix("defaults.fs-full.") }) == true },
            "the file-system template has instances")
        let cpu = try daemon!.client.monitor("defaults.cpu-busy")
        #expect(cpu.spec.source == "monitors.d/defaults.json" && cpu.owner == 0)
        #expect(try daemon!.client.send("DELETE", "/v1/monitors/defaults.cpu-busy").status == 409)
        #expect(try daemon!.client.send("PATCH", "/v1/monitors/defaults.cpu-busy", body: Array(#"{"value": 0.5}"#.utf8)).status == 409)

        // A file of our own: created on SIGHUP, changed, and an entry removed.
        _ = try daemon!.client.push("app:test:level", value: 70)
        try directory.write(
            "config/monitors.d/app.json",
            """
            {"level": {"target": "app:test:level", "condition": "above", "value": 50},
             "spare": {"target": "app:test:level", "condition": "below", "value": 0},
             "broken": {"target": "app:test:level", "condition": "sideways", "value": 1}}
            """)
        daemon!.signal(SIGHUP)
        #expect(daemon!.eventually { (try? daemon!.client.monitor("app.level").state.phase) == "raised" })
        #expect(daemon!.eventually { daemon!.stderr.contains("monitors.d/app.json: app.broken: condition") })
        try directory.write(
            "config/monitors.d/app.json",
            """
            {"level": {"target": "app:test:level", "condition": "above", "value": 80}}
            """)
        daemon!.signal(SIGHUP)
        #expect(daemon!.eventually { (try? daemon!.client.monitor("app.level").spec.value) == 80 })
        #expect(daemon!.eventually { (try? daemon!.client.monitor("app.spare")) == nil })
        // The change cancelled the raised monitor first.
        #expect(daemon!.eventually { (try? daemon!.client.events().events.filter { $0.monitorId == "app.level" }.map(\.type)) == ["above", "canceled"] })

        // Removing defaults.json removes the defaults, and a restart does not write them again.
        try FileManager.default.removeItem(atPath: defaults)
        daemon!.signal(SIGHUP)
        #expect(daemon!.eventually { (try? daemon!.client.monitors().contains { $0.id.hasPrefix("defaults.") }) == false })
        daemon!.signal(SIGTERM)
        _ = daemon!.waitForExit(timeout: 5)
        daemon = nil
        daemon = try DaemonHarness(directory: directory, defaultMonitors: true)
        ids = Set(try daemon!.client.monitors().map(\.id))
        #expect(ids == ["app.level"])
        #expect(!FileManager.default.fileExists(atPath: defaults))
    }

    @Test func perfmonConfigurationImportsThroughTheCLIAndHostileXMLIsA400() throws {
        let daemon = try DaemonHarness()
        let directory = TemporaryDirectory("resmon-perfmon")
        try directory.write(
            "perfmon.xml",
            """
            <config><variable><name value="cpu_usage"/><alarm_trigger_level value="0.95"/></variable>
            <variable><name value="fs_usage"/></variable></config>
            """)
        let imported = try Products.run(
            Products.path("resmon"), ["import-perfmon", directory.file("perfmon.xml"), "--object", "host"],
            environment: ["RESMON_SOCKET": daemon.socket])
        #expect(imported.status == 0 && imported.output.contains("perfmon.host.cpu_usage"), "\(imported.output) \(imported.error)")
        let cpu = try daemon.client.monitor("perfmon.host.cpu_usage")
        #expect(cpu.spec.samples == 60 && cpu.spec.value == 0.95)  // 60 s at a 1 s step
        #expect(daemon.eventually { (try? daemon.client.monitor("perfmon.host.cpu_usage").state.lastValue) != nil })
        let hostile = #"<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/shadow">]><config><variable><name value="&e;"/></variable></config>"#
        let refused = try daemon.client.send("POST", "/v1/monitors/import/perfmon", query: [("object", "host")], body: Array(hostile.utf8))
        #expect(refused.status == 400 && String(decoding: refused.body, as: UTF8.self).contains("DTDs"))
        let object = try daemon.client.send("POST", "/v1/monitors/import/perfmon", query: [("object", "vm:1")], body: Array("<config/>".utf8))
        #expect(object.status == 400)
        #expect(try daemon.client.health().status == "ok")
    }

    @Test func aBacktestOverPushedHistoryFindsTheRaise() throws {
        let daemon = try DaemonHarness()
        for value in [10.0, 10, 10, 90, 90, 90, 10, 10, 10] {
            _ = try daemon.client.push("app:test:level", value: value)
            let cycles = try daemon.client.status().cycles
            #expect(daemon.eventually { ((try? daemon.client.status().cycles) ?? 0) >= cycles + 1 })
        }
        try daemon.waitForCycles(2)  // the last row is archived at the next step
        let result = try Products.run(
            Products.path("resmon"), ["monitor", "test", "app:test:level", "above", "50", "--samples", "2", "--since", "60s"],
            environment: ["RESMON_SOCKET": daemon.socket])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("above") && result.output.contains("canceled") && result.output.contains("raised 1 times"), "\(result.output)")
        #expect(try daemon.client.monitors().isEmpty, "a backtest creates nothing")
        #expect(try daemon.client.events().events.isEmpty)
    }

    /// Issue 15: a 3 s spike that only the minute archive still holds is found over
    /// `--since 10m` (the minute rows, then the last two minutes' 1 s rows), in its MAX row;
    /// the answer says which archives; `--cf` is honoured, and a bad one refused by the CLI
    /// and by the API.
    @Test func aBacktestStitchesTheArchivesFindsAShortSpikeAndHonoursCf() throws {
        let daemon = try DaemonHarness()
        /// Pushes a value and waits for a sampling cycle to take it: a pushed statistic's history
        /// moves only with its pushes, as an application pushing every few seconds would.
        func push(_ value: Double) throws {
            _ = try daemon.client.push("app:test:level", value: value)
            let cycles = try daemon.client.status().cycles
            #expect(daemon.eventually { ((try? daemon.client.status().cycles) ?? 0) >= cycles + 1 })
        }
        func minuteRows(_ function: String) -> [HistoryResponse.Row] {
            (try? daemon.client.history("app:test:level", function: function, start: -600))?.rows ?? []
        }
        // A whole minute of readings first: the minute with the spike must be known (xff), not
        // the first, partial one.
        try #require(
            try daemon.eventually(timeout: 300) {
                try push(10); return minuteRows("AVERAGE").contains { $0.v == 10 }
            },
            "the minute archive never filled")
        for value in [90.0, 90, 90] { try push(value) }  // a spike of about 3 s
        // The minute row that holds the spike closes at the next whole minute, and the 1 s
        // archive (two minutes) lets go of the spike a little later: from then on only the
        // minute archive has it.
        try #require(
            try daemon.eventually(timeout: 300) {
                try push(10)
                let recent = (try? daemon.client.history("app:test:level", function: "MAX", start: -120))?.rows ?? []  // all the 1 s rows
                return minuteRows("MAX").contains { $0.v == 90 } && !recent.isEmpty && !recent.contains { $0.v == 90 }
            }, "the spike never moved from the 1 s archive to the minute archive's MAX")
        let resmon = Products.path("resmon")
        let environment = ["RESMON_SOCKET": daemon.socket]
        let test = ["monitor", "test", "app:test:level", "above", "50", "--samples", "3", "--since", "10m"]
        let found = try Products.run(resmon, test, environment: environment)
        #expect(found.status == 0, "\(found.error)")
        #expect(found.output.contains("from the MAX archives with 60 s, 1 s rows"), "\(found.output)")
        #expect(found.output.contains("replayed as 3 readings 1 s apart") && found.output.contains("raised 1 times"), "\(found.output)")

        // The minute's AVERAGE (about 14) hides the spike: --cf is honoured.
        let averaged = try Products.run(resmon, test + ["--cf", "average"], environment: environment)
        #expect(averaged.status == 0, "\(averaged.error)")
        #expect(averaged.output.contains("from the AVERAGE archives with 60 s, 1 s rows"), "\(averaged.output)")
        #expect(averaged.output.contains("it would not have raised"), "\(averaged.output)")

        let bogus = try Products.run(resmon, test + ["--cf", "bogus"], environment: environment)
        #expect(bogus.status != 0)
        #expect(bogus.error.contains("--cf: expected average, min, max or last, got \"bogus\""), "\(bogus.error)")
        do {
            _ = try daemon.client.backtest(MonitorSpec(target: "app:test:level", condition: "above", value: 50), since: "-10m", cf: "bogus")
            Issue.record("cf bogus was accepted")
        } catch {
            guard case .api(let status, let code, let message) = error else { Issue.record("unexpected \(error)"); return }
            #expect(status == 400 && code == .badRequest)
            #expect(message == "cf: expected AVERAGE, MIN, MAX or LAST, got \"bogus\"")
        }
        let json = try daemon.client.backtest(MonitorSpec(target: "app:test:level", condition: "below", value: 50), since: "-10m")
        #expect(json.cf == "MIN" && json.step == 1 && json.archives == [60, 1], "below replays MIN by default")
        #expect(try daemon.client.monitors().isEmpty, "a backtest creates nothing")
        #expect(try daemon.client.events().events.isEmpty)
    }

    /// Another user who may connect (here the socket is opened to all) may read every monitor
    /// but change only their own; root changes all.
    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func anotherUserGets403AndRootMayChangeAll() throws {
        let daemon = try DaemonHarness()
        for path in [daemon.directory.path, daemon.stateDirectory] { chmod(path, 0o755) }
        chmod(daemon.socket, 0o666)
        _ = try daemon.client.push("app:test:level", value: 10)
        var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        spec.id = "roots"
        _ = try daemon.client.createMonitors([spec])
        func asNobody(_ arguments: [String]) throws -> ProgramResult {
            try Products.run(
                "/usr/bin/setpriv",
                [
                    "--reuid=65534", "--regid=65534", "--clear-groups", Products.path("resmon"),
                    "--socket", daemon.socket
                ] + arguments)
        }
        let listed = try asNobody(["monitor", "list"])
        #expect(listed.status == 0 && listed.output.contains("roots"), "\(listed.error)")
        let refused = try asNobody(["monitor", "delete", "roots"])
        #expect(refused.status != 0 && refused.error.contains("403"), "\(refused.error)")
        let created = try asNobody(["monitor", "create", "app:test:level", "above", "80", "--id", "nobodys"])
        #expect(created.status == 0, "\(created.error)")
        #expect(try daemon.client.monitor("nobodys").owner == 65534)
        #expect(try asNobody(["monitor", "stop", "nobodys"]).status == 0)
        _ = try daemon.client.perform("start", monitor: "nobodys")  // root may change all
        try daemon.client.deleteMonitor("nobodys")
    }

    @Test func eventsAreQueriedWithFiltersAndTimes() throws {
        let daemon = try DaemonHarness()
        _ = try daemon.client.push("app:test:level", value: 10)
        for (id, severity) in [("low", Severity.notice), ("high", .crit)] {
            var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
            spec.id = id
            spec.severity = severity
            spec.labels = ["tier": id]
            _ = try daemon.client.createMonitors([spec])
        }
        _ = try daemon.client.push("app:test:level", value: 60)
        #expect(daemon.eventually { ((try? daemon.client.events().events.count) ?? 0) == 2 })
        #expect(try daemon.client.events(filter: "severity >= err").events.map(\.monitorId) == ["high"])
        #expect(try daemon.client.events(filter: #"labels.tier = "low" && type = above"#).events.map(\.monitorId) == ["low"])
        #expect(try daemon.client.events(since: "-1h").events.count == 2)
        #expect(try daemon.client.events(until: "-1h").events.isEmpty)
        #expect(try daemon.client.events(limit: 1, newestFirst: true).events.map(\.monitorId) != daemon.client.events(limit: 1).events.map(\.monitorId))
        let bad = try daemon.client.send("GET", "/v1/events", query: [("filter", "severity >= loud")])
        #expect(bad.status == 400)
        #expect(String(decoding: bad.body, as: UTF8.self).contains("at position 13"))
        let cli = try Products.run(
            Products.path("resmon"), ["events", "--filter", "severity >= err", "--since", "1h"],
            environment: ["RESMON_SOCKET": daemon.socket])
        #expect(cli.status == 0 && cli.output.contains("crit") && !cli.output.contains("notice"), "\(cli.output) \(cli.error)")
    }

    @Test func cliCreatesListsAndDeletes() throws {
        let daemon = try DaemonHarness()
        let resmon = Products.path("resmon")
        let environment = ["RESMON_SOCKET": daemon.socket]
        let create = try Products.run(
            resmon,
            [
                "monitor", "create", "cpu:total:usage_ratio", "above", "0.9", "--samples", "12",
                "--cancel-below", "0.7", "--id", "cpu-busy"
            ], environment: environment)
        #expect(create.status == 0, "\(create.error)")
        let list = try Products.run(resmon, ["monitor", "list"], environment: environment)
        #expect(list.output.contains("cpu-busy"))
        let show = try Products.run(resmon, ["--json", "monitor", "show", "cpu-busy"], environment: environment)
        let monitor = try JSONDecoder().decode(MonitorInfo.self, from: Data(show.output.utf8))
        #expect(monitor.spec.samples == 12 && monitor.spec.cancelValue == 0.7 && monitor.spec.cancelSamples == 12)
        let file = daemon.directory.file("spec.json")
        try
            #"[{"id": "a", "target": "load:host:load1", "condition": "above", "value": 100}, {"id": "b", "target": "load:host:load5", "condition": "below", "value": 0, "severity": "crit"}]"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try Products.run(resmon, ["monitor", "create", "--from-file", file], environment: environment).status == 0)
        #expect(try daemon.client.monitors().count == 3)
        #expect(try Products.run(resmon, ["monitor", "pause", "a"], environment: environment).status == 0)
        #expect(try daemon.client.monitor("a").state.paused)
        #expect(try Products.run(resmon, ["monitor", "delete", "a"], environment: environment).status == 0)
        #expect(try Products.run(resmon, ["monitor", "show", "a"], environment: environment).status == 1)
        let bad = try Products.run(
            resmon, ["monitor", "create", "cpu:total:usage_ratio", "above", "0.9", "--transform", "percent"],
            environment: environment)
        #expect(bad.status == 0)  // cpu ratios have an upper bound of 1
        let noBound = try Products.run(
            resmon, ["monitor", "create", "load:host:load1", "above", "50", "--transform", "percent"],
            environment: environment)
        #expect(noBound.status == 1 && noBound.error.contains("no upper bound"))
        #expect(try Products.run(resmon, ["events"], environment: environment).status == 0)
    }
}
