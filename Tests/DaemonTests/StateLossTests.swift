import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Storage
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 22, D6: a state database that lost its contents is refused, never silently empty, and
/// event ids never go backwards.
@Suite struct StateLossTests {
    /// A state directory with monitors and events, stopped cleanly: returns the highest event id.
    static func populate(_ directory: TemporaryDirectory, monitors: Int = 20) throws -> Int64 {
        let daemon = try DaemonHarness(directory: directory)
        _ = try daemon.client.push("app:test:level", value: 10)
        let specs = (0..<monitors).map { index in
            var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
            spec.id = "m\(index)"
            return spec
        }
        _ = try daemon.client.createMonitors(specs)
        _ = try daemon.client.push("app:test:level", value: 60)
        try #require(daemon.eventually(timeout: 30) { (try? daemon.client.events(limit: 1000).events.count) == monitors })
        let last = try daemon.client.events(limit: 1000).events.map(\.id).max() ?? 0
        daemon.signal(SIGTERM)
        try #require(daemon.waitForExit(timeout: 20) == 0)
        return last
    }

    @Test func aCleanStopLeavesNothingInTheWriteAheadLog() throws {
        let directory = TemporaryDirectory("resmon-wal")
        _ = try StateLossTests.populate(directory)
        let wal = directory.file("state/state.db-wal")
        let size = (try? FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int) ?? 0
        #expect(size == 0, "checkpointed on a clean stop")
        // A damaged log after a clean stop loses nothing.
        try Data((0..<65536).map { _ in UInt8.random(in: 0...255) }).write(to: URL(fileURLWithPath: wal))
        let daemon = try DaemonHarness(directory: directory)
        #expect(try daemon.client.monitors().count == 20)
        #expect(try daemon.client.events(limit: 1000).events.count == 20)
    }

    @Test(arguments: ["truncated", "garbled"])
    func aStateDatabaseThatLostItsContentsIsRefusedUntilTheLossIsAccepted(_ damage: String) throws {
        let directory = TemporaryDirectory("resmon-lost")
        let last = try StateLossTests.populate(directory)
        let path = directory.file("state/state.db")
        if damage == "truncated" {
            #expect(truncate(path, 0) == 0)
        } else {
            try Data((0..<8192).map { _ in UInt8.random(in: 0...255) }).write(to: URL(fileURLWithPath: path))
        }
        unlink(path + "-wal")
        unlink(path + "-shm")
        let refused = try DaemonHarness(directory: directory, waitUntilReady: false)
        let status = refused.waitForExit(timeout: 30)
        #expect(status != nil && status != 0, "refuses to start on a database that lost its contents: \(refused.stderr)")
        #expect(refused.stderr.contains("--accept-state-loss"), "\(refused.stderr)")

        let accepted = try DaemonHarness(arguments: ["--listen", "none", "--step", "1", "--accept-state-loss"], directory: directory)
        #expect(accepted.stderr.contains("error:"), "starts with a loud error: \(accepted.stderr)")
        #expect(try accepted.client.monitors().isEmpty)
        _ = try accepted.client.push("app:test:level", value: 10)
        var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        spec.id = "after"
        _ = try accepted.client.createMonitors([spec])
        _ = try accepted.client.push("app:test:level", value: 60)
        #expect(accepted.eventually(timeout: 30) { (try? accepted.client.events().events.count) == 1 })
        let id = try accepted.client.events().events.first?.id ?? 0
        #expect(id > last, "event ids never go backwards: \(id) after \(last)")
    }

