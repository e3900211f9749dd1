import ResmonSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The machine a bench ran on, and how busy it was: figures are only comparable between runs
/// on the same kind of machine, with a like number of other processes.
public struct MachineDescription: Sendable, Equatable {
    /// /proc/cpuinfo's `model name` (or `Hardware`, `cpu model`), "unknown" when it has none.
    public var cpuModel: String
    public var cores: Int
    /// MemTotal.
    public var memoryBytes: Double
    /// The kernel's release (`uname -r`).
    public var kernel: String
    /// The processes that exist (the PIDs in /proc; threads not counted).
    public var processes: Int
    /// The processes runnable at that moment (`procs_running` of /proc/stat), this one included.
    public var running: Int

    public init(cpuinfo: String, meminfo: String, stat: String, kernel: String, cores: Int, processes: Int) {
        func field(_ name: String, in text: String, separator: Character) -> Substring? {
            for line in text.split(separator: "\n") {
                guard let colon = line.firstIndex(of: separator), line[..<colon].trimmingWhitespace() == name else { continue }
                return line[line.index(after: colon)...].trimmingWhitespace()
            }
            return nil
        }
        let model = ["model name", "Hardware", "cpu model", "Processor"].lazy.compactMap { field($0, in: cpuinfo, separator: ":") }.first
        cpuModel = model.map(String.init) ?? "unknown"
        let kibibytes = field("MemTotal", in: meminfo, separator: ":")?.split(separator: " ").first.flatMap { Double($0) }
        memoryBytes = (kibibytes ?? .nan) * 1024
        running = stat.split(separator: "\n").first { $0.hasPrefix("procs_running ") }.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        self.kernel = kernel
        self.cores = cores
        self.processes = processes
    }

    /// This machine now.
    public static func current() -> MachineDescription {
        func text(_ path: String) -> String {
            ((try? readFile(at: path, limit: 1 << 22)) ?? nil).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        var processes = 0
        try? forEachDirectoryEntry(in: "/proc") { name, isDirectory in
            var digits = name.count > 0
            for index in name.indices where !(0x30...0x39).contains(name[index]) { digits = false }
            if isDirectory && digits { processes += 1 }
        }
        return MachineDescription(
            cpuinfo: text("/proc/cpuinfo"), meminfo: text("/proc/meminfo"), stat: text("/proc/stat"),
            kernel: text("/proc/sys/kernel/osrelease").trimmingWhitespace().description, cores: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))),
            processes: processes)
    }

    /// One line: `AMD EPYC, 2 cores, 23.4 GiB, Linux 6.1.0; 87 processes, 2 running`.
    public var summary: String {
        let gibibytes = (memoryBytes / 1024 / 1024 / 1024 * 10).rounded() / 10
        return "\(cpuModel), \(cores) cores, \(gibibytes) GiB, Linux \(kernel); \(processes) processes, \(running) running"
    }
}

extension StringProtocol {
    fileprivate func trimmingWhitespace() -> Substring {
        let text = self[...]
        let start = text.firstIndex { !$0.isWhitespace } ?? text.endIndex
        let end = text.lastIndex { !$0.isWhitespace }.map { text.index(after: $0) } ?? start
        return Substring(text[start..<Swift.max(start, end)])
    }
}
