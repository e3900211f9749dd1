import Foundation
import ResmonAPI
import ResmonTestSupport
import Storage
import Testing

@testable import Monitoring

/// Issue 17: the minute's state snapshot (what moves between transitions: counts toward
/// raising, buckets' levels, watermarks) is not written by the evaluation, which must never
/// stall on encoding every moving monitor; the snapshot writer does it, off the evaluation.
@Suite struct StateSnapshotTests {
    /// The state the database holds for monitor "m" (nil: none).
    static func stored(_ rig: Rig) throws -> SavedState? {
        let text = try rig.engine.store.database.withDatabase { database in
            try database.execute("SELECT state FROM monitor_state WHERE id = 'm'").first?.first?.text
        }
        return try text.map { try JSONDecoder().decode(SavedState.self, from: Data($0.utf8)) }
    }

    @Test func theEvaluationDoesNotWriteTheSnapshot() throws {
        let rig = try Rig()
        try rig.create { $0.samples = 5 }
        rig.feed(60)  // clear → pending: a transition, written with it
        #expect(try StateSnapshotTests.stored(rig)?.count == 1)
        rig.time += 120  // a snapshot is long due
        rig.feed(60, 60)  // the count moves without a transition
        #expect(rig.state?.count == 3)
        #expect(try StateSnapshotTests.stored(rig)?.count == 1, "the evaluation encoded and wrote a moving monitor's state")
    }

    @Test func theWriterWritesWhatMovedAndARestartKeepsIt() throws {
        let rig = try Rig()
        try rig.create { $0.samples = 5 }
        rig.feed(60, 60, 60)
        #expect(try StateSnapshotTests.stored(rig)?.count == 1)
        #expect(rig.engine.writeStateSnapshot() == 1)
        #expect(try StateSnapshotTests.stored(rig)?.count == 3)
        // A monitor that sits clear is not written again.
        rig.feed(10)
        #expect(rig.engine.writeStateSnapshot() == 0)
    }

    @Test func aChunkCopiedBeforeATransitionWritesTheStateAfterIt() throws {
        let rig = try Rig()
        try rig.create { $0.samples = 5 }
        rig.feed(60, 60)
        var chunk = try #require(rig.engine.copySnapshotChunk(from: 0))
        rig.engine.encode(&chunk)
        rig.feed(10)  // pending → clear: written with the transition
        #expect(rig.engine.writeSnapshotChunk(chunk) == 1)
        let stored = try StateSnapshotTests.stored(rig)
        #expect(stored?.phase == "clear" && stored?.count == 0, "the copy from before the transition was written back: \(String(describing: stored))")
    }

    @Test func aChunkCopiedBeforeADeleteWritesNothingBack() throws {
        let rig = try Rig()
        try rig.create { $0.samples = 5 }
        rig.feed(60, 60)
        var chunk = try #require(rig.engine.copySnapshotChunk(from: 0))
        rig.engine.encode(&chunk)
        try rig.engine.delete("m", caller: 0)
        #expect(rig.engine.writeSnapshotChunk(chunk) == 0)
        #expect(try StateSnapshotTests.stored(rig) == nil)
    }

    /// With nothing written to the monitors' tables since its copy, a chunk is written with no
    /// engine lock: here the test holds the lock throughout, as an evaluation would.
    @Test func aChunkWithNothingWrittenSinceItsCopyIsWrittenWithoutTheEngineLock() throws {
        let rig = try Rig()
        try rig.create { $0.samples = 5 }
        rig.feed(60, 60)
        var chunk = try #require(rig.engine.copySnapshotChunk(from: 0))
        rig.engine.encode(&chunk)
        rig.feed(60)  // the count moves; nothing is written
        let engine = rig.engine
        let copied = chunk
        let done = DispatchSemaphore(value: 0)
        let written = rig.engine.core.withLock { _ in
            let result = ResmonTestSupport.Mutex<Int?>(nil)
            DispatchQueue.global().async {
                result.set(engine.writeSnapshotChunk(copied))
                done.signal()
            }
            _ = done.wait(timeout: .now() + 30)
            return result.get()
        }
        #expect(written == 1, "the chunk waited for the engine's lock")
        #expect(try StateSnapshotTests.stored(rig)?.count == 2)
    }
}
