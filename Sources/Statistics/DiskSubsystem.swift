/// `disk`: per block device I/O from /proc/diskstats; whole disks only (those in /sys/block),
/// without loop and ram devices.
public final class DiskSubsystem: Subsystem {
    /// Its name and what it allows, declared once (BuiltInSubsystem.all).
    public static let builtIn = BuiltInSubsystem(name: "disk", samplesBetweenSteps: true)
    public var name: String { Self.builtIn.name }
    public let summary = "I/O operations, bytes and busy time per disk (/proc/diskstats)"

    /// The kernel keeps the millisecond fields in 32 bits on some versions.
    private static let millisecondsWrap = 4_294_967_296.0
    private static let specs: [StatisticSpec] = [
        .counter("reads_total", "operations", "Reads completed"),
        .counter("writes_total", "operations", "Writes completed"),
        .counter("read_bytes_total", "bytes", "Bytes read", resolution: 512),
        .counter("written_bytes_total", "bytes", "Bytes written", resolution: 512),
        .counter("read_time_seconds_total", "seconds", "Time spent reading", resolution: 0.001, wrapsAt: millisecondsWrap / 1000),
        .counter("write_time_seconds_total", "seconds", "Time spent writing", resolution: 0.001, wrapsAt: millisecondsWrap / 1000),
        .counter(
            "io_time_seconds_total", "seconds", "Time with I/O in flight (its rate is the busy share)", resolution: 0.001, wrapsAt: millisecondsWrap / 1000),
        .gauge("in_progress", "operations", "I/O operations in flight now")
    ]

    private let paths: HostPaths
    private let file: ProcFile
    private let slots: ResourceSlots
    private var isDisk: [String: Bool] = [:]

    public init(paths: HostPaths, table: SampleTable) {
        self.paths = paths
        file = ProcFile(paths.proc("diskstats"), capacity: 8192)
        slots = ResourceSlots(subsystem: "disk", specs: DiskSubsystem.specs, table: table)
    }

    public func collect(into batch: inout SampleBatch) throws {
        slots.begin()
        defer { slots.end() }
        try file.read { bytes in
            var text = TextScanner(bytes)
            while var line = text.nextLine(in: bytes) {
                line.skip(2, in: bytes)
                guard let name = line.word(in: bytes) else { continue }
                var fields: [UInt64] = []
                fields.reserveCapacity(11)
                while fields.count < 11, let value = line.unsigned(in: bytes) { fields.append(value) }
                guard fields.count == 11, accepts(name) else { continue }
                // reads merged sectors ms | writes merged sectors ms | in-flight io_ms weighted_ms
                let values: [Double] = [
                    Double(fields[0]), Double(fields[4]), Double(fields[2]) * 512, Double(fields[6]) * 512,
                    Double(fields[3]) / 1000, Double(fields[7]) / 1000, Double(fields[9]) / 1000, Double(fields[8])
                ]
                let handles = slots.handles(for: name) { ["device": name] }
                for (handle, value) in zip(handles, values) { batch.record(handle, value) }
            }
        }
    }

    private func accepts(_ device: String) -> Bool {
        if let known = isDisk[device] { return known }
        let accepted = !device.hasPrefix("loop") && !device.hasPrefix("ram") && pathExists(paths.sys("block/" + device))
        if isDisk.count > 4096 { isDisk.removeAll() }
        isDisk[device] = accepted
        return accepted
    }

    public func retireAll() { slots.retireAll() }
}
