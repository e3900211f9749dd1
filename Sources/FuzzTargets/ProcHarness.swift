import FoundationEssentials
import Statistics

#if canImport(Glibc)
    import Glibc
#endif

/// The /proc and /sys parsers, fed mutated real files: a tree copied once from the fixtures
/// captured on a Debian 12 host (Tests/StatisticsTests/Fixtures: host1, and cgroup-v2's
/// /sys/fs/cgroup). The first byte chooses a file, the rest replaces it; the subsystem that
/// reads it collects the real file, the input twice, then the real file again, as the sampler
/// would across readings (deltas, wraps, counters going back).
public func fuzzProcFiles(_ data: [UInt8]) {
    guard let tree = ProcTree.shared else { return }
    var cursor = InputCursor(data)
    let (file, make) = ProcTree.files[cursor.choice(ProcTree.files.count)]
    let table = SampleTable()
    let subsystem = make(tree.paths, table)
    var time = 100.0
    func collect() {
        var batch = SampleBatch()
        try? subsystem.collect(into: &batch)
        table.apply(batch, time: 1_800_000_000 + time, monotonicTime: time)
        time += 5
    }
    collect()
    tree.write(file, cursor.rest)
    collect()
    collect()
    tree.restore(file)
    collect()
    subsystem.retireAll()
}

/// The fuzzing process's copy of the fixture tree, and the original of each file it mutates.
final class ProcTree: @unchecked Sendable {
    typealias Make = @Sendable (HostPaths, SampleTable) -> any Subsystem

    static let files: [(String, Make)] = {
        let cpu: Make = { CPUSubsystem(paths: $0, table: $1) }
        let memory: Make = { MemorySubsystem(paths: $0, table: $1) }
        let pressure: Make = { PressureSubsystem(paths: $0, table: $1) }
        let process: Make = { paths, table in
            let subsystem = ProcessSubsystem(paths: paths, table: table)
            nonisolated(unsafe) var clock = 100.0
            subsystem.monotonicClock = {
                clock += 5
                return clock
            }
            return subsystem
        }
        let cgroup: Make = { CgroupSubsystem(paths: $0, table: $1) }
        let nginx = "sys/fs/cgroup/system.slice/nginx.service/"
        return [
            ("proc/stat", cpu), ("proc/meminfo", memory), ("proc/vmstat", memory),
            ("proc/loadavg", { LoadSubsystem(paths: $0, table: $1) }), ("proc/diskstats", { DiskSubsystem(paths: $0, table: $1) }),
            ("proc/net/dev", { NetSubsystem(paths: $0, table: $1) }), ("proc/pressure/cpu", pressure), ("proc/pressure/io", pressure),
            ("proc/pressure/memory", pressure), ("proc/self/mounts", { FileSystemSubsystem(paths: $0, table: $1) }),
            ("proc/4242/stat", process), ("proc/4242/status", process), ("proc/4242/io", process), ("proc/4242/cmdline", process),
            ("proc/4242/cgroup", process), ("proc/2/stat", process), ("sys/fs/cgroup/cpu.stat", cgroup), (nginx + "cpu.stat", cgroup),
            (nginx + "io.stat", cgroup), (nginx + "memory.current", cgroup), (nginx + "memory.max", cgroup), (nginx + "cpu.pressure", cgroup),
            (nginx + "pids.current", cgroup), ("proc/4242/cgroup", cgroup)
        ]
    }()

    static let shared: ProcTree? = ProcTree()

    let root: String
    var paths: HostPaths { HostPaths(procRoot: root + "/proc", sysRoot: root + "/sys") }
    private var originals: [String: [UInt8]] = [:]

    private init?() {
        root = Scratch.directory + "/host"
        let fixtures = FuzzTargets.repositoryRoot + "/Tests/StatisticsTests/Fixtures"
        let manager = FileManager.default
        do {
            try manager.copyItem(atPath: fixtures + "/host1", toPath: root)
            try manager.copyItem(atPath: fixtures + "/cgroup-v2/sys/fs", toPath: root + "/sys/fs")
        } catch {
            return nil
        }
        for (file, _) in ProcTree.files {
            guard let bytes = manager.contents(atPath: root + "/" + file) else { return nil }
            originals[file] = Array(bytes)
        }
    }

    func write(_ file: String, _ bytes: [UInt8]) {
        let descriptor = open(root + "/" + file, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { return }
            written += count
        }
    }

    func restore(_ file: String) { write(file, originals[file] ?? []) }
}
