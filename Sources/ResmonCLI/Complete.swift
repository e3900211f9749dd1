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
        // The resmond the other commands reach without options: $RESMON_URL (with its token and CA
        // files) when set, else $RESMON_SOCKET or the default socket.
        guard let client = try? ResmonClient.configured(socketPath: nil, url: nil, tokenFile: nil, caFile: nil, timeoutMilliseconds: 1000)
        else { return ExitCode.failure }
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
        // A candidate holding a control character could not be typed back, and one holding a line
        // end would read as two: neither is offered. The shells quote what is (see dist/completion).
        let offered = candidates.filter { candidate in
            !candidate.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) || $0 == "\u{2028}" || $0 == "\u{2029}" }
        }
        print(offered.sorted().joined(separator: "\n"), terminator: offered.isEmpty ? "" : "\n")
        return ExitCode.success
    }
}
