import Foundation
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
}
