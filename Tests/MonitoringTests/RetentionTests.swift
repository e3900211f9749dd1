import Events
import Monitoring
import ResmonAPI
import ResmonTestSupport
import Storage
import Testing

@Suite struct RetentionTests {
    @Test func oldAndSurplusEventsGoInBatches() throws {
        let rig = try Rig()
        try rig.create { $0.loggingRate = 1 }
        rig.feed([Double](repeating: 60, count: 30))  // 30 raise events, one a second
        #expect(rig.events.count == 30)
        let now = rig.time
        // Keep the newest 20: 10 go, in batches of at most 4.
        var deleted = 0
        while true {
            let batch = try rig.engine.eventStore.enforceRetention(maximumAge: 1e9, maximumCount: 20, now: now, batch: 4)
            #expect(batch <= 4)
            if batch == 0 { break }
            deleted += batch
        }
        #expect(deleted == 10)
        #expect(rig.events.count == 20)
        // Then age: events older than 5 s before the last go.
        try rig.engine.eventStore.enforceRetention(maximumAge: 5.5, maximumCount: 1000, now: now)
        #expect(rig.events.count == 6)
        #expect(rig.events.allSatisfy { $0.time >= now - 5.5 })
    }
}

/// Issue 22 (retention): one ordinary user's monitors, raising and cancelling as fast as the
/// storm limits let them, pushed root's events out of the log, which kept the newest
/// `retentionCount` of everyone's together.
@Suite struct PerUserRetentionTests {
    @Test func aUsersFloodTrimsItsOwnShareAndRootsEventsStay() throws {
        let rig = try Rig()
        // Root's monitor raises once and cancels: the two oldest events in the log.
        try rig.create({ $0.id = "root-low" }, condition: .below, value: 10)
        let user = (0..<20).map { number in
            var spec = MonitorSpec(target: rig.key, condition: .above, value: 50)
            spec.id = "user\(number)"
            return spec
        }
        _ = try rig.engine.create(user, owner: 65534)
        rig.feed(5)
        // Every reading crosses the users' threshold: 20 monitors raise and cancel 10 times each.
        rig.feed((0..<20).map { $0 % 2 == 0 ? 60 : 40 })
        let before = try rig.engine.eventStore.events(after: 0, limit: 10_000)
        #expect(before.filter { $0.monitorId == "root-low" }.count == 2)
        #expect(before.count > 300, "\(before.count)")
        while try rig.engine.eventStore.enforceRetention(maximumAge: 1e9, maximumCount: 100, now: rig.time, batch: 50) > 0 {}
        let after = try rig.engine.eventStore.events(after: 0, limit: 10_000)
        #expect(after.filter { $0.monitorId == "root-low" }.count == 2, "root's events were deleted for uid 65534's")
        // The default share of one uid other than root is a tenth of the count.
        #expect(after.filter { $0.monitorId?.hasPrefix("user") == true }.count == 10)
    }
}

/// The event log's owners and per-uid retention, on the store itself.
@Suite struct EventOwnerRetentionTests {
    let directory = TemporaryDirectory("resmon-retention")
    let database: StateDatabase
    let store: EventStore

    init() throws {
        database = try StateDatabase(path: directory.file("state.db"), migrations: MonitorStore.migrations)
        store = EventStore(database: database)
    }

    static func event(_ number: Int, monitor: String) -> EventRecord {
        EventRecord(
            id: 0, time: 1_800_000_000 + Double(number), code: EventType.Kind.above.code, type: .above, severity: .warning,
            monitorId: monitor, monitorName: nil, key: "app:test:level", value: 60, threshold: 50, host: "test",
            message: "event \(number)", cancels: nil, labels: [:], annotations: [:])
    }

    /// Appends `count` events of `uid`, one transaction.
    func append(_ count: Int, uid: Int) throws {
        try database.withDatabase { database in
            try database.transaction {
                _ = try EventStore.append((0..<count).map { EventOwnerRetentionTests.event($0, monitor: "u\(uid)") }, owner: uid, in: database)
            }
        }
    }

    func counts() throws -> [String: Int] {
        let events = try store.events(after: 0, limit: 100_000)
        return Dictionary(grouping: events, by: { $0.monitorId ?? "" }).mapValues(\.count)
    }

    func stored() throws -> [Int: Int] {
        let rows = try database.withDatabase { try $0.execute("SELECT owner, count FROM event_counts WHERE count > 0") }
        return Dictionary(uniqueKeysWithValues: rows.map { (Int($0[0].integer ?? -1), Int($0[1].integer ?? -1)) })
    }

    @Test func whenTheLogIsFullOtherUsersGoFirstTheLargestFirst() throws {
        try append(60, uid: 0)
        try append(30, uid: 1000)
        try append(25, uid: 1001)
        // 115 events, 100 allowed, shares of 40: 15 go, from 1000's and 1001's, none of root's.
        var calls = 0
        while try store.enforceRetention(maximumAge: 1e12, maximumCount: 100, maximumCountPerUser: 40, now: 1_800_000_100, batch: 4) > 0 {
            calls += 1
        }
        #expect(calls >= 4)
        #expect(try counts() == ["u0": 60, "u1000": 20, "u1001": 20])
        #expect(try stored() == [0: 60, 1000: 20, 1001: 20])
        // The oldest of each went.
        let kept = try store.events(after: 0, limit: 1000).filter { $0.monitorId == "u1000" }
        #expect(kept.first?.message == "event 10")
    }

