import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

/// Issue 22, second attack: every pattern was bounded, but not all of them together. 1,000
/// aggregates over distinct Unicode-class patterns in one request took 50 s and RSS from 25 to
/// 479 MB, kept across restarts; ~1,200 such aggregates and 1,000 new pushes left the sampler
/// 5 cycles in 70 s. Live patterns now reserve from one budget, and new statistics are matched
/// within a CPU budget per cycle.
@Suite struct RegexBudgetTests {
    /// A pattern whose program needs RE2's large budget, made distinct by `n`.
    static func large(_ n: Int) -> String { #"[\\p{Any}]{1,30}\\pL{45}zN"# + String(n) }

    static func aggregate(_ id: String, _ pattern: String) -> String {
        #"{"id": "\#(id)", "target": {"select": "\#(pattern)", "aggregate": "sum"}, "condition": "above", "value": 1e12}"#
    }

    static func post(_ client: ResmonClient, _ specs: [String]) throws -> (status: Int, body: String) {
        let response = try client.send("POST", "/v1/monitors", body: Array(("[" + specs.joined(separator: ",") + "]").utf8))
        return (response.status, String(decoding: response.body, as: UTF8.self))
    }

    @Test func largePatternsTogetherAreRefusedAsBusyAndWhatWasAdmittedSurvivesARestart() throws {
        let directory = TemporaryDirectory("resmon-regex-budget")
        let patient = { (daemon: DaemonHarness) in ResmonClient(socketPath: daemon.socket, timeoutMilliseconds: 300_000) }
        do {
            let daemon = try DaemonHarness(directory: directory)
            let residentBefore = try RegexBoundsTests.residentKilobytes(daemon.process.pid)
            // A hundred in one request: refused whole, as a daemon at a limit, not as bad input.
            let flood = try Self.post(patient(daemon), (0..<100).map { Self.aggregate("flood\($0)", Self.large($0)) })
            #expect(flood.status == 503, "\(flood.body.prefix(300))")
            #expect(flood.body.contains("\"busy\""))
            #expect(flood.body.contains("large patterns may reserve together is spent"))
            try daemon.waitForHealth()
            let grown = try RegexBoundsTests.residentKilobytes(daemon.process.pid) - residentBefore
            print("RSS grew \(grown) kB over the refused request")
            #expect(grown < 64 * 1024)
            #expect(try daemon.client.monitors().isEmpty)

            // What the refused request held was given back: eight large ones fit, one by one.
            for n in 0..<8 {
                let created = try Self.post(patient(daemon), [Self.aggregate("large\(n)", Self.large(n))])
                #expect(created.status == 201, "large\(n): \(created.body.prefix(300))")
            }
            let ninth = try Self.post(patient(daemon), [Self.aggregate("large8", Self.large(8))])
            #expect(ninth.status == 503, "\(ninth.body.prefix(300))")
            // Ordinary patterns still compile, and the same large pattern again shares its program.
            let ordinary = try Self.post(daemon.client, [Self.aggregate("cpus", "^cpu:[0-9]+:usage_ratio$")])
            #expect(ordinary.status == 201, "\(ordinary.body.prefix(300))")
            let shared = try Self.post(patient(daemon), [Self.aggregate("again0", Self.large(0))])
            #expect(shared.status == 201, "\(shared.body.prefix(300))")
            // A deleted monitor gives its pattern's reservation back.
            #expect(try daemon.client.send("DELETE", "/v1/monitors/large7").status == 204)
            let replaced = try Self.post(patient(daemon), [Self.aggregate("large8", Self.large(8))])
            #expect(replaced.status == 201, "\(replaced.body.prefix(300))")
        }
        // Everything admitted fits again after a restart.
        let restarted = try DaemonHarness(directory: directory)
        let ids = Set(try restarted.client.monitors().map(\.id))
        #expect(ids == Set((0..<7).map { "large\($0)" } + ["large8", "cpus", "again0"]))
        #expect(!restarted.stderr.contains("regular expression"), "\(restarted.stderr.suffix(500))")
    }

    @Test func newStatisticsAreMatchedWithinTheSamplersBudget() throws {
        let daemon = try DaemonHarness()
        let patient = ResmonClient(socketPath: daemon.socket, timeoutMilliseconds: 300_000)
        // 30 distinct patterns, each ~160 µs a match on the long keys pushed below (measured
        // with RE2 at its 64 KiB budget), and selecting them all.
        let specs = (0..<30).map { Self.aggregate("costly\($0)", "^app:flood(.{1,100}){2}$|^q\($0)x") }
        let created = try Self.post(patient, specs)
        #expect(created.status == 201, "\(created.body.prefix(300))")

        // 200 new statistics with 150-byte names, pushed within a cycle or two: 30 patterns × 200
        // keys is ~1 s of matching, which the sampler spreads over its cycles instead of
        // spending in one.
        // Each cycle's CPU is shown until the next one ends: read often enough to see them all.
        let costliest = ResmonTestSupport.Mutex(0.0)
        let watching = ResmonTestSupport.Mutex(true)
        let watcher = Thread {
            let reader = ResmonClient(socketPath: daemon.socket, timeoutMilliseconds: 60_000)
            while watching.get() {
                if let cycle = try? reader.status().lastSampleCPUSeconds { costliest.set(max(costliest.get(), cycle)) }
                usleep(50_000)
            }
        }
        watcher.start()
        defer { watching.set(false) }
        let name = String(repeating: "v", count: 150)
        for index in 0..<200 {
            _ = try patient.push("app:flood\(index):\(name)", value: 1)
        }
        // Each aggregate ends up with every member, summed.
        var last: Double?
        #expect(
            daemon.eventually(timeout: 300) {
                last = try? patient.monitor("costly29").state.lastValue
                return last == 200 && (try? patient.monitor("costly0").state.lastValue) == 200
            }, "costly29 reads \(String(describing: last))")
        // The cycle after the last match, seen too.
        let cycles = try patient.status().cycles
        #expect(daemon.eventually(timeout: 60) { ((try? patient.status().cycles) ?? 0) > cycles + 1 })
        watching.set(false)
        let costliestCycle = costliest.get()
        print("costliest cycle: \(costliestCycle) s of CPU")
        #expect(costliestCycle < 0.5, "the costliest cycle took \(costliestCycle) s of CPU")
        try daemon.waitForHealth()
    }

