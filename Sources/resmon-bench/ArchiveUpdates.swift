import History
import ResmonSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Archive updates: resmon's round-robin engine beside rrdtool's, on the same 100 data sources
/// and the same archives, rrdtool one file per source and one file for all.
enum ArchiveUpdates {
    static func run(into results: inout Results) {
        let step = 5, sources = 100, steps = 200
        let start = 1_700_000_000
        let archives = ArchiveDefinition.standard(step: step)
        var databases = (0..<sources).map { _ in
            RoundRobinDatabase(step: step, kind: .gauge, heartbeat: 3 * step, archives: archives, start: start)
        }
        let rounds = 50
        let cpuStart = Clock.threadCPU()
        for round in 0..<rounds {
            for index in 0..<steps {
                let time = start + (round * steps + index + 1) * step
                for source in 0..<sources { try? databases[source].update(time: time, reading: Double(source + index)) }
            }
        }
        let resmonPerUpdate = (Clock.threadCPU() - cpuStart) / Double(rounds * steps * sources)
        results.report("archive_update_cpu", resmonPerUpdate * 1e9, "ns")
        results.report("archive_bytes_full", Double(databases[0].storageBytes), "bytes")
        results.report(
            "archive_bytes_process",
            Double(
                RoundRobinDatabase(step: step, kind: .gauge, heartbeat: 15, archives: ArchiveDefinition.standard(step: step, tiers: 1), start: start)
                    .storageBytes), "bytes")

        let directory = "/tmp/resmon-bench-rrd-\(getpid())"
        mkdir(directory, 0o755)
        let rras = archives.map { "RRA:\($0.function.rawValue):0.5:\($0.stepsPerRow):\($0.rows)" }.joined(separator: " ")
        var create = ""
        for source in 0..<sources { create += "create \(directory)/\(source).rrd --start \(start) --step \(step) DS:v:GAUGE:15:U:U \(rras)\n" }
        create +=
            "create \(directory)/all.rrd --start \(start) --step \(step) "
            + (0..<sources).map { "DS:v\($0):GAUGE:15:U:U" }.joined(separator: " ") + " \(rras)\n"
        _ = rrdtoolCPU(create)
        var perFile = ""
        var batched = ""
        for index in 0..<steps {
            let time = start + (index + 1) * step
            for source in 0..<sources { perFile += "update \(directory)/\(source).rrd \(time):\(source + index)\n" }
            batched += "update \(directory)/all.rrd \(time):" + (0..<sources).map { String($0 + index) }.joined(separator: ":") + "\n"
        }
        if let perFileCPU = rrdtoolCPU(perFile), let batchedCPU = rrdtoolCPU(batched) {
            let perFileUpdate = perFileCPU / Double(steps * sources)
            let batchedUpdate = batchedCPU / Double(steps * sources)
            results.report("rrdtool_update_per_file_cpu", perFileUpdate * 1e9, "ns")
            results.report("rrdtool_update_batched_cpu", batchedUpdate * 1e9, "ns")
            results.report("archive_update_vs_rrdtool_per_file", perFileUpdate / resmonPerUpdate, "x")
            results.report("archive_update_vs_rrdtool_batched", batchedUpdate / resmonPerUpdate, "x")
        }
        for source in 0..<sources { unlink("\(directory)/\(source).rrd") }
        unlink("\(directory)/all.rrd")
        rmdir(directory)
    }

    /// Runs `rrdtool -` (commands on standard input) and returns the CPU seconds it used.
    private static func rrdtoolCPU(_ commands: String) -> Double? {
        guard access("/usr/bin/rrdtool", X_OK) == 0 else { return nil }
        guard let pipe = try? FileDescriptor.pipe() else { return nil }
        let pipeEnds = [pipe.read.rawValue, pipe.write.rawValue]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[0], 0)
        posix_spawn_file_actions_addclose(&actions, pipeEnds[1])
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let program: [String] = ["/usr/bin/rrdtool", "-"]
        let argv = program.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child = pid_t()
        guard posix_spawn(&child, "/usr/bin/rrdtool", &actions, nil, argv, environ) == 0 else { return nil }
        close(pipeEnds[0])
        try? FileDescriptor(rawValue: pipeEnds[1]).writeAll(Array(commands.utf8))
        close(pipeEnds[1])
        var status: Int32 = 0
        var usage = rusage()
        wait4(child, &status, 0, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}
