import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A storm of SIGHUPs with a large monitors.d: the files are read and validated off the
/// sampling thread, requests that arrive meanwhile merge into one, and sampling goes on.
@Suite struct ReloadStormTests {
    @Test func aStormOfReloadsNeitherStarvesSamplingNorLosesTheLastFile() throws {
        let directory = TemporaryDirectory("resmon-reload-storm")
        let entries = (0..<3000).map { #""m\#($0)": {"target": "app:storm:v", "condition": "above", "value": 5}"# }
        try directory.write("config/monitors.d/storm.json", "{" + entries.joined(separator: ",\n") + "}")
        let daemon = try DaemonHarness(directory: directory)
        #expect(try daemon.client.monitors().count == 3000)

        // SIGHUP every 10 ms, until sampling has made progress (or the test gives up).
        let storming = ResmonTestSupport.Mutex<Bool>(true)
        let sent = ResmonTestSupport.Mutex<Int>(0)
        let stormEnded = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            while storming.get() {
                daemon.signal(SIGHUP)
                sent.set(sent.get() + 1)
                usleep(10_000)
            }
            stormEnded.signal()
        }
        func endStorm() {
            guard storming.get() else { return }
            storming.set(false)
            stormEnded.wait()
        }
        defer { endStorm() }
        #expect(throws: Never.self) { try daemon.waitForCycles(3, timeout: 90) }
        endStorm()

        // Many requests, far fewer applications: those that came while one was being read merged.
        // On a busy machine the first reading of the 3,000 monitors may still be under way when
        // sampling has made its cycles: at least one is applied in the end.
        #expect(daemon.eventually(timeout: 60) { ((try? Self.reloadsApplied(daemon)) ?? nil ?? 0) > 0 }, "no reload applied")
        let applied = try #require(try Self.reloadsApplied(daemon))
        #expect(applied > 0 && applied < sent.get() / 2, "\(applied) reloads applied for \(sent.get()) SIGHUPs")

        // The last file wins.
        try directory.write(
            "config/monitors.d/storm.json",
            "{" + (entries + [#""last": {"target": "app:storm:v", "condition": "below", "value": 1}"#]).joined(separator: ",\n") + "}")
        daemon.signal(SIGHUP)
        #expect(daemon.eventually(timeout: 60) { (try? daemon.client.monitor("storm.last").spec.condition) == "below" })
        #expect(try daemon.client.monitors().count == 3001)
    }

    /// `/v1/status`'s `reloads`, read from the JSON so that the test reads a daemon without it.
    static func reloadsApplied(_ daemon: DaemonHarness) throws -> Int? {
        let response = try daemon.client.send("GET", "/v1/status")
        let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        return object?["reloads"] as? Int
    }
}
