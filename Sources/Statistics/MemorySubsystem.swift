/// `memory`: host memory and swap from /proc/meminfo, paging counters from /proc/vmstat.
public final class MemorySubsystem: Subsystem {
    /// Its name and what it allows, declared once (BuiltInSubsystem.all).
    public static let builtIn = BuiltInSubsystem(name: "memory", samplesBetweenSteps: true)
    public var name: String { Self.builtIn.name }
    public let summary = "Memory and swap use (/proc/meminfo), major faults and swapping (/proc/vmstat)"

    private static let specs: [StatisticSpec] = [
        .gauge("total_bytes", "bytes", "Usable memory", resolution: 1024, bound: .capacity(0)),
        .gauge("free_bytes", "bytes", "Memory not used at all", resolution: 1024, bound: .capacity(0)),
        .gauge("available_bytes", "bytes", "Memory available for new work without swapping (MemAvailable)", resolution: 1024, bound: .capacity(0)),
        .gauge("used_bytes", "bytes", "Memory in use: total minus available", resolution: 1024, bound: .capacity(0)),
        .gauge("used_ratio", "ratio", "Share of memory in use: (total - available) / total", bound: .ratio),
        .gauge("buffers_bytes", "bytes", "Block-device buffers", resolution: 1024, bound: .capacity(0)),
        .gauge("cached_bytes", "bytes", "Page cache", resolution: 1024, bound: .capacity(0)),
        .gauge("shared_bytes", "bytes", "Shared memory and tmpfs (Shmem)", resolution: 1024, bound: .capacity(0)),
        .gauge("dirty_bytes", "bytes", "Memory waiting to be written back", resolution: 1024, bound: .capacity(0)),
        .gauge("swap_total_bytes", "bytes", "Swap space", resolution: 1024, bound: .capacity(1)),
        .gauge("swap_free_bytes", "bytes", "Swap space unused", resolution: 1024, bound: .capacity(1)),
        .gauge("swap_used_bytes", "bytes", "Swap space in use", resolution: 1024, bound: .capacity(1)),
        .gauge("swap_used_ratio", "ratio", "Share of swap space in use (0 without swap)", bound: .ratio),
        .counter("major_faults_total", "faults", "Page faults that read from disk"),
        .counter("swap_in_pages_total", "pages", "Pages swapped in"),
        .counter("swap_out_pages_total", "pages", "Pages swapped out"),
        .counter("oom_kills_total", "processes", "Processes killed by the OOM killer")
    ]

    private let meminfo: ProcFile
    private let vmstat: ProcFile
    private let slots: ResourceSlots

    public init(paths: HostPaths, table: SampleTable) {
        meminfo = ProcFile(paths.proc("meminfo"), capacity: 8192)
        vmstat = ProcFile(paths.proc("vmstat"), capacity: 16384)
        slots = ResourceSlots(subsystem: "memory", specs: MemorySubsystem.specs, table: table)
    }

