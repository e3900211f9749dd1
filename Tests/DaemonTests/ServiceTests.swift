import Foundation
import ResmonTestSupport
import Testing

@testable import ResmonDaemon

/// Records the order services start and stop in.
private final class Recorder: @unchecked Sendable {
    private let lock = NSLock()
    private var noted: [String] = []
    func note(_ entry: String) { lock.withLock { noted.append(entry) } }
    var entries: [String] { lock.withLock { noted } }
}

private final class FakeService: Service {
    let name: String
    let recorder: Recorder
    let fails: Bool
    init(_ name: String, _ recorder: Recorder, fails: Bool = false) {
        self.name = name
        self.recorder = recorder
        self.fails = fails
    }
    func start() throws {
        if fails { throw DaemonFailure("\(name) cannot start") }
        recorder.note("start " + name)
    }
    func stop(deadline: Double) { recorder.note("stop " + name) }
}

@Suite struct ServiceTests {
    @Test func aGroupStartsInOrderAndStopsInReverse() throws {
        let recorder = Recorder()
        let group = ServiceGroup(["a", "b", "c"].map { .init(service: FakeService($0, recorder), stopSeconds: 1) })
        try group.start()
        group.stop()
        #expect(recorder.entries == ["start a", "start b", "start c", "stop c", "stop b", "stop a"])
        group.stop()
        #expect(recorder.entries.count == 6, "a second stop stops nothing twice")
    }

    @Test func aFailedStartStopsOnlyWhatStarted() {
        let recorder = Recorder()
        let group = ServiceGroup([
            .init(service: FakeService("a", recorder), stopSeconds: 1),
            .init(service: FakeService("b", recorder, fails: true), stopSeconds: 1),
            .init(service: FakeService("c", recorder), stopSeconds: 1)
        ])
        #expect(throws: DaemonFailure.self) { try group.start() }
        #expect(recorder.entries == ["start a", "stop a"])
    }

    @Test func aReloadKeepsEveryRestartOnlyKeyAndNamesTheChangedOnes() {
        let running = DaemonConfiguration(stateDirectory: "/tmp/running", configDirectory: "/tmp/config")
        var reloaded = running
        reloaded.stateDirectory = "/tmp/other"
        reloaded.listen = ListenAddress(host: "127.0.0.1", port: 1)
        reloaded.httpThreads = 7
        reloaded.procRoot = "/tmp/proc"
        reloaded.step = 2
        let plan = ReloadPlan(running: running, reloaded: reloaded)
        #expect(plan.restartRequired == ["stateDir", "http.listen", "http.threads", "collect.procRoot"])
        var expected = running
        expected.step = 2
        #expect(plan.configuration == expected, "restart-only keys keep their running values; the rest apply")
        #expect(ReloadPlan(running: running, reloaded: running).restartRequired.isEmpty)
    }

    /// Every key docs/CONFIG.md marks *restart* is in the table, by the name it has there.
    @Test func theRestartOnlyTableMatchesConfigMD() throws {
        let text = try String(contentsOfFile: Products.packageRoot() + "/docs/CONFIG.md", encoding: .utf8)
        let documented = text.split(separator: "\n").filter { $0.hasPrefix("| `") && $0.contains("*restart*") }
            .compactMap { $0.split(separator: "`").dropFirst().first.map(String.init) }
        #expect(!documented.isEmpty)
        #expect(Set(documented) == Set(RestartOnlyKey.all.map(\.name)))
    }

    @Test func aReloadWaiterSeesItsOwnPlanApplied() throws {
        let requests = ReloadRequests()
        let configuration = DaemonConfiguration()
        let generation = requests.submit(ReloadPlan(running: configuration, reloaded: configuration))
        let taken = try #require(requests.take())
        #expect(taken.generation == generation)
        #expect(requests.take()?.generation == nil)
        Thread.detachNewThread { requests.finish(generation, messages: ["applied"]) }
        #expect(requests.wait(for: generation, seconds: 30)?.messages == ["applied"])
    }

    /// A signal and `POST /v1/reload` preparing at once: the plan read later wins, whichever
    /// is queued last, and the other's caller is answered by it.
    @Test func aPlanReadBeforeTheQueuedOneIsDropped() throws {
        let requests = ReloadRequests()
        let configuration = DaemonConfiguration()
        var older = configuration
        older.step = configuration.step + 1
        let (first, second) = (requests.ticket(), requests.ticket())
        let newer = requests.submit(ReloadPlan(running: configuration, reloaded: configuration), ticket: second)
        #expect(requests.submit(ReloadPlan(running: configuration, reloaded: older), ticket: first) == newer)
        let taken = try #require(requests.take())
        #expect(taken.generation == newer && taken.plan.configuration.step == configuration.step)
        #expect(requests.take() == nil)
    }
}
