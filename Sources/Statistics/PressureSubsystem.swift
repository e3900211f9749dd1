#if canImport(Glibc)
    import Glibc
#endif

/// `pressure`: pressure stall information (PSI) for cpu, memory and io from /proc/pressure.
public final class PressureSubsystem: Subsystem {
    /// Its name and what it allows, declared once (BuiltInSubsystem.all).
    public static let builtIn = BuiltInSubsystem(name: "pressure", samplesBetweenSteps: true)
    public var name: String { Self.builtIn.name }
    public let summary = "Pressure stall information: share of time tasks waited for CPU, memory, I/O (/proc/pressure)"

    private static let resources = ["cpu", "memory", "io"]
    private static let specs: [StatisticSpec] = ["some", "full"].flatMap { scope -> [StatisticSpec] in
        let who = scope == "some" ? "at least one task" : "all non-idle tasks"
        return [
            .gauge("\(scope)_avg10_ratio", "ratio", "Share of time \(who) stalled, 10 s average", resolution: 0.0001, bound: .ratio, updateInterval: 2),
            .gauge("\(scope)_avg60_ratio", "ratio", "Share of time \(who) stalled, 60 s average", resolution: 0.0001, bound: .ratio, updateInterval: 2),
            .gauge("\(scope)_avg300_ratio", "ratio", "Share of time \(who) stalled, 300 s average", resolution: 0.0001, bound: .ratio, updateInterval: 2),
            .counter("\(scope)_stall_seconds_total", "seconds", "Time \(who) stalled (its rate is the stalled share)", resolution: 1e-6)
        ]
    }

    private let files: [ProcFile]
    private let slots: ResourceSlots

    public init(paths: HostPaths, table: SampleTable) {
        files = PressureSubsystem.resources.map { ProcFile(paths.proc("pressure/" + $0), capacity: 256) }
        slots = ResourceSlots(subsystem: "pressure", specs: PressureSubsystem.specs, table: table)
    }

    public func collect(into batch: inout SampleBatch) throws {
        slots.begin()
        defer { slots.end() }
        for (resource, file) in zip(PressureSubsystem.resources, files) {
            var values = [Double](repeating: .nan, count: 8)
            do {
                try file.read { bytes in
                    var text = TextScanner(bytes)
                    while var line = text.nextLine(in: bytes) {
                        guard let scopeRange = line.field(in: bytes) else { continue }
                        let scope = bytes.extracting(scopeRange)
                        let base = scope.spells("some") ? 0 : scope.spells("full") ? 4 : -1
                        guard base >= 0 else { continue }
                        while let fieldRange = line.field(in: bytes) {
                            let field = bytes.extracting(fieldRange)
                            guard let equals = field.firstIndex(of: 0x3d) else { continue }
                            let name = field.extracting(..<equals)
                            let number = field.extracting((equals + 1)...)
                            if name.spells("avg10") {
                                values[base] = (TextScanner.parseDecimal(number) ?? .nan) / 100
                            } else if name.spells("avg60") {
                                values[base + 1] = (TextScanner.parseDecimal(number) ?? .nan) / 100
                            } else if name.spells("avg300") {
                                values[base + 2] = (TextScanner.parseDecimal(number) ?? .nan) / 100
                            } else if name.spells("total") {
                                values[base + 3] = TextScanner.parseUnsigned(number).map { Double($0) / 1e6 } ?? .nan
                            }
                        }
                    }
                }
            } catch let error as ReadError where error.errno == ENOENT || error.errno == EOPNOTSUPP {
                throw SubsystemUnavailable("pressure stall information is not available (\(error); the kernel lacks CONFIG_PSI or was booted with psi=0)")
            }
            guard !values[0].isNaN || !values[3].isNaN else {
                throw SubsystemUnavailable("\(file.path) has no 'some' line")
            }
            let handles = slots.handles(for: resource) { [:] }
            for (handle, value) in zip(handles, values) where !value.isNaN { batch.record(handle, value) }
        }
    }

    public func retireAll() { slots.retireAll() }
}
