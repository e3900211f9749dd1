#if canImport(Glibc)
    import Glibc
    import ResmonSystem
#endif

/// `cgroup`: CPU, memory and its limit, I/O, pids and (v2) pressure per control group — the
/// services, containers and VMs of a Linux host. Reads cgroup v2 where it is mounted alone at
/// /sys/fs/cgroup; otherwise v1's cpuacct, memory, blkio and pids hierarchies.
public final class CgroupSubsystem: Subsystem {
    /// Its name and what it allows, declared once (BuiltInSubsystem.all).
    public static let builtIn = BuiltInSubsystem(name: "cgroup", samplesBetweenSteps: false)
    public var name: String { Self.builtIn.name }
    public let summary = "CPU, memory and limit, I/O, pids and pressure per control group (/sys/fs/cgroup)"

    private static let specs: [StatisticSpec] = [
        .gauge("cpu_ratio", "ratio", "Share of the whole machine's CPU time the group used", resolution: 1e-6, bound: .ratio),
        .counter("cpu_seconds_total", "seconds", "CPU time used (its rate is cores used)", resolution: 1e-6),
        .gauge("memory_bytes", "bytes", "Memory charged to the group; bounded by its limit", bound: .capacity(0)),
        .gauge("memory_limit_bytes", "bytes", "The group's memory limit (the host's memory when it has none)", bound: .capacity(1)),
        .counter("read_bytes_total", "bytes", "Bytes read from block devices"),
        .counter("written_bytes_total", "bytes", "Bytes written to block devices"),
        .gauge("pids", "tasks", "Tasks in the group"),
        .gauge("cpu_pressure_ratio", "ratio", "Share of time some task waited for CPU, 10 s average (v2)", resolution: 0.0001, bound: .ratio),
        .gauge("memory_pressure_ratio", "ratio", "Share of time some task waited for memory, 10 s average (v2)", resolution: 0.0001, bound: .ratio),
        .gauge("io_pressure_ratio", "ratio", "Share of time some task waited for I/O, 10 s average (v2)", resolution: 0.0001, bound: .ratio)
    ]

    /// Only for a group whose processes have a network namespace of their own (a container's):
    /// a group in the host's namespace has the host's traffic, and no statistics that would
    /// read unknown for ever.
    private static let networkSpecs: [StatisticSpec] = [
        .counter("network_receive_bytes_total", "bytes", "Bytes its own network namespace received, all interfaces but lo (a container's)"),
        .counter("network_transmit_bytes_total", "bytes", "Bytes its own network namespace sent, all interfaces but lo (a container's)")
    ]

    /// The most groups walked in one pass; a host with more is reported, not followed.
    static let groupLimit = 4096

    enum Layout: Equatable {
        case unified(root: String)
        case legacy(cpu: String?, memory: String?, blkio: String?, pids: String?)
    }

    private final class Group {
        var files: [String: ProcFile] = [:]
        var cpuSeconds = Double.nan
        var monotonic = Double.nan
        /// A member process in a network namespace of the group's own, whose net/dev is the group's.
        var networkMember: Int32?
        /// When a group was last found in the host's own namespace (monotonic): looked at again a minute later.
        var hostNetworkSeen = -Double.infinity
    }

