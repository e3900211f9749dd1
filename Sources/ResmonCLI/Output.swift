import FoundationEssentials
import ResmonAPI
import ResmonClient
import ResmonSystem

#if canImport(Glibc)
    import Glibc
#endif

/// What the commands share: JSON and error output, times, durations, ids.
extension CLI {
    static func printJSON<Body: Encodable>(_ body: Body, pretty: Bool = true) {
        let encoder = WireJSON.encoder(pretty: pretty)
        if let data = try? encoder.encode(body) { print(String(decoding: data, as: UTF8.self)) }
    }

    static func printError(_ message: String) {
        let line = Array(("resmon: " + TerminalText.visible(message) + "\n").utf8)
        try? FileDescriptor(rawValue: 2).writeAll(line)
    }

    /// A line as soon as it happens, also into a pipe.
    static func flushOutput() { fflush(nil) }

    static func formatTime(_ epoch: Double) -> String {
        guard abs(epoch) < 1e15 else { return ValueFormatter.number(epoch) }  // time_t(…) would trap
        var seconds = time_t(epoch)
        var parts = tm()
        localtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }

    /// `90`, `90s`, `10m`, `2h`, `7d` in seconds.
    static func duration(_ text: String) -> Int? {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800]
        if let unit = text.last.flatMap({ units[$0] }), let number = Int(text.dropLast()), number > 0 {
            let (seconds, overflow) = number.multipliedReportingOverflow(by: unit)
            return overflow ? nil : seconds
        }
        if let number = Int(text), number > 0 { return number }
        return nil
    }

    /// A `--since` value as the API takes it: a duration as seconds back (`-3600`), else as given (RFC 3339).
    static func since(_ text: String?) -> String? {
        text.map { text in duration(text).map { "-\($0)" } ?? text }
    }

    /// A monitor id as tables show it: a UUID (the API's default id) by its first 8 digits, as
    /// git shows commits: `7f6f7d9f`, a template instance `de4853cc.28043-134903`.
    static func shortID(_ id: String) -> String {
        let utf8 = Array(id.utf8)
        guard utf8.count >= 36, UUIDText.isUUID(String(decoding: utf8[0..<36], as: UTF8.self)) else { return id }
        return String(decoding: utf8[0..<8], as: UTF8.self) + String(decoding: utf8[36...], as: UTF8.self)
    }

    /// The monitor `text` names: its id, its short id as tables show it, or a unique prefix of
    /// either (at least 4 characters).
    static func resolveMonitorID(_ client: ResmonClient, _ text: String) throws -> String {
        let notFound: ClientError
        do {
            return try client.monitor(text).id
        } catch {
            guard case .api(status: 404, _, _) = error, text.count >= 4 else { throw error }
            notFound = error
        }
        let matches = try client.monitors().map(\.id).filter { $0.hasPrefix(text) || shortID($0).hasPrefix(text) }
        if matches.count == 1 { return matches[0] }
        if matches.isEmpty { throw notFound }
        throw UsageError(message: "\(text) names \(matches.count) monitors (\(matches.prefix(3).map(shortID).joined(separator: ", "))…): give more of the id")
    }

    /// One character per value, ▁ to █ between the smallest and largest; a space when unknown.
    static func sparkline(_ values: [Double?]) -> String {
        let bars = Array("▁▂▃▄▅▆▇█")
        let known = values.compactMap { $0 }
        guard let low = known.min(), let high = known.max() else { return String(repeating: " ", count: values.count) }
        return String(
            values.map { value -> Character in
                guard let value else { return " " }
                if high == low { return bars[3] }
                return bars[min(bars.count - 1, Int((value - low) / (high - low) * Double(bars.count - 1) + 0.5))]
            })
    }

    /// A file given on the command line (`-`: standard input), at most 64 MiB.
    static func readInput(_ path: String) throws(UsageError) -> [UInt8] {
        if path == "-" {
            var input: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while let count = try? FileDescriptor(rawValue: 0).read(into: &chunk, count: chunk.count), count > 0 {
                input += chunk[0..<count]
                if input.count > 64 << 20 { throw UsageError(message: "standard input is larger than 64 MiB") }
            }
            return input
        }
        do {
            guard let bytes = try readFile(at: path, limit: 64 << 20) else { throw UsageError(message: "cannot read \(path): no such file") }
            return bytes
        } catch let error as UsageError {
            throw error
        } catch FileReadError.notRegular(_, let kind) {
            throw UsageError(message: "\(path) is \(kind), not a regular file (give - to read standard input)")
        } catch {
            throw UsageError(message: "\(error)")
        }
    }
}
