import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A pushed statistic belongs to the user who pushed it first, as a monitor belongs to its
/// creator: another user who may connect can read it but not overwrite or delete it; root may.
@Suite struct PushOwnershipTests {
    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func anotherUserGets403OnAPushedStatisticAndRootMayChangeAll() throws {
        let daemon = try DaemonHarness()
        for path in [daemon.directory.path, daemon.stateDirectory] { chmod(path, 0o755) }
        chmod(daemon.socket, 0o666)
        func asNobody(_ arguments: [String]) throws -> ProgramResult {
            try Products.run(
                "/usr/bin/setpriv",
                ["--reuid=65534", "--regid=65534", "--clear-groups", Products.path("resmon"), "--socket", daemon.socket] + arguments)
        }
        _ = try daemon.client.push("app:root:depth", value: 10)

        let read = try asNobody(["get", "app:root:depth"])
        #expect(read.status == 0, "anyone who may connect reads it: \(read.error)")
        let overwrite = try asNobody(["push", "app:root:depth", "99"])
        #expect(overwrite.status != 0 && overwrite.error.contains("403"), "\(overwrite.error)")
        #expect(overwrite.error.contains("app:root:depth belongs to uid 0"), "\(overwrite.error)")
        let delete = try asNobody(["push", "--delete", "app:root:depth"])
        #expect(delete.status != 0 && delete.error.contains("403"), "\(delete.error)")
        #expect(try daemon.client.statistic("app:root:depth").value == 10, "root's value stands")

        // Nobody's own statistic: theirs to change; root may change and delete it too.
        #expect(try asNobody(["push", "app:nobody:depth", "1"]).status == 0)
        let again = try asNobody(["push", "app:nobody:depth", "2"])
        #expect(again.status == 0, "\(again.error)")
        _ = try daemon.client.push("app:nobody:depth", value: 3)
        #expect(try daemon.client.statistic("app:nobody:depth").value == 3)
        try daemon.client.removePushed("app:nobody:depth")
        #expect(throws: ClientError.self) { try daemon.client.statistic("app:nobody:depth") }
        // Once deleted, the key is free again: the next pusher owns it.
        #expect(try asNobody(["push", "app:root:free", "1"]).status == 0)
        try daemon.client.removePushed("app:root:depth")
    }
}
