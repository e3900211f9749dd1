import Events
import Foundation
import ResmonAPI
import ResmonTestSupport
import Storage
import Testing

@testable import Monitoring

/// Issue 22, D6 after a crash: the marker's floor (the highest event id committed when ids
/// were last reserved) tells a state database whose write-ahead log lost commits from one that
/// only stopped without a clean stop.
@Suite struct CrashLossTests {
    static func continuity(acceptLoss: Bool = false) -> StateContinuity {
        StateContinuity(sequence: "events", counted: "monitors", block: 5, acceptLoss: acceptLoss)
    }

    static func event(_ number: Int) -> EventRecord {
        EventRecord(
            id: 0, time: Double(number), code: 1, type: "above", severity: "warning", monitorId: "m", monitorName: nil,
            key: nil, value: nil, threshold: nil, host: "h", message: "event \(number)", cancels: nil, labels: [:],
            annotations: [:])
    }

    /// A database that handed out 20 event ids, one commit each, and was then left as a crash
    /// leaves it (no clean stop): its files copied into `copies` — with its write-ahead log, or
    /// without it (a lost log).
    static func crash(_ directory: TemporaryDirectory, keepingLog: Bool) throws -> String {
        let path = directory.file("state.db")
        let database = try StateDatabase(path: path, migrations: MonitorStore.migrations, continuity: continuity())
        for number in 1...20 {
            _ = try database.withDatabase { database in try database.transaction { try EventStore.append([event(number)], owner: 0, in: database) } }
        }
        let copy = directory.file("copy")
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        for suffix in ["", ".marker"] + (keepingLog ? ["-wal"] : []) {
            try FileManager.default.copyItem(atPath: path + suffix, toPath: copy + "/state.db" + suffix)
        }
        withExtendedLifetime(database) {}
        return copy + "/state.db"
    }

    @Test func aCrashWithItsLogIntactIsNoLoss() throws {
        let directory = TemporaryDirectory("resmon-crash-intact")
        let path = try CrashLossTests.crash(directory, keepingLog: true)
        let reopened = try StateDatabase(path: path, migrations: MonitorStore.migrations, continuity: CrashLossTests.continuity())
        #expect(reopened.startReport.allSatisfy { !$0.contains("lost") }, "\(reopened.startReport)")
        #expect(try reopened.withDatabase { try EventStore.lastID(in: $0) } == 20)
    }

    @Test func aCrashWhoseLogWasLostIsRefusedUntilTheLossIsAccepted() throws {
        let directory = TemporaryDirectory("resmon-crash-lost")
        let path = try CrashLossTests.crash(directory, keepingLog: false)
        do {
            _ = try StateDatabase(path: path, migrations: MonitorStore.migrations, continuity: CrashLossTests.continuity())
            Issue.record("a database that lost committed events opened")
        } catch let error as StateLossError {
            #expect(error.description.contains("up to id 17") && error.description.contains("--accept-state-loss"), "\(error)")
        }
        let accepted = try StateDatabase(
            path: path, migrations: MonitorStore.migrations, continuity: CrashLossTests.continuity(acceptLoss: true))
        #expect(accepted.startReport.contains { $0.contains("lost") }, "\(accepted.startReport)")
        // Ids continue above every id that may have been handed out.
        let next = try accepted.withDatabase { database in
            try database.transaction { try EventStore.append([CrashLossTests.event(21)], owner: 0, in: database) }
        }
        #expect((next.first?.id ?? 0) > 23)
    }
}
