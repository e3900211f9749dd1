import ResmonSystem

/// resmon-bench's command line (`make bench`, `make bench-peers`, `make hot-functions`),
/// declared once: the parser and `--help` read the declarations.
public struct BenchOptions: Sendable, Equatable {
    /// The parts of the bench `--only` picks.
    public enum Section: String, Sendable, CaseIterable {
        case sample, archive, monitors, metrics, events, daemon, peers
    }

    public var resmondPath = "./.build/release/resmond"
    public var outputPath = "bench/results.json"
    /// How long each idle resmond, and the peers side by side, run.
    public var idleSeconds = 60
    /// Runs one section only; nil runs them all.
    public var only: Section?
    /// Runs the peers side by side (`make bench-peers`).
    public var peers = false
    /// Skips monitor figures above this count (for a quick look).
    public var maxMonitors = Int.max
    /// Writes the list of the functions a running resmond executes there, and nothing else.
    public var hotFunctionsPath: String?
    public var help = false

    static let declarations: [OptionDeclaration] = {
        let defaults = BenchOptions()
        let sections = Section.allCases.map(\.rawValue).joined(separator: ", ")
        return [
            .value("--resmond", placeholder: "PATH", help: "the resmond binary to measure (default \(defaults.resmondPath))"),
            .value("--output", placeholder: "FILE", help: "where the figures are written as JSON (default \(defaults.outputPath))"),
            .value("--seconds", placeholder: "N", help: "how long each idle resmond, and the peers, run (default \(defaults.idleSeconds))"),
            .value("--only", placeholder: "SECTION", help: "run one section: \(sections)"),
            .flag("--peers", help: "run resmond, collectd, node_exporter and Prometheus side by side, after the sample and archive sections"),
            .value("--max-monitors", placeholder: "N", help: "skip the monitor figures above N monitors, for a quick look"),
            .value("--hot-functions", placeholder: "FILE", help: "write the functions a running resmond executes to FILE (under valgrind), and nothing else"),
            .flag("--help", "-h", help: "show this help")
        ]
    }()

    public static var usage: String {
        """
        Usage: resmon-bench [--resmond PATH] [--output FILE] [--seconds N] [--only SECTION] [--max-monitors N]
               resmon-bench --peers [--resmond PATH] [--output FILE] [--seconds N]
               resmon-bench --hot-functions FILE [--resmond PATH]

        Measures resmon on this machine: prints one line per figure and writes them as JSON
        ([{"name","value","unit"}]). Run it from a release build: `make bench`, `make bench-peers`,
        `make hot-functions`.

        Options:
        \(ArgumentParser.help(for: declarations))
        """
    }

    public init() {}

    public init(arguments: [String]) throws(ArgumentError) {
        let parsed = try ArgumentParser.parse(arguments, options: BenchOptions.declarations)
        if let extra = parsed.positional.first { throw ArgumentError("unexpected argument \"\(extra)\"") }
        help = parsed.flag("--help")
        peers = parsed.flag("--peers")
        if let path = parsed.value("--resmond") { resmondPath = path }
        if let path = parsed.value("--output") { outputPath = path }
        hotFunctionsPath = parsed.value("--hot-functions")
        func whole(_ name: String, atLeast minimum: Int) throws(ArgumentError) -> Int? {
            guard let text = parsed.value(name) else { return nil }
            guard let number = Int(text), number >= minimum else {
                throw ArgumentError("\(name): expected a whole number from \(minimum), got \"\(text)\"")
            }
            return number
        }
        if let seconds = try whole("--seconds", atLeast: 1) { idleSeconds = seconds }
        if let count = try whole("--max-monitors", atLeast: 0) { maxMonitors = count }
        if let text = parsed.value("--only") {
            guard let section = Section(rawValue: text) else {
                let sections = Section.allCases.map(\.rawValue).joined(separator: ", ")
                throw ArgumentError("--only: expected one of \(sections), got \"\(text)\"")
            }
            only = section
        } else if peers {
            // The peers' ratios need the host sample and the archive updates (see `wants`).
            only = .peers
        }
    }

    /// Whether `section` runs. The peers' run also measures the host sample and archive updates,
    /// for its ratios against a node_exporter scrape and rrdtool's updates.
    public func wants(_ section: Section) -> Bool {
        only == nil || only == section || (only == .peers && (section == .sample || section == .archive))
    }
}