    private let paths: HostPaths
    /// v1 has no per-group pressure: its groups get the statistics before the pressure ones.
    private let legacySlots: ResourceSlots
    private let unifiedSlots: ResourceSlots
    private var slots: ResourceSlots
    private let networkSlots: ResourceSlots
    private var groups: [String: Group] = [:]
    private let cpuCount = Double(max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    private let memoryTotal: Double
    public var monotonicClock: () -> Double = Clock.monotonic

    public init(paths: HostPaths, table: SampleTable) {
        self.paths = paths
        unifiedSlots = ResourceSlots(subsystem: "cgroup", specs: CgroupSubsystem.specs, table: table)
        legacySlots = ResourceSlots(subsystem: "cgroup", specs: Array(CgroupSubsystem.specs.prefix(7)), table: table)
        networkSlots = ResourceSlots(subsystem: "cgroup", specs: CgroupSubsystem.networkSpecs, table: table)
        slots = unifiedSlots
        memoryTotal = MemorySubsystem.total(paths: paths) ?? .nan
    }

    /// Which cgroup file systems this host has.
    func layout() throws -> Layout {
        let root = paths.sys("fs/cgroup")
        if pathExists(root + "/cgroup.controllers") { return .unified(root: root) }
        func hierarchy(_ names: [String]) -> String? {
            names.map { root + "/" + $0 }.first { pathExists($0 + "/cgroup.procs") }
        }
        let legacy = Layout.legacy(
            cpu: hierarchy(["cpuacct", "cpu,cpuacct", "cpuacct,cpu"]), memory: hierarchy(["memory"]),
            blkio: hierarchy(["blkio"]), pids: hierarchy(["pids"]))
        if case .legacy(nil, nil, _, _) = legacy {
            throw SubsystemUnavailable("no cgroup file system under \(root): neither v2 (cgroup.controllers) nor v1 cpuacct or memory")
        }
        return legacy
    }

    public func collect(into batch: inout SampleBatch) throws {
        let layout = try layout()
        let now = monotonicClock()
        let chosen: ResourceSlots
        if case .unified = layout { chosen = unifiedSlots } else { chosen = legacySlots }
        if chosen !== slots {
            slots.retireAll()
            slots = chosen
        }
        slots.begin()
        networkSlots.begin()
        defer {
            slots.end()
            networkSlots.end()
        }
        var seen: Set<String> = []
        switch layout {
        case .unified(let root):
            for group in walk(root) {
                seen.insert(group)
                record(group, values: unified(root, group), version: "2", now: now, into: &batch)
            }
        case .legacy(let cpu, let memory, let blkio, let pids):
            var all = Set<String>()
            for hierarchy in [cpu, memory].compactMap({ $0 }) { all.formUnion(walk(hierarchy)) }
            for group in all.sorted() {
                seen.insert(group)
                record(
                    group, values: legacy(group, cpu: cpu, memory: memory, blkio: blkio, pids: pids),
                    version: "1", now: now, into: &batch)
            }
        }
        groups = groups.filter { seen.contains($0.key) }
    }

    /// Every group below `root`, as paths relative to it ("/" for the root).
    private func walk(_ root: String) -> [String] {
        var found: [String] = ["/"]
        var pending: [String] = [""]
        while let relative = pending.popLast(), found.count < CgroupSubsystem.groupLimit {
            guard let directory = try? DirectoryListing(root + relative) else { continue }
            directory.forEachEntry { bytes, isDirectory in
                guard isDirectory else { return }
                let name = String(decodingUTF8: bytes)
                guard name != "." && name != ".." else { return }
                found.append(relative + "/" + name)
                pending.append(relative + "/" + name)
            }
        }
        return found
    }

    private func group(_ path: String) -> Group {
        if let known = groups[path] { return known }
        let created = Group()
        groups[path] = created
        return created
    }

    /// Reads a whole small file of a group, kept open while the group lives.
    private func read<Result>(_ group: Group, _ path: String, _ parse: (Span<UInt8>) -> Result?) -> Result? {
        let file: ProcFile
        if let known = group.files[path] {
            file = known
        } else {
            file = ProcFile(path, capacity: 512, keepOpen: groups.count < 512)
            group.files[path] = file
        }
        return (try? file.read(parse)) ?? nil
    }

    private static func number(_ bytes: Span<UInt8>) -> Double? {
        var scanner = TextScanner(bytes)
        return scanner.unsigned(in: bytes).map { Double($0) }
    }

    /// Sums `name=value` fields over the lines of a v2 keyed file (io.stat).
    private static func sum(_ bytes: Span<UInt8>, _ key: StaticString) -> Double? {
        var total = 0.0
        var text = TextScanner(bytes)
        while var line = text.nextLine(in: bytes) {
            while let fieldRange = line.field(in: bytes) {
                let field = bytes.extracting(fieldRange)
                guard let equals = field.firstIndex(of: 0x3d),
                    field.extracting(..<equals).spells(key),
                    let value = TextScanner.parseUnsigned(field.extracting((equals + 1)...))
                else { continue }
                total += Double(value)
            }
        }
        return total
    }

    /// A value following a key on a line of a flat keyed file (`usage_usec 123`, `some avg10=1.5 …`).
    private static func field(_ bytes: Span<UInt8>, line key: StaticString, _ name: StaticString? = nil) -> Double? {
        var text = TextScanner(bytes)
        while var line = text.nextLine(in: bytes) {
            guard let label = line.field(in: bytes), bytes.extracting(label).spells(key) else { continue }
            guard let name else { return line.unsigned(in: bytes).map { Double($0) } }
            while let fieldRange = line.field(in: bytes) {
                let field = bytes.extracting(fieldRange)
                guard let equals = field.firstIndex(of: 0x3d), field.extracting(..<equals).spells(name) else { continue }
                return TextScanner.parseDecimal(field.extracting((equals + 1)...))
            }
        }
        return nil
    }

    struct Values {
        var cpuSeconds = Double.nan, memory = Double.nan, limit = Double.nan, read = Double.nan, written = Double.nan
        var pids = Double.nan, cpuPressure = Double.nan, memoryPressure = Double.nan, ioPressure = Double.nan
        var received = Double.nan, transmitted = Double.nan
    }

    private func unified(_ root: String, _ relative: String) -> Values {
        let directory = root + (relative == "/" ? "" : relative) + "/"
        let state = group(relative)
        var values = Values()
        values.cpuSeconds = read(state, directory + "cpu.stat") { CgroupSubsystem.field($0, line: "usage_usec") }.map { $0 / 1e6 } ?? .nan
        values.memory = read(state, directory + "memory.current", CgroupSubsystem.number) ?? .nan
        values.limit =
            read(state, directory + "memory.max") { bytes in
                bytes.starts(with: "max") ? Double.infinity : CgroupSubsystem.number(bytes)
            } ?? .nan
        values.read = read(state, directory + "io.stat") { CgroupSubsystem.sum($0, "rbytes") } ?? .nan
        values.written = read(state, directory + "io.stat") { CgroupSubsystem.sum($0, "wbytes") } ?? .nan
        values.pids = read(state, directory + "pids.current", CgroupSubsystem.number) ?? .nan
        values.cpuPressure = read(state, directory + "cpu.pressure") { CgroupSubsystem.field($0, line: "some", "avg10") }.map { $0 / 100 } ?? .nan
        values.memoryPressure = read(state, directory + "memory.pressure") { CgroupSubsystem.field($0, line: "some", "avg10") }.map { $0 / 100 } ?? .nan
        values.ioPressure = read(state, directory + "io.pressure") { CgroupSubsystem.field($0, line: "some", "avg10") }.map { $0 / 100 } ?? .nan
        (values.received, values.transmitted) = network(state, members: directory + "cgroup.procs")
        if relative == "/" && values.memory.isNaN {
            // The root group has no memory.current: the host's use is the root's.
            values.memory = readSmallFile(paths.proc("meminfo")).flatMap(CgroupSubsystem.hostUsed) ?? .nan
        }
        return values
    }

    private func legacy(_ relative: String, cpu: String?, memory: String?, blkio: String?, pids: String?) -> Values {
        let state = group(relative)
        func file(_ hierarchy: String?, _ name: String) -> String? {
            hierarchy.map { $0 + (relative == "/" ? "" : relative) + "/" + name }
        }
        var values = Values()
        if let path = file(cpu, "cpuacct.usage") { values.cpuSeconds = read(state, path, CgroupSubsystem.number).map { $0 / 1e9 } ?? .nan }
        if let path = file(memory, "memory.usage_in_bytes") { values.memory = read(state, path, CgroupSubsystem.number) ?? .nan }
        if let path = file(memory, "memory.limit_in_bytes") {
            // v1 spells "no limit" as a page-rounded 2^63 - 1.
            values.limit = read(state, path, CgroupSubsystem.number).map { $0 >= 4.6e18 ? .infinity : $0 } ?? .nan
        }
        if let path = file(blkio, "blkio.throttle.io_service_bytes") {
            let totals = read(state, path) { bytes -> (Double, Double)? in
                var read = 0.0, written = 0.0
                var text = TextScanner(bytes)
                while var line = text.nextLine(in: bytes) {
                    _ = line.field(in: bytes)
                    guard let operation = line.field(in: bytes), let value = line.unsigned(in: bytes) else { continue }
                    if bytes.extracting(operation).spells("Read") {
                        read += Double(value)
                    } else if bytes.extracting(operation).spells("Write") {
                        written += Double(value)
                    }
                }
                return (read, written)
            }
            values.read = totals?.0 ?? .nan
            values.written = totals?.1 ?? .nan
        }
        if let path = file(pids, "pids.current") { values.pids = read(state, path, CgroupSubsystem.number) ?? .nan }
        if let path = file(memory ?? cpu, "cgroup.procs") { (values.received, values.transmitted) = network(state, members: path) }
        return values
    }

    /// A group's network traffic when its processes have a network namespace of their own (a
    /// container's): what its first member's /proc/PID/net/dev counts, all interfaces but lo.
    /// Unknown (NaN) for a group in the host's namespace, whose traffic is the host's.
    private func network(_ state: Group, members path: String) -> (Double, Double) {
        if let member = state.networkMember {
            if let totals = readSmallFile(paths.proc("\(member)/net/dev")).flatMap(CgroupSubsystem.networkTotals) { return totals }
            state.networkMember = nil  // it exited: find another member
        }
        let now = monotonicClock()
        guard now - state.hostNetworkSeen >= 60 else { return (.nan, .nan) }
        // Looked at again in a minute, whatever this finds: a group whose member cannot be read
        // must not cost a read of cgroup.procs at every sample.
        state.hostNetworkSeen = now
        guard let member = readSmallFile(path)?.split(separator: "\n").first.flatMap({ Int32($0) }),
            let own = CgroupSubsystem.namespace(paths.proc("self/ns/net")),
            let theirs = CgroupSubsystem.namespace(paths.proc("\(member)/ns/net")), own != theirs
        else { return (.nan, .nan) }
        state.networkMember = member
        return readSmallFile(paths.proc("\(member)/net/dev")).flatMap(CgroupSubsystem.networkTotals) ?? (.nan, .nan)
    }

    /// Bytes received and sent over every interface but lo, from a /proc/PID/net/dev.
    static func networkTotals(_ text: String) -> (Double, Double)? {
        var received = 0.0, transmitted = 0.0, interfaces = 0
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingPrefix(while: { $0 == " " })
            let fields = line[line.index(after: colon)...].split(separator: " ").compactMap { Double($0) }
            guard fields.count >= 16, name != "lo" else { continue }
            received += fields[0]
            transmitted += fields[8]
            interfaces += 1
        }
        return interfaces > 0 ? (received, transmitted) : nil
    }

