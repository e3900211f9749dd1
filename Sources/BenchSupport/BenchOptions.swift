import ResmonSystem

/// resmon-bench's command line (`make bench`, `make bench-peers`, `make hot-functions`),
/// declared once: the parser and `--help` read the declarations.
public struct BenchOptions: Sendable, Equatable {
    /// The parts of the bench `--only` picks.
    public enum Section: String, Sendable, CaseIterable {
        case sample, archive, monitors, api, statistics, metrics, events, daemon, inline, dashboard, peers, soak
    }

    public var resmondPath = "./.build/release/resmond"
    /// The libresmon whose resmon_inline_update the inline section calls (`make bench` links
    /// it from the release build's objects).
    public var libresmonPath = "./.build/lib/libresmon.so.1"
    public var outputPath = "bench/results.json"
    /// How long each idle resmond, and the peers side by side, run.
    public var idleSeconds = 60
    /// How long the daemon section's resmond in use (defaults, a user's traffic) runs.
    public var inUseSeconds = 600
    /// Runs one section only; nil runs them all.
    public var only: Section?
    /// Runs the peers side by side (`make bench-peers`).
    public var peers = false
    /// Skips monitor figures above this count (for a quick look).
    public var maxMonitors = Int.max
    /// How many monitors the API section creates through resmond's socket, one resmond each.
    public var apiMonitors = [10_000, 100_000, 1_000_000]
    /// How many plug-in statistics the statistics section archives, in a resmond of its own.
    public var statistics = 10_000
    /// How long the API section's resmond runs with its monitors, under a user's traffic,
    /// before its memory is read: long enough for its minute's state and history snapshots.
    public var soakSeconds = 300
    /// How many times the peers run side by side: each figure is the median of the runs.
    public var runs = 3
    /// Writes the list of the functions a running resmond executes there, and nothing else.
    public var hotFunctionsPath: String?
    public var help = false

    static let declarations: [OptionDeclaration] = {
        let defaults = BenchOptions()
        let sections = Section.allCases.map(\.rawValue).joined(separator: ", ")
        return [
            .value("--resmond", placeholder: "PATH", help: "the resmond binary to measure (default \(defaults.resmondPath))"),
            .value("--libresmon", placeholder: "PATH", help: "the libresmon.so.1 the inline section calls (default \(defaults.libresmonPath))"),
            .value("--output", placeholder: "FILE", help: "where the figures are written as JSON (default \(defaults.outputPath))"),
            .value("--seconds", placeholder: "N", help: "how long each idle resmond, and the peers, run (default \(defaults.idleSeconds))"),
            .value(
                "--in-use", placeholder: "SECONDS",
                help:
                    "how long the daemon section's resmond runs at its defaults under a user's traffic before its RSS is read (default \(defaults.inUseSeconds))"
            ),
            .value("--only", placeholder: "SECTION", help: "run one section: \(sections)"),
            .flag(
                "--peers", help: "run resmond, collectd, node_exporter and Prometheus side by side, --runs times, each run with the sample and archive figures"),
            .value("--max-monitors", placeholder: "N", help: "skip the monitor figures above N monitors, for a quick look"),
            .value(
                "--api-monitors", placeholder: "N,N,…",
                help:
                    "the API section's monitor counts, each created in a resmond of its own (default \(defaults.apiMonitors.map(String.init).joined(separator: ",")))"
            ),
            .value(
                "--statistics", placeholder: "N",
                help: "how many plug-in statistics the statistics section archives at step 1, all four timescales (default \(defaults.statistics))"),
            .value(
                "--soak", placeholder: "SECONDS",
                help:
                    "how long the API and statistics sections' resmond runs with its monitors or statistics before it is measured, and how long --only soak runs (default \(defaults.soakSeconds))"
            ),
            .value("--runs", placeholder: "N", help: "how many times the peers run; each figure is the median (default \(defaults.runs))"),
            .value("--hot-functions", placeholder: "FILE", help: "write the functions a running resmond executes to FILE (under valgrind), and nothing else"),
            .flag("--help", "-h", help: "show this help")
        ]
    }()

    public static var usage: String {
        """
        Usage: resmon-bench [--resmond PATH] [--libresmon PATH] [--output FILE] [--seconds N] [--in-use SECONDS] [--only SECTION]
                            [--max-monitors N] [--api-monitors N,N,…] [--statistics N] [--soak SECONDS]
               resmon-bench --peers [--resmond PATH] [--output FILE] [--seconds N] [--runs N]
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
        if let path = parsed.value("--libresmon") { libresmonPath = path }
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
        if let seconds = try whole("--soak", atLeast: 1) { soakSeconds = seconds }
        if let count = try whole("--runs", atLeast: 1) { runs = count }
        if let count = try whole("--statistics", atLeast: 1) { statistics = count }
        if let seconds = try whole("--in-use", atLeast: 40) { inUseSeconds = seconds }
        if let text = parsed.value("--api-monitors") {
            let counts = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0) }
            guard !counts.isEmpty, counts.allSatisfy({ ($0 ?? 0) >= 1 }) else {
                throw ArgumentError("--api-monitors: expected whole numbers from 1, separated by commas, got \"\(text)\"")
            }
            apiMonitors = counts.compactMap { $0 }
        }
        if let text = parsed.value("--only") {
            guard let section = Section(rawValue: text) else {
                let sections = Section.allCases.map(\.rawValue).joined(separator: ", ")
                throw ArgumentError("--only: expected one of \(sections), got \"\(text)\"")
            }
            only = section
        } else if peers {
            only = .peers
        }
    }

    /// Whether `section` runs. The peers' section measures the host sample and archive updates
    /// itself, in each of its runs, for its ratios against a node_exporter scrape and rrdtool.
    public func wants(_ section: Section) -> Bool {
        only == nil ? section != .soak : only == section
    }
}
