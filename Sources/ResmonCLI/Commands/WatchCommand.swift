import ResmonAPI
import ResmonClient
import ResmonSystem

#if canImport(Glibc)
    import Glibc
#endif

extension Command {
    static let watch = Command(
        name: "watch", synopsis: "watch KEY... [--interval SECONDS] [--count N] [--json]",
        summary: "refresh the values of KEYs in place until Ctrl-C",
        details:
            "Refreshes the values of the KEYs in place (on a terminal) every interval (default: the daemon's step)\nuntil Ctrl-C, or N times. Off a terminal it prints one block per refresh; with --json one JSON line.",
        arguments: 1...Int.max, completes: .statistic,
        options: [
            .value("--interval", placeholder: "SECONDS", help: "between refreshes, 0.1 to 3600 (default: the daemon's step)"),
            .value("--count", placeholder: "N", help: "stop after N refreshes")
        ]
    ) { client, invocation in
        var interval: Double
        if let text = invocation.value("--interval") {
            guard let value = Double(text), value >= 0.1, value <= 3600 else {
                throw UsageError(message: "--interval: expected seconds from 0.1 to 3600, got \"\(text)\"")
            }
            interval = value
        } else {
            interval = try client.status().stepSeconds
        }
        var remaining: Int?
        if let text = invocation.value("--count") {
            guard let count = Int(text), count >= 1 else { throw UsageError(message: "--count: expected a positive whole number, got \"\(text)\"") }
            remaining = count
        }
        let terminal = isatty(1) == 1
        while true {
            let statistics = try invocation.arguments.map { key throws(ClientError) in try client.statistic(key) }
            if invocation.json {
                CLI.printJSON(StatisticList(statistics: statistics), pretty: false)
            } else {
                let body = CLI.formatTime(Clock.wall()) + "\n" + CLI.statisticsTable(statistics)
                // Home the cursor and clear the screen, so the table refreshes in place.
                if terminal { Swift.print("\u{1B}[H\u{1B}[2J", terminator: "") }
                print(body, terminator: terminal ? "" : "\n")
            }
            CLI.flushOutput()
            if let count = remaining {
                remaining = count - 1
                if count - 1 == 0 { return }
            }
            usleep(UInt32(interval * 1_000_000))
        }
    }
}
