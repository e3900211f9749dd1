import ResmonSystem
import Statistics

/// What collecting costs on this machine's /proc: a host sample (every built-in subsystem once),
/// then a full sample (host, every process and every cgroup).
enum Sampling {
    static func run(into results: inout Results) {
        hostSample(into: &results)
        fullSample(into: &results)
    }

    /// Every built-in subsystem collected once.
    private static func hostSample(into results: inout Results) {
        let table = SampleTable()
        let collector = Collector(subsystems: Collector.hostSubsystems(paths: HostPaths(), table: table), table: table, step: 1)
        var monotonic = 1.0
        for _ in 0..<50 {
            monotonic += 1
            collector.collect(time: monotonic, monotonicTime: monotonic)
        }
        let rounds = 2000
        let cpuStart = Clock.threadCPU()
        let wallStart = Clock.monotonic()
        for _ in 0..<rounds {
            monotonic += 1
            collector.collect(time: monotonic, monotonicTime: monotonic)
        }
        let cpu = (Clock.threadCPU() - cpuStart) / Double(rounds)
        let wall = (Clock.monotonic() - wallStart) / Double(rounds)
        results.report("host_sample_cpu", cpu * 1e6, "us")
        results.report("host_sample_wall", wall * 1e6, "us")
        results.report("host_sample_statistics", Double(table.count), "statistics")
        for status in collector.statuses() {
            // Per subsystem, the mean wall time of a collection.
            results.report("subsystem_\(status.name)_wall", status.totalDurationSeconds / Double(max(1, status.collections)) * 1e6, "us")
        }
    }

    /// Host, every process and every cgroup.
    private static func fullSample(into results: inout Results) {
        let table = SampleTable()
        let processes = ProcessSubsystem(paths: HostPaths(), table: table)
        let cgroups = CgroupSubsystem(paths: HostPaths(), table: table)
        let collector = Collector(
            subsystems: Collector.hostSubsystems(paths: HostPaths(), table: table) + [processes, cgroups],
            table: table, step: 1)
        var monotonic = 1.0
        for _ in 0..<20 {
            monotonic += 1
            collector.collect(time: monotonic, monotonicTime: monotonic)
        }
        let rounds = 500
        let cpuStart = Clock.threadCPU()
        for _ in 0..<rounds {
            monotonic += 1
            collector.collect(time: monotonic, monotonicTime: monotonic)
        }
        let cpu = (Clock.threadCPU() - cpuStart) / Double(rounds)
        let statuses = Dictionary(uniqueKeysWithValues: collector.statuses().map { ($0.name, $0) })
        let processCount = Double(table.samples(where: { $0.hasPrefix("process:") && $0.hasSuffix(":rss_bytes") }).count)
        results.report("full_sample_cpu", cpu * 1e6, "us")
        results.report("full_sample_statistics", Double(table.count), "statistics")
        results.report("processes", processCount, "processes")
        func average(_ name: String) -> Double {
            guard let status = statuses[name], status.collections > 0 else { return .nan }
            return status.totalDurationSeconds / Double(status.collections)
        }
        results.report("process_subsystem_wall", average("process") * 1e6, "us")
        results.report("per_process_wall", average("process") * 1e6 / max(1, processCount), "us")
        results.report("cgroup_subsystem_wall", average("cgroup") * 1e6, "us")
    }
}
