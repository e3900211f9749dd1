import Foundation
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The state (every monitor and event, and the socket) is private to root and the socket's group.
@Suite struct StatePermissionTests {
    @Test(.enabled(if: getuid() == 0))
    func theStateDirectoryAndDatabaseArePrivateToRootAndTheGroup() throws {
        let directory = TemporaryDirectory("resmon-state-modes")
        // An older resmond left them readable by all.
        try FileManager.default.createDirectory(atPath: directory.file("state"), withIntermediateDirectories: true)
        chmod(directory.file("state"), 0o755)
        let daemon = try DaemonHarness(directory: directory)
        _ = try daemon.client.push("app:test:level", value: 1)
        let group = getgrnam("resmon").map { $0.pointee.gr_gid } ?? 0
        func mode(_ path: String) -> (mode: mode_t, group: gid_t)? {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            return (info.st_mode & 0o7777, info.st_gid)
        }
        let state = try #require(mode(daemon.stateDirectory))
        #expect(state.mode == 0o750 && state.group == group, "state directory: \(String(state.mode, radix: 8)), group \(state.group)")
        for name in ["state.db", "state.db-wal", "state.db-shm"] {
            let file = try #require(mode(daemon.stateDirectory + "/" + name), "\(name) exists")
            #expect(file.mode == 0o640 && file.group == group, "\(name): \(String(file.mode, radix: 8)), group \(file.group)")
        }
    }
}