    /// A namespace link's target (`net:[4026531833]`), nil when it cannot be read.
    static func namespace(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 64)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func hostUsed(_ meminfo: String) -> Double? {
        var total: Double?, available: Double?
        for line in meminfo.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 2, let value = Double(fields[1]) else { continue }
            if fields[0] == "MemTotal:" { total = value * 1024 } else if fields[0] == "MemAvailable:" { available = value * 1024 }
        }
        guard let total, let available else { return nil }
        return total - available
    }

    private func record(_ relative: String, values: Values, version: String, now: Double, into batch: inout SampleBatch) {
        let state = group(relative)
        let limit = values.limit.isFinite ? values.limit : memoryTotal
        func labels() -> [String: String] {
            var labels = ["version": version]
            if let last = relative.split(separator: "/").last,
                last.hasSuffix(".service") || last.hasSuffix(".scope") || last.hasSuffix(".slice")
            {
                labels["unit"] = String(last)
            }
            return labels
        }
        let handles = slots.handles(for: relative, capacities: [limit.isNaN ? nil : limit, memoryTotal.isNaN ? nil : memoryTotal], labels: labels)
        var ratio = Double.nan
        if !state.monotonic.isNaN, now > state.monotonic, values.cpuSeconds >= state.cpuSeconds {
            ratio = min(1, (values.cpuSeconds - state.cpuSeconds) / (now - state.monotonic) / cpuCount)
        }
        state.cpuSeconds = values.cpuSeconds
        state.monotonic = now
        let all = [
            ratio, values.cpuSeconds, values.memory, limit, values.read, values.written, values.pids,
            values.cpuPressure, values.memoryPressure, values.ioPressure
        ]
        for (handle, value) in zip(handles, all) { batch.record(handle, value) }
        if values.received.isFinite {
            for (handle, value) in zip(networkSlots.handles(for: relative, labels: labels), [values.received, values.transmitted]) {
                batch.record(handle, value)
            }
        }
    }

    public func retireAll() {
        unifiedSlots.retireAll()
        legacySlots.retireAll()
        networkSlots.retireAll()
        groups.removeAll()
    }
}
