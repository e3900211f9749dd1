import Events
import Monitoring
import ResmonAPI
import ResmonSystem
import Storage

#if canImport(Glibc)
    import Glibc
#endif

/// The event log: events per second appended, one per transaction and a thousand.
enum EventLogAppends {
    static func run(into results: inout Results) {
        let directory = "/tmp/resmon-bench-events-\(getpid())"
        mkdir(directory, 0o755)
        defer {
            for suffix in ["", "-wal", "-shm"] { unlink(directory + "/state.db" + suffix) }
            rmdir(directory)
        }
        if let state = try? StateDatabase(path: directory + "/state.db", migrations: MonitorStore.migrations) {
            let event = EventRecord(
                id: 0, time: 1_800_000_000, code: EventType.Kind.above.code, type: .above, severity: .warning, monitorId: "bench",
                monitorName: "bench:r0:value above 90", key: "bench:r0:value", value: 95, threshold: 90, host: "bench",
                message: "bench:r0:value is 95, above 90", cancels: nil, labels: ["team": "bench"], annotations: [:])
            for (label, perTransaction, transactions) in [("single", 1, 300), ("batch1000", 1000, 30)] {
                let started = Clock.monotonic()
                for _ in 0..<transactions {
                    try? state.withDatabase { database in
                        try database.transaction { _ = try EventStore.append(Array(repeating: event, count: perTransaction), owner: 0, in: database) }
                    }
                }
                results.report("event_log_append_\(label)", Double(perTransaction * transactions) / (Clock.monotonic() - started), "events/s")
            }
        }
    }
}