    @Test(.enabled(if: QuotaTests.canRun))
    func oneUserSpendsOnlyItsOwnShare() throws {
        // Third attack: an ordinary user's 508 one-monitor requests spent all 32 MiB, and root's
        // creates, monitors.d and everyone's queries were refused, across restarts.
        let daemon = try DaemonHarness()
        for path in [daemon.directory.path, daemon.stateDirectory] { chmod(path, 0o755) }
        chmod(daemon.socket, 0o666)
        let requests = (0..<70).map { n in
            #"POST /v1/monitors {"id": "nf\#(n)", "target": {"select": "^app:nf:\#(n)$", "aggregate": "count"}, "condition": "above", "value": 1}"#
        }
        let answers = try QuotaTests.asNobody(daemon, requests)
        #expect(answers.count == 70)
        #expect(answers.prefix(64).allSatisfy { $0.status == 201 }, "\(answers.prefix(64).filter { $0.status != 201 }.prefix(2))")
        let over = try #require(answers.last)
        #expect(over.status == 429, "\(over)")
        #expect(over.body.contains("\"quota\"") && over.body.contains("uid 65534's regular expressions hold"))
        // Root and readers are not held by it.
        let root = try Self.post(daemon.client, [Self.aggregate("rootagg", "^cpu:[0-9]+:usage_ratio$")])
        #expect(root.status == 201, "\(root.body.prefix(300))")
        #expect(try daemon.client.send("GET", "/v1/statistics?match=cpu").status == 200)
        #expect(try daemon.client.send("GET", "/v1/events?filter=" + "message%20~%20%22x%22").status == 200)
    }
}