    public func collect(into batch: inout SampleBatch) throws {
        var total = Double.nan, free = Double.nan, available = Double.nan, buffers = Double.nan
        var cached = Double.nan, shared = Double.nan, dirty = Double.nan, swapTotal = Double.nan, swapFree = Double.nan
        try meminfo.read { bytes in
            var text = TextScanner(bytes)
            while var line = text.nextLine(in: bytes) {
                guard let labelRange = line.field(in: bytes), let kib = line.unsigned(in: bytes) else { continue }
                let label = bytes.extracting(labelRange)
                let value = Double(kib) * 1024
                if label.spells("MemTotal:") {
                    total = value
                } else if label.spells("MemFree:") {
                    free = value
                } else if label.spells("MemAvailable:") {
                    available = value
                } else if label.spells("Buffers:") {
                    buffers = value
                } else if label.spells("Cached:") {
                    cached = value
                } else if label.spells("Shmem:") {
                    shared = value
                } else if label.spells("Dirty:") {
                    dirty = value
                } else if label.spells("SwapTotal:") {
                    swapTotal = value
                } else if label.spells("SwapFree:") {
                    swapFree = value
                }
            }
        }
        guard !total.isNaN, !free.isNaN else { throw SubsystemUnavailable("\(meminfo.path) has no MemTotal or MemFree") }
        if available.isNaN {
            // Kernels before 3.14 have no MemAvailable: free plus reclaimable cache is the usual estimate.
            available = free + (buffers.isNaN ? 0 : buffers) + (cached.isNaN ? 0 : cached)
        }
        var paging: [Double] = [.nan, .nan, .nan, .nan]
        if let _ = try? vmstat.read({ bytes in
            var text = TextScanner(bytes)
            while var line = text.nextLine(in: bytes) {
                guard let labelRange = line.field(in: bytes) else { continue }
                let label = bytes.extracting(labelRange)
                if label.spells("pgmajfault") {
                    paging[0] = line.unsigned(in: bytes).map { Double($0) } ?? .nan
                } else if label.spells("pswpin") {
                    paging[1] = line.unsigned(in: bytes).map { Double($0) } ?? .nan
                } else if label.spells("pswpout") {
                    paging[2] = line.unsigned(in: bytes).map { Double($0) } ?? .nan
                } else if label.spells("oom_kill") {
                    paging[3] = line.unsigned(in: bytes).map { Double($0) } ?? .nan
                }
            }
        }) {
        }

        slots.begin()
        let handles = slots.handles(for: "host", capacities: [total, swapTotal.isNaN ? nil : swapTotal]) { [:] }
        let swapUsed = swapTotal - swapFree
        let values: [Double] =
            [
                total, free, available, total - available, total > 0 ? (total - available) / total : .nan,
                buffers, cached, shared, dirty, swapTotal, swapFree, swapUsed,
                swapTotal > 0 ? swapUsed / swapTotal : (swapTotal == 0 ? 0 : .nan)
            ] + paging
        for (handle, value) in zip(handles, values) { batch.record(handle, value) }
        slots.end()
    }

    public func retireAll() { slots.retireAll() }

    /// MemTotal in bytes, read once (the upper bound of per-process and per-cgroup memory).
    static func total(paths: HostPaths) -> Double? {
        readSmallFile(paths.proc("meminfo")).flatMap { text in
            text.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
                .flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Double($0) }.map { $0 * 1024 }
        }
    }
}

/// `load`: the run-queue averages from /proc/loadavg.
public final class LoadSubsystem: Subsystem {
    /// Its name and what it allows, declared once (BuiltInSubsystem.all).
    public static let builtIn = BuiltInSubsystem(name: "load", samplesBetweenSteps: true)
    public var name: String { Self.builtIn.name }
    public let summary = "Load averages and task counts (/proc/loadavg)"

    private static let specs: [StatisticSpec] = [
        .gauge("load1", "tasks", "Load average over 1 minute", resolution: 0.01, updateInterval: 5),
        .gauge("load5", "tasks", "Load average over 5 minutes", resolution: 0.01, updateInterval: 5),
        .gauge("load15", "tasks", "Load average over 15 minutes", resolution: 0.01, updateInterval: 5),
        .gauge("runnable", "tasks", "Tasks runnable now"),
        .gauge("tasks", "tasks", "Tasks (processes and threads) in existence")
    ]

    private let file: ProcFile
    private let slots: ResourceSlots

    public init(paths: HostPaths, table: SampleTable) {
        file = ProcFile(paths.proc("loadavg"), capacity: 256)
        slots = ResourceSlots(subsystem: "load", specs: LoadSubsystem.specs, table: table)
    }

    public func collect(into batch: inout SampleBatch) throws {
        let values: [Double] = try file.read { bytes in
            var line = TextScanner(bytes)
            let path = file.path
            func malformed() -> SubsystemUnavailable { SubsystemUnavailable("\(path) is not in the loadavg format") }
            guard let one = line.decimal(in: bytes), let five = line.decimal(in: bytes), let fifteen = line.decimal(in: bytes),
                let tasksRange = line.field(in: bytes)
            else { throw malformed() }
            let tasks = bytes.extracting(tasksRange)
            guard let slash = tasks.firstIndex(of: 0x2f),
                let runnable = TextScanner.parseUnsigned(tasks.extracting(..<slash)),
                let all = TextScanner.parseUnsigned(tasks.extracting((slash + 1)...))
            else { throw malformed() }
            return [one, five, fifteen, Double(runnable), Double(all)]
        }
        slots.begin()
        let handles = slots.handles(for: "host") { [:] }
        for (handle, value) in zip(handles, values) { batch.record(handle, value) }
        slots.end()
    }

    public func retireAll() { slots.retireAll() }
}
