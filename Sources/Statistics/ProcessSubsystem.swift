#if canImport(Glibc)
    import Glibc
    import ResmonSystem
#endif

/// `process`: per PID, from /proc/PID/stat, io and fd; labels from comm, cmdline, status and
/// cgroup, read once when the process is first seen. Kernel threads are left out.
///
/// A PID is a resource only while the same process holds it: a PID reused by a new process
/// (another start time) is retired and registered afresh.
public final class ProcessSubsystem: Subsystem {
    /// Its name and what it allows, declared once (BuiltInSubsystem.all).
    public static let builtIn = BuiltInSubsystem(name: "process", samplesBetweenSteps: false)
    public var name: String { Self.builtIn.name }
    public let summary = "CPU, memory, threads, descriptors and I/O per process (/proc/PID)"

    /// The numeric `state` statistic: the letter of /proc/PID/stat as a number.
    public static let stateCodes: [UInt8: Double] = [
        UInt8(ascii: "R"): 1, UInt8(ascii: "S"): 2, UInt8(ascii: "D"): 3, UInt8(ascii: "Z"): 4,
        UInt8(ascii: "T"): 5, UInt8(ascii: "t"): 6, UInt8(ascii: "I"): 7, UInt8(ascii: "X"): 8
    ]

    private static let specs: [StatisticSpec] = [
        .gauge("cpu_ratio", "ratio", "Share of the whole machine's CPU time the process used", resolution: 0.01, bound: .ratio),
        .counter("cpu_seconds_total", "seconds", "CPU time used, user and system (its rate is cores used)", resolution: 0.01),
        .gauge("rss_bytes", "bytes", "Resident set size", bound: .capacity(0)),
        .gauge("vsize_bytes", "bytes", "Virtual memory size"),
        .gauge("threads", "threads", "Threads"),
        .gauge("open_fds", "descriptors", "Open file descriptors"),
        .counter("read_bytes_total", "bytes", "Bytes read from storage"),
        .counter("written_bytes_total", "bytes", "Bytes written to storage"),
        .counter("major_faults_total", "faults", "Page faults that read from disk"),
        .gauge("state", "state", "1 running, 2 sleeping, 3 disk sleep, 4 zombie, 5 stopped, 6 traced, 7 idle, 8 dead")
    ]

    /// The statistics each process has (`vsize_bytes`, …).
    public static let statisticNames = Set(specs.map(\.name))

    private final class Tracked {
        let stat: ProcFile
        let io: ProcFile
        /// `/proc/PID/`, built once per process rather than every sample.
        var base = ""
        let startTime: UInt64
        var cpuTicks: UInt64 = 0
        var monotonic: Double = .nan
        var hasIO = true

        init(stat: ProcFile, io: ProcFile, startTime: UInt64) {
            self.stat = stat
            self.io = io
            self.startTime = startTime
        }
    }