    @Test func rootIsTrimmedOnlyForItsOwnCountAndAUserForItsShare() throws {
        try append(30, uid: 1000)
        try append(120, uid: 0)
        while try store.enforceRetention(maximumAge: 1e12, maximumCount: 200, maximumCountPerUser: 10, now: 1_800_000_100) > 0 {}
        #expect(try counts() == ["u0": 120, "u1000": 10])
        while try store.enforceRetention(maximumAge: 1e12, maximumCount: 100, maximumCountPerUser: 10, now: 1_800_000_100) > 0 {}
        // Root's own 120 exceed the count: its oldest go; the log is full of root's, so the user's go too.
        #expect(try counts() == ["u0": 100])
    }

    @Test func ageAppliesToEveryUid() throws {
        try append(20, uid: 0)
        try append(20, uid: 1000)
        // Events 0 … 19 at 1_800_000_000 + n: older than 5.5 s before 1_800_000_019 go.
        try store.enforceRetention(maximumAge: 5.5, maximumCount: 1000, now: 1_800_000_019)
        #expect(try counts() == ["u0": 6, "u1000": 6])
        #expect(try stored() == [0: 6, 1000: 6])
    }

    /// Each pass's deletes seek the uid's oldest events through `events_owner`: no pass reads
    /// the whole log.
    @Test func theDeletesUseTheOwnerIndex() throws {
        let plans = try database.withDatabase { database in
            try [
                "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE owner = 5 ORDER BY id LIMIT 10)",
                "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE owner = 5 ORDER BY id LIMIT 10) AND time < 5"
            ].map { statement in
                try database.execute("EXPLAIN QUERY PLAN " + statement).map { $0.last?.text ?? "" }.joined(separator: "; ")
            }
        }
        for plan in plans {
            #expect(plan.contains("USING COVERING INDEX events_owner (owner=?)"), "\(plan)")
            #expect(!plan.contains("SCAN"), "\(plan)")
        }
    }

    /// A database from before owners (schema version 4): its events get their monitor's owner
    /// where the monitor is still there, root's otherwise, and the counts follow.
    @Test func aVersionFourDatabaseGetsOwnersAndCounts() throws {
        let old = TemporaryDirectory("resmon-retention-old")
        let path = old.file("state.db")
        do {
            let released = try Database(path: path)
            try released.migrate(Array(MonitorStore.migrations.prefix(4)))
            try released.execute(
                "INSERT INTO monitors (id, spec, owner, created) VALUES ('mine', '{}', 1000, 0), ('roots', '{}', 0, 0)")
            for (number, monitor) in ["mine", "roots", "mine", "gone"].enumerated() {
                try StateDatabaseMigrationTests.insertReleasedEvent(monitor: monitor, time: Double(number), in: released)
            }
        }
        let database = try StateDatabase(path: path, migrations: MonitorStore.migrations)
        let owners = try database.withDatabase { try $0.execute("SELECT monitor_id, owner FROM events ORDER BY id") }
        #expect(owners.map { "\($0[0].text ?? ""):\($0[1].integer ?? -1)" } == ["mine:1000", "roots:0", "mine:1000", "gone:0"])
        let counts = try database.withDatabase { try $0.execute("SELECT owner, count FROM event_counts ORDER BY owner") }
        #expect(counts.map { [$0[0].integer ?? -1, $0[1].integer ?? -1] } == [[0, 2], [1000, 2]])
    }
}

/// An application's events (`POST /v1/events`) are its uid's: a user's inline monitors with
/// `forward` trim their own share, not root's events.
@Suite struct ApplicationEventRetentionTests {
    @Test func anApplicationsEventsCountAgainstItsUid() throws {
        let rig = try Rig()
        try rig.create({ $0.id = "root-low" }, condition: .below, value: 10)
        rig.feed(5)
        for number in 0..<30 {
            let event = EventRecord(
                id: 0, time: rig.time, code: 1, type: "above", severity: "warning", monitorId: "inline\(number)", monitorName: nil,
                key: "app:inline:x", value: 1, threshold: 0.5, host: "h", message: "x above 0.5",
                cancels: nil, labels: ["source": "application", "uid": "65534"], annotations: [:])
            _ = try rig.engine.appendApplicationEvent(event, caller: 65534, now: rig.time + Double(number))
        }
        while try rig.engine.eventStore.enforceRetention(maximumAge: 1e9, maximumCount: 20, now: rig.time, batch: 50) > 0 {}
        let after = try rig.engine.eventStore.events(after: 0, limit: 10_000)
        #expect(after.contains { $0.monitorId == "root-low" }, "root's event went for an application's")
        #expect(after.filter { $0.monitorId?.hasPrefix("inline") == true }.count == 2)  // a tenth of 20
    }
}