    /// A database that opens but whose pages are damaged (`PRAGMA quick_check` fails) is
    /// refused like one that lost its contents, and moved aside when the loss is accepted.
    @Test func aDatabaseWithDamagedPagesIsRefusedUntilTheLossIsAccepted() throws {
        let directory = TemporaryDirectory("resmon-damaged")
        let last = try StateLossTests.populate(directory, monitors: 200)
        let path = directory.file("state/state.db")
        let (page, size) = try {
            let database = try Database(path: path)
            let page = try database.execute("SELECT rootpage FROM sqlite_master WHERE name = 'events'").first?.first?.integer
            let size = try database.execute("PRAGMA page_size").first?.first?.integer
            return (Int(try #require(page)), Int(try #require(size)))
        }()
        // The events table's root page garbled past its header: the file still opens.
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.seek(toOffset: UInt64((page - 1) * size + 100))
        try handle.write(contentsOf: Data((0..<(size - 100)).map { _ in UInt8.random(in: 0...255) }))
        try handle.close()
        let refused = try DaemonHarness(directory: directory, waitUntilReady: false)
        let status = refused.waitForExit(timeout: 60)
        #expect(status != nil && status != 0, "refuses a damaged database: \(refused.stderr)")
        // Its last words may still be on their way through the pipe when it has exited.
        #expect(
            refused.eventually(timeout: 20) { refused.stderr.contains("quick_check") && refused.stderr.contains("--accept-state-loss") },
            "\(refused.stderr)")

        let accepted = try DaemonHarness(arguments: ["--listen", "none", "--step", "1", "--accept-state-loss"], directory: directory)
        #expect(accepted.stderr.contains("moved aside"), "\(accepted.stderr)")
        let aside = try FileManager.default.contentsOfDirectory(atPath: directory.file("state")).filter { $0.hasPrefix("state.db.damaged-") }
        #expect(!aside.isEmpty, "the damaged file is kept aside")
        _ = try accepted.client.push("app:test:level", value: 10)
        var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        spec.id = "after"
        _ = try accepted.client.createMonitors([spec])
        _ = try accepted.client.push("app:test:level", value: 60)
        #expect(accepted.eventually(timeout: 30) { (try? accepted.client.events().events.count) == 1 })
        #expect(try accepted.client.events().events.first.map { $0.id > last } == true, "event ids never go backwards")
    }

    /// With the marker gone too, event ids still continue above every id the database itself
    /// records: its `meta` table keeps the reserved ids, apart from SQLite's own sequence.
    @Test func withoutItsMarkerEventIDsContinueAboveWhatTheDatabaseRecords() throws {
        let directory = TemporaryDirectory("resmon-no-marker")
        let last = try StateLossTests.populate(directory, monitors: 3)
        let path = directory.file("state/state.db")
        try {
            let database = try Database(path: path)
            try database.execute("DELETE FROM events")
            try database.execute("DELETE FROM sqlite_sequence")
        }()
        #expect(unlink(path + ".marker") == 0)
        let daemon = try DaemonHarness(directory: directory)
        _ = try daemon.client.push("app:test:level", value: 1)
        #expect(daemon.eventually(timeout: 30) { (try? daemon.client.events().events.count) == 3 })
        let ids = try daemon.client.events().events.map(\.id)
        #expect(ids.allSatisfy { $0 > last }, "event ids never go backwards: \(ids) after \(last)")
    }

    @Test func eventIDsAfterACrashContinueAboveEveryIDHandedOut() throws {
        let directory = TemporaryDirectory("resmon-crash")
        let last = try StateLossTests.populate(directory, monitors: 3)
        var daemon: DaemonHarness? = try DaemonHarness(directory: directory)
        _ = try daemon!.client.push("app:test:level", value: 1)
        #expect(daemon!.eventually(timeout: 30) { (try? daemon!.client.events().events.count) == 6 })
        let before = try daemon!.client.events().events
        let handedOut = before.map(\.id).max() ?? 0
        #expect(handedOut > last)
        daemon!.signal(SIGKILL)
        _ = daemon!.waitForExit(timeout: 10)
        daemon = nil
        // The crash's last commits sat in the log; losing it must not hand their ids out again.
        #expect(truncate(directory.file("state/state.db-wal"), 0) == 0)
        daemon = try DaemonHarness(directory: directory)
        // Raised again, or cancelled again if the cancels were lost: either way new events.
        _ = try daemon!.client.push("app:test:level", value: 70)
        try daemon!.waitForCycles(2)
        _ = try daemon!.client.push("app:test:level", value: 1)
        #expect(daemon!.eventually(timeout: 30) { (try? daemon!.client.events(limit: 1000).events.contains { $0.id > handedOut }) == true })
        for event in try daemon!.client.events(limit: 1000).events where event.id > last && event.id <= handedOut {
            let earlier = before.first { $0.id == event.id }
            #expect(earlier?.type == event.type && earlier?.monitorId == event.monitorId, "id \(event.id) was handed out twice")
        }
    }

    /// Past a reservation of event ids the marker knows which ids were committed: a crash whose
    /// write-ahead log is then lost is found out at start, not served without those commits.
    @Test func aCrashFollowedByALostLogIsRefusedOnceIdsWereReservedPastTheLostCommits() throws {
        let directory = TemporaryDirectory("resmon-crash-loss")
        var daemon: DaemonHarness? = try DaemonHarness(directory: directory)
        _ = try daemon!.client.push("app:test:level", value: 10)
        let specs = (0..<600).map { index in
            var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
            spec.id = "m\(index)"
            return spec
        }
        _ = try daemon!.client.createMonitors(specs)
        _ = try daemon!.client.push("app:test:level", value: 60)
        #expect(daemon!.eventually(timeout: 60) { (try? daemon!.client.events(after: 599, limit: 10).events.isEmpty) == false })
        _ = try daemon!.client.push("app:test:level", value: 1)
        // The cancels take ids past the first block of 1000: the marker records the raises as committed.
        #expect(daemon!.eventually(timeout: 60) { (try? daemon!.client.events(after: 1199, limit: 10).events.isEmpty) == false })
        daemon!.signal(SIGKILL)
        _ = daemon!.waitForExit(timeout: 10)
        daemon = nil
        // No false alarm: the same crash with its log intact starts with everything.
        let intact = TemporaryDirectory("resmon-crash-intact")
        try FileManager.default.createDirectory(atPath: intact.file("state"), withIntermediateDirectories: true)
        for name in ["state.db", "state.db-wal", "state.db.marker"] {
            try FileManager.default.copyItem(atPath: directory.file("state/" + name), toPath: intact.file("state/" + name))
        }
        let restarted = try DaemonHarness(directory: intact)
        #expect(try restarted.client.monitors().count == 600)
        #expect(try restarted.client.events(after: 1199, limit: 10).events.isEmpty == false)
        #expect(!restarted.stderr.contains("lost"), "\(restarted.stderr)")

        #expect(truncate(directory.file("state/state.db-wal"), 0) == 0)
        let refused = try DaemonHarness(directory: directory, waitUntilReady: false)
        let status = refused.waitForExit(timeout: 30)
        #expect(status != nil && status != 0, "refuses a database that lost committed events: \(refused.stderr)")
        // The exit can come before the harness has read the last of the log: waited for.
        #expect(
            refused.eventually(timeout: 10) { refused.stderr.contains("up to id 600 were committed") && refused.stderr.contains("--accept-state-loss") },
            "\(refused.stderr)")
    }
}