    private let paths: HostPaths
    private let slots: ResourceSlots
    private var tracked: [Int32: Tracked] = [:]
    private var userNames: [UInt32: String] = [:]
    /// Kernel threads, skipped without reading; re-checked every `kernelThreadRecheck` passes
    /// in case a PID was reused by a user process between two passes.
    private var kernelThreads: Set<Int32> = []
    private var passes = 0
    private static let kernelThreadRecheck = 10
    private let tickSeconds = 1 / Double(max(1, sysconf(Int32(_SC_CLK_TCK))))
    private let cpuCount = Double(max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    private let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
    private let memoryTotal: Double?
    /// Whether procRoot is the real procfs (a fixture tree's directory sizes are not counts).
    private let isProcfs: Bool
    /// Past this many processes, per-process files are opened for each read instead of held.
    private let heldFileLimit: Int
    /// Clock used for CPU shares; a parameter so tests can step it.
    public var monotonicClock: () -> Double = Clock.monotonic

    public init(paths: HostPaths, table: SampleTable) {
        self.paths = paths
        slots = ResourceSlots(subsystem: "process", specs: ProcessSubsystem.specs, table: table)
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        heldFileLimit = max(0, Int(min(limit.rlim_cur, 1 << 20)) / 4)
        // procfs directories have size 0; a fixture tree on a disk file system does not.
        var root = stat()
        isProcfs = stat(paths.procRoot, &root) == 0 && root.st_size == 0
        memoryTotal = MemorySubsystem.total(paths: paths)
    }

    public func collect(into batch: inout SampleBatch) throws {
        let directory: DirectoryListing
        do {
            directory = try DirectoryListing(paths.procRoot)
        } catch {
            throw SubsystemUnavailable("cannot list \(paths.procRoot): \(error.description)")
        }
        slots.begin()
        passes += 1
        if passes % ProcessSubsystem.kernelThreadRecheck == 0 { kernelThreads.removeAll() }
        var alive: Set<Int32> = []
        var listed: Set<Int32> = []
        directory.forEachEntry { name, _ in
            guard let pid = ProcessSubsystem.pid(name) else { return }
            listed.insert(pid)
            if kernelThreads.contains(pid) { return }
            if collect(pid, into: &batch) { alive.insert(pid) }
        }
        tracked = tracked.filter { alive.contains($0.key) }
        kernelThreads.formIntersection(listed)
        slots.end()
    }

    /// Reads one process; false when it is gone, a kernel thread, or unreadable (skipped quietly).
    private func collect(_ pid: Int32, into batch: inout SampleBatch) -> Bool {
        let process: Tracked
        if let known = tracked[pid] {
            process = known
        } else {
            let base = paths.procRoot + "/\(pid)/"
            let keepOpen = tracked.count < heldFileLimit
            process = Tracked(
                stat: ProcFile(base + "stat", capacity: 1024, keepOpen: keepOpen),
                io: ProcFile(base + "io", capacity: 512, keepOpen: keepOpen), startTime: 0)
            process.base = base
        }
        let base = process.base
        guard let stat = try? process.stat.read({ ProcessSubsystem.parseStat($0) }) ?? nil else {
            return false
        }
        if stat.isKernelThread {
            kernelThreads.insert(pid)
            return false
        }
        let now = monotonicClock()
        let resource = String(pid)
        var current = process
        if tracked[pid] == nil || process.startTime != stat.startTime {
            if tracked[pid] != nil { slots.retire(resource) }
            current = Tracked(stat: process.stat, io: process.io, startTime: stat.startTime)
            current.base = base
            tracked[pid] = current
        }
        let handles = slots.handles(for: resource, capacities: [memoryTotal]) {
            labels(pid: pid, base: base, comm: stat.comm, startTime: stat.startTime)
        }
        let cpuTicks = stat.userTicks &+ stat.systemTicks
        var ratio = Double.nan
        if !current.monotonic.isNaN, now > current.monotonic, cpuTicks >= current.cpuTicks {
            ratio = min(1, Double(cpuTicks - current.cpuTicks) * tickSeconds / (now - current.monotonic) / cpuCount)
        }
        current.cpuTicks = cpuTicks
        current.monotonic = now
        var readBytes = Double.nan, writtenBytes = Double.nan
        if current.hasIO {
            do {
                try current.io.read { bytes in
                    var text = TextScanner(bytes)
                    while var line = text.nextLine(in: bytes) {
                        guard let labelRange = line.field(in: bytes) else { continue }
                        let label = bytes.extracting(labelRange)
                        if label.spells("read_bytes:") {
                            readBytes = line.unsigned(in: bytes).map { Double($0) } ?? .nan
                        } else if label.spells("write_bytes:") {
                            writtenBytes = line.unsigned(in: bytes).map { Double($0) } ?? .nan
                        }
                    }
                }
            } catch let error as ReadError where error.errno == EACCES || error.errno == EPERM {
                current.hasIO = false  // another user's process, when resmond is not root
            } catch {}
        }
        let values: [Double] = [
            ratio, Double(cpuTicks) * tickSeconds, Double(stat.rssPages) * pageSize, Double(stat.vsize),
            Double(stat.threads), countEntries(base + "fd"), readBytes, writtenBytes, Double(stat.majorFaults),
            ProcessSubsystem.stateCodes[stat.state] ?? 0
        ]
        for (handle, value) in zip(handles, values) { batch.record(handle, value) }
        return true
    }

    struct Stat {
        var comm: String
        var state: UInt8
        var isKernelThread: Bool
        var majorFaults: UInt64
        var userTicks: UInt64
        var systemTicks: UInt64
        var threads: UInt64
        var startTime: UInt64
        var vsize: UInt64
        var rssPages: UInt64
    }

    /// The process id a /proc entry's name spells; nil for the other entries.
    private static func pid(_ name: Span<UInt8>) -> Int32? {
        var value: Int32 = 0
        for index in name.indices {
            let byte = name[index]
            guard byte >= 0x30 && byte <= 0x39, value < Int32.max / 10 - 10 else { return nil }
            value = value * 10 + Int32(byte - 0x30)
        }
        return value > 0 ? value : nil
    }

    /// Parses /proc/PID/stat. The command name is between the first `(` and the *last* `)`,
    /// so names with spaces or parentheses parse.
    static func parseStat(_ bytes: Span<UInt8>) -> Stat? {
        guard let open = bytes.firstIndex(of: 0x28), let close = bytes.lastIndex(of: 0x29), close > open else { return nil }
        let comm = String(decodingUTF8: bytes.extracting((open + 1)..<close))
        var fields = TextScanner((close + 1)..<bytes.count)
        guard let stateField = fields.field(in: bytes) else { return nil }  // a field is never empty
        let state = bytes[stateField.lowerBound]
        var numbers = [UInt64](repeating: 0, count: 21)
        for index in 0..<21 {
            guard let field = fields.field(in: bytes) else { return nil }
            // Some fields (tty, priority, nice) may be negative; only the unsigned ones are used.
            numbers[index] = TextScanner.parseUnsigned(bytes.extracting(field)) ?? 0
        }
        // After state: ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
        // cutime cstime priority nice num_threads itrealvalue starttime vsize rss
        let flags = numbers[5]
        return Stat(
            comm: comm, state: state, isKernelThread: flags & 0x0020_0000 != 0, majorFaults: numbers[8],
            userTicks: numbers[10], systemTicks: numbers[11], threads: numbers[16], startTime: numbers[18],
            vsize: numbers[19], rssPages: numbers[20])
    }

    /// Open descriptors of a process. Linux 6.2 and later report the count as the size of
    /// /proc/PID/fd, which costs one stat; older kernels report 0, and the entries are counted.
    private func countEntries(_ path: String) -> Double {
        var info = stat()
        if isProcfs && stat(path, &info) == 0 && info.st_size > 0 { return Double(info.st_size) }
        guard let directory = try? DirectoryListing(path) else { return .nan }
        var count = 0
        directory.forEachEntry { name, _ in
            if name.isEmpty || name[0] != 0x2e { count += 1 }
        }
        return Double(count)
    }

    private func labels(pid: Int32, base: String, comm: String, startTime: UInt64) -> [String: String] {
        var labels = ["name": comm, "start_time": String(startTime)]
        if let raw = try? ProcFile(base + "cmdline", capacity: 1024, keepOpen: false).readBytes().prefix(512) {
            let text = String(decoding: raw.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            labels["cmdline"] = text.trimmingCharacters(in: " ")
        }
        if let status = readSmallFile(base + "status"),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") }),
            let uid = line.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().first.flatMap({ UInt32($0) })
        {
            labels["user"] = userName(uid)
        }
        if let cgroups = readSmallFile(base + "cgroup") {
            labels["unit"] = ProcessSubsystem.systemdUnit(cgroupFile: cgroups) ?? ""
        }
        return labels
    }

    private func userName(_ uid: UInt32) -> String {
        if let known = userNames[uid] { return known }
        let name = ResmonSystem.userName(uid: uid) ?? String(uid)
        userNames[uid] = name
        return name
    }

    /// The systemd unit of a process from /proc/PID/cgroup: the innermost `.service` or
    /// `.scope` (else `.slice`) in the unified or the name=systemd hierarchy.
    static func systemdUnit(cgroupFile: String) -> String? {
        var path: Substring?
        for line in cgroupFile.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            if parts[1] == "name=systemd" || (parts[1].isEmpty && path == nil) { path = parts[2] }
        }
        guard let path else { return nil }
        let components = path.split(separator: "/")
        if let unit = components.last(where: { $0.hasSuffix(".service") || $0.hasSuffix(".scope") }) { return String(unit) }
        return components.last(where: { $0.hasSuffix(".slice") }).map(String.init)
    }

    public func retireAll() {
        slots.retireAll()
        tracked.removeAll()
    }
}
