import BenchSupport
import FoundationEssentials
import ResmonAPI

#if canImport(Glibc)
    import Glibc
    import ResmonSystem
#endif

/// One measured figure, as the output file holds it: a figure of several runs is their median,
/// with the range (`min`, `max`) and how many runs gave it; `note` is text a number cannot say
/// (the machine's CPU model).
struct Figure: Encodable {
    let name: String
    let value: Double
    let unit: String
    var min: Double?
    var max: Double?
    var runs: Int?
    var note: String?
}

/// The figures measured so far: each printed as it comes (unless `printing` is off, for one of
/// several runs), all written as JSON at the end. The sections report into it, and the peers'
/// ratios read figures earlier sections reported.
struct Results {
    private(set) var figures: [Figure] = []
    var printing = true

    mutating func report(_ name: String, _ value: Double, _ unit: String) {
        add(Figure(name: name, value: value, unit: unit))
    }

    /// A figure of several runs: their median, printed with the range.
    mutating func report(_ name: String, _ spread: Spread, _ unit: String) {
        add(Figure(name: name, value: spread.median, unit: unit, min: spread.minimum, max: spread.maximum, runs: spread.runs))
    }

    /// The machine: CPU model, cores, memory, kernel, and how many processes there are now.
    mutating func describeMachine(_ machine: MachineDescription = .current()) {
        add(Figure(name: "machine_cores", value: Double(machine.cores), unit: "cores", note: machine.summary))
        add(Figure(name: "machine_memory", value: machine.memoryBytes / 1024 / 1024 / 1024, unit: "GiB"))
        countProcesses(as: "machine", machine)
    }

    /// How many processes there are now, and how many are runnable: `NAME_processes`,
    /// `NAME_processes_running`.
    mutating func countProcesses(as name: String, _ machine: MachineDescription = .current()) {
        add(Figure(name: name + "_processes", value: Double(machine.processes), unit: "processes"))
        add(Figure(name: name + "_processes_running", value: Double(machine.running), unit: "processes"))
    }

    private mutating func add(_ figure: Figure) {
        figures.append(figure)
        guard printing else { return }
        func rounded(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
        var line = "\(figure.name): \(rounded(figure.value)) \(figure.unit)"
        if let min = figure.min, let max = figure.max, let runs = figure.runs {
            line += " (\(rounded(min))–\(rounded(max)), median of \(runs) runs)"
        }
        if let note = figure.note { line += " [\(note)]" }
        print(line)
        // Each figure as it comes even into a file: a long run shows its progress, and one cut
        // short keeps what it measured.
        fflush(nil)
    }

    /// The last value reported under `name`.
    func value(named name: String) -> Double? {
        figures.last(where: { $0.name == name })?.value
    }

    /// Each figure of `runs` as its median over them, with the range, in the order they first
    /// came. Notes are kept from the first run that has one.
    mutating func reportMedians(of runs: [Results]) {
        var order: [String] = []
        var units: [String: String] = [:]
        var notes: [String: String] = [:]
        for run in runs {
            for figure in run.figures where units[figure.name] == nil {
                order.append(figure.name)
                units[figure.name] = figure.unit
                if let note = figure.note { notes[figure.name] = note }
            }
        }
        for name in order {
            guard let spread = Spread(runs.map { $0.value(named: name) ?? .nan }) else { continue }
            add(
                Figure(
                    name: name, value: spread.median, unit: units[name] ?? "", min: spread.minimum, max: spread.maximum,
                    runs: spread.runs, note: notes[name]))
        }
    }

    /// Writes the figures to `path` as a JSON array of `{"name","value","unit"}` (with `min`,
    /// `max` and `runs` for a median, `note` for text).
    func write(to path: String) {
        let encoder = WireJSON.encoder(pretty: true)
        guard let data = try? encoder.encode(figures) else { return }
        let bytes = Array(data) + [0x0a]
        if let file = try? FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC) {
            try? file.writeAll(bytes)
            file.close()
            print("wrote \(path)")
        }
    }
}
