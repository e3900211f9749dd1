import Foundation
import ResmonAPI
import ResmonTestSupport
import Synchronization
import Testing

@testable import Monitoring

/// Issue 17, "No stall": a bulk create held the engine's lock for its whole database write, so
/// the sampling cycle waited for it (489 ms cycles at 1,000,000 monitors). The write must hold
/// the database's lock alone.
@Suite struct BulkCreateLockTests {
    /// What the create on another thread answered.
    final class Outcome: Sendable {
        let result = Synchronization.Mutex<Result<[MonitorInfo], MonitorError>?>(nil)
    }

    static func specs(_ rig: Rig, count: Int, prefix: String) -> [MonitorSpec] {
        (0..<count).map { number in
            var spec = MonitorSpec(target: rig.key, condition: .above, value: 1e9)
            spec.id = "\(prefix)\(number)"
            return spec
        }
    }

    @Test func aCreateWaitingOnTheDatabaseLeavesTheEnginesLockFree() throws {
        let rig = try Rig()
        let engine = rig.engine
        let specs = BulkCreateLockTests.specs(rig, count: 2_000, prefix: "bulk")
        let writesBefore = engine.stateWrites.load(ordering: .acquiring)
        let outcome = Outcome()
        var reachedTheWrite = false
        var lockFreeDuringTheWrite = false
        // The test holds the database, as a slow disk would: the create validates, claims its
        // ids and counts its write (stateWrites), then waits for the database.
        rig.database.withDatabase { _ in
            let creating = Thread {
                let result = Result { () throws(MonitorError) -> [MonitorInfo] in try engine.create(specs, owner: 0) }
                outcome.result.withLock { $0 = result }
            }
            creating.start()
            reachedTheWrite = eventually(timeout: 120) { engine.stateWrites.load(ordering: .acquiring) > writesBefore }
            guard reachedTheWrite else { return }
            // Meanwhile the evaluation (and every route) can take the engine's lock.
            lockFreeDuringTheWrite = eventually(timeout: 20) { engine.core.withLockIfAvailable { _ in true } != nil }
        }
        #expect(reachedTheWrite, "the create never came to its database write")
        #expect(lockFreeDuringTheWrite, "the create held the engine's lock while it waited for the database")
        #expect(eventually(timeout: 120) { outcome.result.withLock { $0 != nil } })
        let created = try #require(try outcome.result.withLock { $0 }?.get())
        #expect(created.count == 2_000 && created.first?.id == "bulk0" && created.last?.id == "bulk1999")
        #expect(engine.count == 2_000)
    }

    @Test func anIdBeingCreatedIsTakenForAnotherCreate() throws {
        let rig = try Rig()
        let engine = rig.engine
        let specs = BulkCreateLockTests.specs(rig, count: 10, prefix: "same")
        let writesBefore = engine.stateWrites.load(ordering: .acquiring)
        let outcome = Outcome()
        var second: MonitorError?
        rig.database.withDatabase { _ in
            let creating = Thread {
                let result = Result { () throws(MonitorError) -> [MonitorInfo] in try engine.create(specs, owner: 0) }
                outcome.result.withLock { $0 = result }
            }
            creating.start()
            guard eventually(timeout: 120, { engine.stateWrites.load(ordering: .acquiring) > writesBefore }),
                // (Were the engine's lock held while the database is, the second create would deadlock.)
                eventually(timeout: 20, { engine.core.withLockIfAvailable { _ in true } != nil })
            else { return }
            // Claimed, not yet stored nor placed: a second create of one of the ids is a conflict.
            do throws(MonitorError) {
                _ = try engine.create([specs[3]], owner: 0)
            } catch {
                second = error
            }
        }
        #expect(second?.kind == .conflict && second?.message == "a monitor with id same3 exists", "\(String(describing: second))")
        #expect(eventually(timeout: 120) { outcome.result.withLock { $0 != nil } })
        #expect(try outcome.result.withLock { $0 }?.get().count == 10)
        #expect(engine.count == 10)
    }

    @Test func aRefusedWriteReleasesTheIds() throws {
        let rig = try Rig()
        // A row with the id already in the database (not in memory): the insert fails, all or none.
        try rig.database.withDatabase { database in
            try database.execute("INSERT INTO monitors (id, spec, owner, created) VALUES ('taken5', '{}', 0, 0)")
        }
        let specs = BulkCreateLockTests.specs(rig, count: 10, prefix: "taken")
        #expect(throws: MonitorError.self) { try rig.engine.create(specs, owner: 0) }
        #expect(rig.engine.count == 0)
        #expect(rig.engine.core.withLock { $0.claims.ids.isEmpty && $0.claims.byOwner.isEmpty })
        try rig.database.withDatabase { database in _ = try database.execute("DELETE FROM monitors WHERE id = 'taken5'") }
        #expect(try rig.engine.create(specs, owner: 0).count == 10)
    }
}
