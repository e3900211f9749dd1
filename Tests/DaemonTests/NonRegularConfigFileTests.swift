import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

@testable import ResmonDaemon

#if canImport(Glibc)
    import Glibc
#endif

/// A FIFO, a device or a directory where resmond reads a configuration file is refused by
/// name, never waited on: opening a FIFO for reading waits for a writer, and once froze the
/// sampler (at the registry refresh), the reloader and the HTTP workers for good.
@Suite struct NonRegularConfigFileTests {
    @Test func aFIFOOrDirectoryInTheConfigurationDirectoriesIsRefusedAndSamplingGoesOn() throws {
        let daemon = try DaemonHarness(configuration: #"{"registry": {"refreshSeconds": 1}}"#)
        try daemon.waitForCycles(1)
        try FileManager.default.createDirectory(atPath: daemon.directory.file("config/subsystems.d"), withIntermediateDirectories: true)
        #expect(mkfifo(daemon.directory.file("config/subsystems.d/evil.json"), 0o644) == 0)
        #expect(mkfifo(daemon.directory.file("config/monitors.d/fifo.json"), 0o644) == 0)
        try FileManager.default.createDirectory(atPath: daemon.directory.file("config/monitors.d/dir.json"), withIntermediateDirectories: true)

        // The registry is re-read every second: sampling goes on past several refreshes.
        try daemon.waitForCycles(4)
        #expect(
            daemon.eventually(timeout: 30) { daemon.stderr.contains("subsystems.d/evil.json: is a FIFO, not a regular file") },
            "\(daemon.stderr)")

        // POST /v1/reload answers, and names each file it refused.
        let answer = try daemon.client.reload()
        #expect(answer.messages.contains("monitors.d/fifo.json: is a FIFO, not a regular file: not read"), "\(answer.messages)")
        #expect(answer.messages.contains("monitors.d/dir.json: is a directory, not a regular file: not read"), "\(answer.messages)")
        #expect(answer.messages.contains("subsystems.d/evil.json: is a FIFO, not a regular file: not read"), "\(answer.messages)")

        // SIGHUPs are applied, one after the other: the last one's new file is read.
        daemon.signal(SIGHUP)
        try daemon.directory.write("config/monitors.d/later.json", #"{"x": {"target": "app:test:level", "condition": "above", "value": 5}}"#)
        daemon.signal(SIGHUP)
        #expect(daemon.eventually(timeout: 30) { ((try? daemon.client.monitors()) ?? []).map(\.id).contains("later.x") }, "\(daemon.stderr)")
        try daemon.waitForCycles(2)
        #expect(try daemon.client.health().status == "ok")
    }

    @Test func aFIFOForResmondJSONOrTheTokenFileIsRefusedByName() throws {
        let directory = TemporaryDirectory("resmon-fifo-config")
        try FileManager.default.createDirectory(atPath: directory.file("config"), withIntermediateDirectories: true)
        #expect(mkfifo(directory.file("config/resmond.json"), 0o644) == 0)
        let check = try Products.run(Products.path("resmond"), ["--config-dir", directory.file("config"), "--check-config"])
        #expect(check.status == 1 && check.error.contains("resmond.json: is a FIFO, not a regular file"), "\(check.error)")

        unlink(directory.file("config/resmond.json"))
        #expect(mkfifo(directory.file("token"), 0o600) == 0)
        try directory.write("config/resmond.json", #"{"http": {"listen": "127.0.0.1:0", "tokenFile": "\#(directory.file("token"))"}}"#)
        let token = try Products.run(Products.path("resmond"), ["--config-dir", directory.file("config"), "--check-config"])
        #expect(token.status == 1 && token.error.contains("token: is a FIFO, not a regular file"), "\(token.error)")
    }

    @Test func theSamplerCountsAsStalledAfterTenStepsAndAtLeastAMinute() {
        #expect(SamplerStall.reason(age: 59, step: 1) == nil)
        #expect(SamplerStall.reason(age: 61, step: 1)?.contains("completed no cycle for 61 s") == true)
        #expect(SamplerStall.reason(age: 290, step: 30) == nil)
        #expect(SamplerStall.reason(age: 301, step: 30) != nil)
    }

    @Test func statusSaysHowLongAgoTheLastCycleEnded() throws {
        let daemon = try DaemonHarness()
        try daemon.waitForCycles(1)
        let status = try daemon.client.status()
        let age = try #require(status.lastCycleAgeSeconds)
        #expect(age >= 0 && age < 60)
        #expect(status.stalled == nil)
    }
}
