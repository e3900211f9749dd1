import ResmonAPI
import ResmonClient

extension CLI {
    /// `resmon --complete monitors|statistics PREFIX`, which the shell completions call: the
    /// running resmond's monitor ids or statistic keys that begin with PREFIX, one a line. Quiet
    /// and quick: nothing at all, and status 1, when resmond does not answer within a second or
    /// the request is not understood, so that a completion never prints into the command line.
    static func complete(_ words: [String]) -> Int32 {
        guard (1...2).contains(words.count) else { return ExitCode.usage }
        let prefix = words.count == 2 ? words[1] : ""
        let client = ResmonClient(timeoutMilliseconds: 1000)
        let candidates: [String]
        switch words[0] {
        case "monitors":
            guard let monitors = try? client.monitors() else { return ExitCode.failure }
            candidates = monitors.map(\.id).filter { $0.hasPrefix(prefix) }
        case "statistics":
            let pattern = prefix.isEmpty ? nil : "^" + escapeRegex(prefix)
            guard let statistics = try? client.statistics(matching: pattern) else { return ExitCode.failure }
            candidates = statistics.map(\.key).filter { $0.hasPrefix(prefix) }
        default:
            return ExitCode.usage
        }
        print(candidates.sorted().joined(separator: "\n"), terminator: candidates.isEmpty ? "" : "\n")
        return ExitCode.success
    }
}
