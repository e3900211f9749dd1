/// xapi's data-source names for resmon's statistics: what `/rrd_updates` calls them, so that
/// perfmon and other xapi consumers find what they look for, and what a perfmon `rrd_regex`
/// is searched over (a selector's `xapi_name` label). Host statistics take host names (`cpu0`,
/// `memory_free_kib`, `pif_eth0_rx`); a control group's (not the root's) take a VM's (`cpu0`,
/// `cpu_avg`, `memory`, `vbd_all_read`, `vbd_all_write`, and `vif_0_rx`/`vif_0_tx` for a group in a
/// network namespace of its own).
public enum XapiDataSources {
    /// One xapi data source: its name, and the factor that turns resmon's value into xapi's unit.
    public struct Name: Sendable, Equatable {
        public let name: String
        public let scale: Double
        public init(_ name: String, scale: Double = 1) {
            self.name = name
            self.scale = scale
        }
    }

    /// Whether the statistic belongs to the host object of `/rrd_updates` (not to a process or a VM).
    public static func isHost(_ key: StatisticKey) -> Bool { key.subsystem != "process" && key.subsystem != "cgroup" }

    /// Whether the statistic belongs to a VM object: a control group other than the root.
    public static func isVM(_ key: StatisticKey) -> Bool { key.subsystem == "cgroup" && key.resource != "/" }

    /// The xapi names of a statistic; empty when xapi has none for it.
    public static func names(for key: StatisticKey) -> [Name] {
        if isVM(key) {
            switch key.statistic {
            // A control group has no virtual CPUs: its one "vCPU" is its share of the machine.
            case "cpu_ratio": return [Name("cpu0"), Name("cpu_avg")]
            case "memory_bytes": return [Name("memory")]
            // A control group's block I/O is read summed over its devices, so it is one virtual
            // disk, "all": perfmon's disk_usage sums `vbd_.+_(read|write)`, and gets the total.
            case "read_bytes_total": return [Name("vbd_all_read")]
            case "written_bytes_total": return [Name("vbd_all_write")]
            // A group in a network namespace of its own (a container) has one virtual interface,
            // 0: perfmon's network_usage sums `vif_[0-9]+_[rt]x`.
            case "network_receive_bytes_total": return [Name("vif_0_rx")]
            case "network_transmit_bytes_total": return [Name("vif_0_tx")]
            default: return []
            }
        }
        guard isHost(key) else { return [] }
        switch (key.subsystem, key.resource, key.statistic) {
        case ("cpu", "total", "usage_ratio"): return [Name("cpu_avg")]
        case ("cpu", let cpu, "usage_ratio") where cpu.hasPrefix("cpu"): return [Name(cpu)]
        case ("memory", "host", "total_bytes"): return [Name("memory_total_kib", scale: 1.0 / 1024)]
        case ("memory", "host", "available_bytes"): return [Name("memory_free_kib", scale: 1.0 / 1024)]
        case ("load", "host", "load1"): return [Name("loadavg")]
        case ("net", let interface, "receive_bytes_total"): return [Name("pif_\(interface)_rx")]
        case ("net", let interface, "transmit_bytes_total"): return [Name("pif_\(interface)_tx")]
        default: return []
        }
    }
}
