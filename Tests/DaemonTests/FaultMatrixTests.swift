import Foundation
import ResmonAPI
import ResmonTestSupport
import Storage
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Faults of the state directory (issue 23's matrix): each gives a clear error naming the file
/// and what to do, and never discards acknowledged monitors or events; a file set aside keeps
/// a timestamp rather than being deleted. The full disk (FullDiskStartTests, StorageFailureTests),
/// a truncated, garbled or damaged database and a damaged log (StateLossTests) and a damaged
/// history snapshot (HistoryTests) have their own suites.
@Suite struct FaultMatrixTests {
    @Test func aDatabaseOfANewerSchemaIsRefusedAndKeptUntilTheLossIsAccepted() throws {
        let directory = TemporaryDirectory("resmon-newer-schema")
        _ = try StateLossTests.populate(directory, monitors: 3)
        let path = directory.file("state/state.db")
        let known: Int
        do {
            let database = try Database(path: path)
            known = try database.schemaVersion()
            try database.execute("PRAGMA user_version = \(known + 7)")
        }
        let refused = try DaemonHarness(directory: directory, waitUntilReady: false)
        let status = refused.waitForExit(timeout: 30)
        #expect(status != nil && status != 0, "\(refused.stderr)")
        #expect(refused.eventually { refused.stderr.contains("written by a newer resmond") }, "\(refused.stderr)")
        #expect(refused.stderr.contains(path), "names the file: \(refused.stderr)")
        #expect(refused.stderr.contains("run the resmond that wrote it"), "says what to do: \(refused.stderr)")
        // Nothing of it was changed: the version written back, it starts with every monitor.
        try Database(path: path).execute("PRAGMA user_version = \(known)")
        do {
            let daemon = try DaemonHarness(directory: directory)
            #expect(try daemon.client.monitors().count == 3)
            #expect(try daemon.client.events(limit: 100).events.count == 3)
            daemon.signal(SIGTERM)
            try #require(daemon.waitForExit(timeout: 20) == 0)
        }
        // Asked to accept the loss, resmond moves it aside with a timestamp and begins anew.
        try Database(path: path).execute("PRAGMA user_version = \(known + 7)")
        let anew = try DaemonHarness(arguments: ["--listen", "none", "--step", "1", "--accept-state-loss"], directory: directory)
        #expect(try anew.client.monitors().isEmpty)
        let aside = try FileManager.default.contentsOfDirectory(atPath: directory.file("state")).filter { $0.hasPrefix("state.db.damaged-") }
        #expect(aside.contains { !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") }, "kept aside: \(aside)")
    }

    static let readOnlyScript = #"""
        set -e
        state=$1; shift
        mount --bind "$state" "$state"
        mount -o remount,bind,ro "$state"
        exec "$@"
        """#

    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")))
    func aReadOnlyStateDirectoryIsRefusedClearlyAndLosesNothing() throws {
        let directory = TemporaryDirectory("resmon-read-only")
        _ = try StateLossTests.populate(directory, monitors: 3)
        try directory.write("ro.sh", Self.readOnlyScript)
        let result = try Products.run(
            "/usr/bin/unshare",
            [
                "-m", "/bin/sh", directory.file("ro.sh"), directory.file("state"), Products.path("resmond"), "--state-dir",
                directory.file("state"), "--config-dir", directory.file("config"), "--listen", "none", "--cycles", "2"
            ], timeout: 60)
        #expect(result.status != 0, "\(result.output) \(result.error)")
        #expect(result.error.contains("read-only file system"), "\(result.error)")
        #expect(result.error.contains(directory.file("state")), "names the directory: \(result.error)")
        #expect(result.error.contains("remount it read-write"), "says what to do: \(result.error)")
        // Writable again: everything is there.
        let daemon = try DaemonHarness(directory: directory)
        #expect(try daemon.client.monitors().count == 3)
        #expect(try daemon.client.events(limit: 100).events.count == 3)
    }

    /// Monitors created on `daemon` and the events of their raising: what it acknowledged.
    static func acknowledge(_ daemon: DaemonHarness, ids: [String], events: Int) throws {
        let specs = ids.map { id in
            var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
            spec.id = id
            return spec
        }
        _ = try daemon.client.createMonitors(specs)
        _ = try daemon.client.push("app:test:level", value: 60)
        try #require(daemon.eventually(timeout: 30) { (try? daemon.client.events(limit: 1000).events.count) == events })
    }

    static func stopCleanly(_ daemon: DaemonHarness) throws {
        daemon.signal(SIGTERM)
        try #require(daemon.waitForExit(timeout: 30) == 0, "\(daemon.stderr)")
    }

    /// The database's files removed under a running resmond (the socket left, so that it can be
    /// written to before the watch notices): what it acknowledged after the removal went to a
    /// file no path reached, lost at the next start before; now written back. `rm state.db`
    /// alone leaves the old connection's log at the path, which must not be laid over the new
    /// file; and the file written back must hold what comes after it, through a `kill -9`.
    @Test(arguments: [(["state.db"], false), (["state.db", "state.db-wal", "state.db-shm", "state.db.marker"], false), (["state.db"], true)])
    func aStateDatabaseRemovedUnderAResmondIsWrittenBackWithEverythingAcknowledged(removed: [String], killed: Bool) throws {
        let directory = TemporaryDirectory("resmon-removed-db")
        let daemon = try DaemonHarness(directory: directory)
        _ = try daemon.client.push("app:test:level", value: 10)
        try Self.acknowledge(daemon, ids: ["before0", "before1"], events: 2)
        for name in removed { unlink(directory.file("state/" + name)) }
        // Acknowledged while no path reaches the file: only the write-back keeps it.
        try Self.acknowledge(daemon, ids: ["after0", "after1", "after2"], events: 5)
        #expect(
            daemon.eventually(timeout: 60) { daemon.stderr.contains("wrote the state database it had open back to") },
            "\(daemon.stderr)")
        #expect(daemon.stderr.contains(directory.file("state/state.db")), "names the file: \(daemon.stderr)")
        // After the write-back the file in place is the one written.
        try Self.acknowledge(daemon, ids: ["later"], events: 6)
        if killed {
            daemon.signal(SIGKILL)
            _ = daemon.waitForExit(timeout: 30)
        } else {
            try Self.stopCleanly(daemon)
        }
        let again = try DaemonHarness(directory: directory)
        #expect(Set(try again.client.monitors().map(\.id)) == ["before0", "before1", "after0", "after1", "after2", "later"])
        #expect(try again.client.events(limit: 100).events.count == 6)
        #expect(!again.stderr.contains("lost its contents") && !again.stderr.contains("is missing"), "\(again.stderr)")
        try Database(path: directory.file("state/state.db")).checkPages()
    }

    /// The whole state directory removed (`rm -rf`): made again, the state written back, and a
    /// stop right after the removal, before the watch's next look, still writes it back.
    @Test func aStateDirectoryRemovedUnderAResmondThatStopsIsWrittenBack() throws {
        let directory = TemporaryDirectory("resmon-removed-dir")
        let daemon = try DaemonHarness(directory: directory)
        _ = try daemon.client.push("app:test:level", value: 10)
        try Self.acknowledge(daemon, ids: ["m0", "m1", "m2"], events: 3)
        try FileManager.default.removeItem(atPath: directory.file("state"))
        try Self.stopCleanly(daemon)
        #expect(daemon.stderr.contains("wrote the state database it had open back to"), "\(daemon.stderr)")
        let again = try DaemonHarness(directory: directory)
        #expect(Set(try again.client.monitors().map(\.id)) == ["m0", "m1", "m2"])
        #expect(try again.client.events(limit: 100).events.count == 3)
    }

    /// A write that finds the file gone writes it back before it is acknowledged: a `kill -9`
    /// right after the answer, before the watch's next look, loses nothing. (The file is at its
    /// path when the answer comes; before, it came back only at the watch's look, 5 s later.)
    @Test func whatIsAcknowledgedAfterTheFileWentSurvivesAKillRightAfterTheAnswer() throws {
        let directory = TemporaryDirectory("resmon-removed-then-killed")
        let daemon = try DaemonHarness(directory: directory)
        _ = try daemon.client.push("app:test:level", value: 10)
        try Self.acknowledge(daemon, ids: ["before"], events: 1)
        let path = directory.file("state/state.db")
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
        var spec = MonitorSpec(target: "app:test:level", condition: "above", value: 50)
        spec.id = "after"
        _ = try daemon.client.createMonitors([spec])
        #expect(FileManager.default.fileExists(atPath: path), "the answer came before the file was written back")
        daemon.signal(SIGKILL)
        _ = daemon.waitForExit(timeout: 30)
        let again = try DaemonHarness(directory: directory)
        #expect(Set(try again.client.monitors().map(\.id)) == ["before", "after"])
        #expect(!again.stderr.contains("lost its contents") && !again.stderr.contains("is missing"), "\(again.stderr)")
    }

    /// The whole state directory removed, twice: the socket that went with it is bound again
    /// each time (its server adopts the new socket), what is acknowledged on it is kept, and the
    /// stop is clean and removes the socket.
    @Test func theUnixSocketRemovedWithTheStateDirectoryIsBoundAgain() throws {
        let directory = TemporaryDirectory("resmon-socket-again")
        let daemon = try DaemonHarness(directory: directory)
        _ = try daemon.client.push("app:test:level", value: 10)
        try Self.acknowledge(daemon, ids: ["m0"], events: 1)
        for (round, id) in ["m1", "m2"].enumerated() {
            try FileManager.default.removeItem(atPath: directory.file("state"))
            #expect(
                daemon.eventually(timeout: 60) { (try? daemon.client.status()) != nil },
                "not reached on its socket again: \(daemon.stderr)")
            #expect(
                daemon.eventually(timeout: 20) { daemon.stderr.components(separatedBy: "bound it again").count == round + 2 },
                "\(daemon.stderr)")
            try Self.acknowledge(daemon, ids: [id], events: round + 2)
        }
        try Self.stopCleanly(daemon)
        #expect(!FileManager.default.fileExists(atPath: daemon.socket), "the socket is left after the stop")
        let again = try DaemonHarness(directory: directory)
        #expect(Set(try again.client.monitors().map(\.id)) == ["m0", "m1", "m2"])
        #expect(try again.client.events(limit: 100).events.count == 3)
    }

    /// Another file put at the path: left alone; resmond keeps a copy of what it holds beside it,
    /// again at its stop, and says so in its log and `/v1/status`.
    @Test func aStateDatabaseReplacedUnderAResmondIsLeftAloneAndACopyKept() throws {
        let directory = TemporaryDirectory("resmon-replaced-db")
        let daemon = try DaemonHarness(directory: directory)
        _ = try daemon.client.push("app:test:level", value: 10)
        try Self.acknowledge(daemon, ids: ["m0", "m1"], events: 2)
        let path = directory.file("state/state.db")
        let stranger = directory.file("stranger.db")
        try Database(path: stranger).execute("CREATE TABLE stranger (x)")
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
        #expect(rename(stranger, path) == 0)
        #expect(daemon.eventually(timeout: 60) { daemon.stderr.contains("another file is at \(path)") }, "\(daemon.stderr)")
        #expect(daemon.eventually(timeout: 20) { (try? daemon.client.status().storageError)?.contains("another file") == true })
        try Self.acknowledge(daemon, ids: ["m2"], events: 3)
        try Self.stopCleanly(daemon)
        // The stranger is untouched; the copy made at the stop holds everything.
        #expect(try Database(path: path).execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'monitors'").first?.first?.integer == 0)
        let kept = try FileManager.default.contentsOfDirectory(atPath: directory.file("state")).filter { $0.hasSuffix("-at-stop") }
        let copy = directory.file("state/" + (try #require(kept.first, "no copy at the stop")))
        #expect(try Database(path: copy).execute("SELECT COUNT(*) FROM monitors").first?.first?.integer == 3)
    }
}
