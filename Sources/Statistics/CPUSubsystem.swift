#if canImport(Glibc)
    import Glibc
#endif

/// `cpu`: per-CPU and `total` time shares from /proc/stat, plus host-wide scheduler counters.
public final class CPUSubsystem: Subsystem {
    /// Its name and what it allows, declared once (BuiltInSubsystem.all).
    public static let builtIn = BuiltInSubsystem(name: "cpu", samplesBetweenSteps: true)
    public var name: String { Self.builtIn.name }
    public let summary = "CPU time shares per CPU and in total, context switches, forks (/proc/stat)"

    private static let tickSeconds = 1 / Double(max(1, sysconf(Int32(_SC_CLK_TCK))))
    private static let perCPU: [StatisticSpec] = [
        .gauge("usage_ratio", "ratio", "Share of time the CPU was not idle or waiting for I/O", resolution: 0.01, bound: .ratio, updateInterval: 0.01),
        .gauge("user_ratio", "ratio", "Share of time in user mode, nice included", resolution: 0.01, bound: .ratio, updateInterval: 0.01),
        .gauge("system_ratio", "ratio", "Share of time in the kernel, interrupts included", resolution: 0.01, bound: .ratio, updateInterval: 0.01),
        .gauge("iowait_ratio", "ratio", "Share of time idle with I/O outstanding", resolution: 0.01, bound: .ratio, updateInterval: 0.01),
        .gauge("steal_ratio", "ratio", "Share of time taken by the hypervisor for other guests", resolution: 0.01, bound: .ratio, updateInterval: 0.01),
        .counter("busy_seconds_total", "seconds", "CPU time not idle (its rate is cores busy)", resolution: 0.01)
    ]
    private static let host: [StatisticSpec] = [
        .gauge("online", "cpus", "CPUs online"),
        .counter("context_switches_total", "switches", "Context switches"),
        .counter("interrupts_total", "interrupts", "Interrupts serviced"),
        .counter("forks_total", "processes", "Processes and threads created"),
        .gauge("runnable", "tasks", "Tasks runnable now"),
        .gauge("blocked", "tasks", "Tasks blocked on I/O now")
    ]

    struct Ticks {
        var busy: UInt64 = 0, user: UInt64 = 0, system: UInt64 = 0, iowait: UInt64 = 0, steal: UInt64 = 0, total: UInt64 = 0
    }

    private let file: ProcFile
    private let cpus: ResourceSlots
    private let hostSlots: ResourceSlots
    private var previous: [String: Ticks] = [:]

    public init(paths: HostPaths, table: SampleTable) {
        file = ProcFile(paths.proc("stat"), capacity: 16384)
        cpus = ResourceSlots(subsystem: "cpu", specs: CPUSubsystem.perCPU, table: table)
        hostSlots = ResourceSlots(subsystem: "cpu", specs: CPUSubsystem.host, table: table)
    }

    public func collect(into batch: inout SampleBatch) throws {
        cpus.begin()
        hostSlots.begin()
        var host: [Double] = [0, .nan, .nan, .nan, .nan, .nan]
        var seen: Set<String> = []
        var cpuCount = 0
        try file.read { bytes in
            var text = TextScanner(bytes)
            while var line = text.nextLine(in: bytes) {
                guard let labelRange = line.field(in: bytes) else { continue }
                let label = bytes.extracting(labelRange)
                if label.starts(with: "cpu") {
                    var fields = [UInt64](repeating: 0, count: 10)
                    var count = 0
                    while count < 10, let value = line.unsigned(in: bytes) {
                        fields[count] = value
                        count += 1
                    }
                    guard count >= 4 else { continue }
                    let resource = label.spells("cpu") ? "total" : String(decodingUTF8: label)
                    if resource != "total" { cpuCount += 1 }
                    seen.insert(resource)
                    record(resource, fields, into: &batch)
                } else if label.spells("ctxt") {
                    host[1] = line.unsigned(in: bytes).map { Double($0) } ?? .nan
                } else if label.spells("intr") {
                    host[2] = line.unsigned(in: bytes).map { Double($0) } ?? .nan
                } else if label.spells("processes") {
                    host[3] = line.unsigned(in: bytes).map { Double($0) } ?? .nan
                } else if label.spells("procs_running") {
                    host[4] = line.unsigned(in: bytes).map { Double($0) } ?? .nan
                } else if label.spells("procs_blocked") {
                    host[5] = line.unsigned(in: bytes).map { Double($0) } ?? .nan
                }
            }
        }
        guard seen.contains("total") else { throw SubsystemUnavailable("\(file.path) has no aggregate cpu line") }
        host[0] = Double(cpuCount)
        let handles = hostSlots.handles(for: "host") { [:] }
        for (handle, value) in zip(handles, host) where !value.isNaN { batch.record(handle, value) }
        previous = previous.filter { seen.contains($0.key) }
        cpus.end()
        hostSlots.end()
    }

    /// fields: user nice system idle iowait irq softirq steal guest guest_nice. Guest time is
    /// already inside user and nice, so it is not added again.
    private func record(_ resource: String, _ fields: [UInt64], into batch: inout SampleBatch) {
        let (user, nice, system, idle, iowait) = (fields[0], fields[1], fields[2], fields[3], fields[4])
        let (irq, softirq, steal) = (fields[5], fields[6], fields[7])
        let total = user &+ nice &+ system &+ idle &+ iowait &+ irq &+ softirq &+ steal
        let now = Ticks(
            busy: total &- idle &- iowait, user: user &+ nice, system: system &+ irq &+ softirq,
            iowait: iowait, steal: steal, total: total)
        let handles = cpus.handles(for: resource) { resource == "total" ? [:] : ["cpu": resource] }
        if let before = previous[resource], now.total > before.total, now.busy >= before.busy {
            let elapsed = Double(now.total - before.total)
            func share(_ a: UInt64, _ b: UInt64) -> Double { a >= b ? min(1, Double(a - b) / elapsed) : .nan }
            batch.record(handles[0], share(now.busy, before.busy))
            batch.record(handles[1], share(now.user, before.user))
            batch.record(handles[2], share(now.system, before.system))
            batch.record(handles[3], share(now.iowait, before.iowait))
            batch.record(handles[4], share(now.steal, before.steal))
        } else {
            for index in 0..<5 { batch.record(handles[index], .nan) }
        }
        batch.record(handles[5], Double(now.busy) * CPUSubsystem.tickSeconds)
        previous[resource] = now
    }

    public func retireAll() {
        cpus.retireAll()
        hostSlots.retireAll()
        previous.removeAll()
    }
}
