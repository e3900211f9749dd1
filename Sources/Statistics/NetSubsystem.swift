/// `net`: per interface traffic from /proc/net/dev, with the link speed as the byte rates'
/// upper bound where the driver reports one.
public final class NetSubsystem: Subsystem {
    /// Its name and what it allows, declared once (BuiltInSubsystem.all).
    public static let builtIn = BuiltInSubsystem(name: "net", samplesBetweenSteps: true)
    public var name: String { Self.builtIn.name }
    public let summary = "Bytes, packets, errors and drops per network interface (/proc/net/dev)"

    private static let specs: [StatisticSpec] = [
        StatisticSpec(name: "receive_bytes_total", kind: .counter, unit: "bytes", help: "Bytes received", bound: .capacity(0)),
        .counter("receive_packets_total", "packets", "Packets received"),
        .counter("receive_errors_total", "packets", "Receive errors"),
        .counter("receive_dropped_total", "packets", "Received packets dropped"),
        StatisticSpec(name: "transmit_bytes_total", kind: .counter, unit: "bytes", help: "Bytes sent", bound: .capacity(0)),
        .counter("transmit_packets_total", "packets", "Packets sent"),
        .counter("transmit_errors_total", "packets", "Transmit errors"),
        .counter("transmit_dropped_total", "packets", "Packets dropped on transmit")
    ]

    private let paths: HostPaths
    private let file: ProcFile
    private let slots: ResourceSlots

    public init(paths: HostPaths, table: SampleTable) {
        self.paths = paths
        file = ProcFile(paths.proc("net/dev"), capacity: 8192)
        slots = ResourceSlots(subsystem: "net", specs: NetSubsystem.specs, table: table)
    }

    public func collect(into batch: inout SampleBatch) throws {
        slots.begin()
        defer { slots.end() }
        try file.read { bytes in
            var text = TextScanner(bytes)
            while var line = text.nextLine(in: bytes) {
                // "  eth0: 123 ..." — old kernels glue large numbers to the colon.
                let start = line.position
                guard line.skip(past: 0x3a, in: bytes) else { continue }
                var nameScanner = TextScanner(start..<(line.position - 1))
                guard let name = nameScanner.word(in: bytes) else { continue }
                var fields: [UInt64] = []
                fields.reserveCapacity(16)
                while fields.count < 16, let value = line.unsigned(in: bytes) { fields.append(value) }
                guard fields.count == 16 else { continue }
                let values = [fields[0], fields[1], fields[2], fields[3], fields[8], fields[9], fields[10], fields[11]].map { Double($0) }
                let handles = slots.handles(for: name, capacities: [linkSpeed(name)]) {
                    ["interface": name, "physical": pathExists(paths.sys("class/net/\(name)/device")) ? "true" : "false"]
                }
                for (handle, value) in zip(handles, values) { batch.record(handle, value) }
            }
        }
    }

    /// Bytes per second the link carries, from /sys/class/net/IF/speed (Mbit/s); nil when unknown.
    private func linkSpeed(_ interface: String) -> Double? {
        guard let text = readSmallFile(paths.sys("class/net/\(interface)/speed")),
            let megabits = Int(text.trimmingCharacters(in: " \n")), megabits > 0
        else { return nil }
        return Double(megabits) * 125_000
    }

    public func retireAll() { slots.retireAll() }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
