#if canImport(Glibc)
    import Glibc
    import ResmonSystem
#endif

/// `self`: resmond itself — CPU, memory (RSS, RssAnon, PSS), descriptors, threads and what a
/// sampling cycle costs — so its overhead is monitored like anything else.
public final class SelfSubsystem: Subsystem {
    /// Its name and what it allows, declared once (BuiltInSubsystem.all).
    public static let builtIn = BuiltInSubsystem(name: "self", samplesBetweenSteps: true)
    public var name: String { Self.builtIn.name }
    public let summary = "resmond's own CPU, memory, descriptors and sampling cost (/proc/self)"

    private static let specs: [StatisticSpec] = [
        .counter("cpu_seconds_total", "seconds", "CPU time resmond used (its rate is cores used)", resolution: 1e-9),
        .gauge("rss_bytes", "bytes", "Resident set size", resolution: 1024),
        .gauge("rss_anon_bytes", "bytes", "Anonymous resident memory (heap, stacks): resmond's own, not shared", resolution: 1024),
        .gauge("pss_bytes", "bytes", "Proportional set size: shared pages divided among their users", resolution: 1024),
        .gauge("open_fds", "descriptors", "Open file descriptors"),
        .gauge("threads", "threads", "Threads"),
        .gauge("sample_cpu_seconds", "seconds", "CPU time of the last sampling cycle", resolution: 1e-9)
    ]

    private let status: ProcFile
    private let rollup: ProcFile
    private let slots: ResourceSlots
    private let sampleCost: () -> Double

    /// - Parameter sampleCost: the CPU seconds of the last sampling cycle.
    public init(table: SampleTable, sampleCost: @escaping () -> Double) {
        // Always the real /proc/self: this is resmond, not the host being watched.
        status = ProcFile("/proc/self/status", capacity: 2048)
        rollup = ProcFile("/proc/self/smaps_rollup", capacity: 1024)
        slots = ResourceSlots(subsystem: "self", specs: SelfSubsystem.specs, table: table)
        self.sampleCost = sampleCost
    }

    public func collect(into batch: inout SampleBatch) throws {
        var rss = Double.nan, anonymous = Double.nan, threads = Double.nan, pss = Double.nan
        try status.read { bytes in
            var text = TextScanner(bytes)
            while var line = text.nextLine(in: bytes) {
                guard let labelRange = line.field(in: bytes) else { continue }
                let label = bytes.extracting(labelRange)
                if label.spells("VmRSS:") {
                    rss = line.unsigned(in: bytes).map { Double($0) * 1024 } ?? .nan
                } else if label.spells("RssAnon:") {
                    anonymous = line.unsigned(in: bytes).map { Double($0) * 1024 } ?? .nan
                } else if label.spells("Threads:") {
                    threads = line.unsigned(in: bytes).map { Double($0) } ?? .nan
                }
            }
        }
        _ = try? rollup.read { bytes in
            var text = TextScanner(bytes)
            while var line = text.nextLine(in: bytes) {
                if let label = line.field(in: bytes), bytes.extracting(label).spells("Pss:") {
                    pss = line.unsigned(in: bytes).map { Double($0) * 1024 } ?? .nan
                }
            }
        }
        var info = stat()
        let descriptors =
            stat("/proc/self/fd", &info) == 0 && info.st_size > 0
            ? Double(info.st_size) : Double(max(0, directoryEntries("/proc/self/fd").count - 1))  // minus the one listing it
        slots.begin()
        let handles = slots.handles(for: "resmond") { [:] }
        let values = [Clock.processCPU(), rss, anonymous, pss, descriptors, threads, sampleCost()]
        for (handle, value) in zip(handles, values) { batch.record(handle, value) }
        slots.end()
    }

    public func retireAll() { slots.retireAll() }
}
