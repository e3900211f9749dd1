/// The Prometheus text exposition format (version 0.0.4), as plug-ins write it: `# TYPE`,
/// `# HELP`, and `name{label="value",…} value [timestamp]` lines. A malformed line is reported
/// with its number and skipped; the rest of the document still counts.
public enum PrometheusText {
    public struct Sample: Sendable, Equatable {
        public var name: String
        /// The family the sample belongs to: a histogram's `_bucket`, `_sum` and `_count`, a
        /// summary's `_sum` and `_count` belong to the family their `# TYPE` names; other
        /// samples are their own family.
        public var family: String
        public var labels: [String: String]
        public var value: Double
        /// `counter`, `gauge`, `histogram`, `summary` or `untyped`, from the family's `# TYPE`.
        public var type: String
        public var help: String
    }

    public struct LineError: Sendable, Equatable, CustomStringConvertible {
        public let line: Int
        public let message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// Parses a document; stops after `maxSamples` samples, so a plug-in over its limit costs no
    /// more than the limit.
    public static func parse(_ bytes: some Collection<UInt8>, maxSamples: Int = .max) -> (samples: [Sample], errors: [LineError]) {
        var samples: [Sample] = []
        var errors: [LineError] = []
        var types: [String: String] = [:]
        var helps: [String: String] = [:]
        var number = 0
        for rawLine in bytes.split(separator: 0x0a, omittingEmptySubsequences: false) {
            if samples.count >= maxSamples { break }
            number += 1
            var line = Array(rawLine)
            if line.last == 0x0d { line.removeLast() }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            if line.first == 0x23 {  // "#"
                let text = String(decoding: line, as: UTF8.self)
                let parts = text.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
                if parts.count >= 3 && parts[1] == "TYPE" {
                    let type = parts.count > 3 ? String(parts[3]).lowercased() : ""
                    guard ["counter", "gauge", "histogram", "summary", "untyped"].contains(type) else {
                        errors.append(LineError(line: number, message: "unknown metric type \"\(type)\""))
                        continue
                    }
                    types[String(parts[2])] = type
                } else if parts.count >= 3 && parts[1] == "HELP" {
                    helps[String(parts[2])] = parts.count > 3 ? unescapeHelp(parts[3]) : ""
                }
                continue
            }
            do {
                var sample = try parseSample(line)
                let family = familyName(sample.name, types: types)
                sample.family = family
                sample.type = types[family] ?? "untyped"
                sample.help = helps[family] ?? helps[sample.name] ?? ""
                samples.append(sample)
            } catch {
                errors.append(LineError(line: number, message: error.message))
            }
        }
        return (samples, errors)
    }

    /// `http_request_duration_seconds_bucket` belongs to the histogram `http_request_duration_seconds`.
    static func familyName(_ name: String, types: [String: String]) -> String {
        if types[name] != nil { return name }
        for suffix in ["_bucket", "_sum", "_count", "_total", "_created"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if types[base] != nil { return base }
        }
        return name
    }

    /// `# HELP` text escapes a backslash as `\\` and a line feed as `\n`.
    static func unescapeHelp(_ text: Substring) -> String {
        guard text.contains("\\") else { return String(text) }
        var result = ""
        var escaping = false
        for character in text {
            if escaping {
                result += character == "n" ? "\n" : character == "\\" ? "\\" : "\\" + String(character)
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else {
                result.append(character)
            }
        }
        return escaping ? result + "\\" : result
    }

    struct ParseError: Error {
        let message: String
    }

    private static func isNameByte(_ byte: UInt8, first: Bool) -> Bool {
        (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || byte == 0x5f || byte == 0x3a
            || (!first && byte >= 0x30 && byte <= 0x39)
    }

    private static func parseSample(_ line: [UInt8]) throws(ParseError) -> Sample {
        var position = 0
        while position < line.count && line[position] == 0x20 { position += 1 }
        let nameStart = position
        while position < line.count && isNameByte(line[position], first: position == nameStart) { position += 1 }
        guard position > nameStart else { throw ParseError(message: "expected a metric name") }
        let name = String(decoding: line[nameStart..<position], as: UTF8.self)
        var labels: [String: String] = [:]
        if position < line.count && line[position] == 0x7b {  // "{"
            position += 1
            while true {
                while position < line.count && (line[position] == 0x20 || line[position] == 0x2c) { position += 1 }
                guard position < line.count else { throw ParseError(message: "the label set is not closed") }
                if line[position] == 0x7d { position += 1; break }  // "}"
                let labelStart = position
                while position < line.count && isNameByte(line[position], first: position == labelStart) && line[position] != 0x3a { position += 1 }
                guard position > labelStart else { throw ParseError(message: "expected a label name") }
                let label = String(decoding: line[labelStart..<position], as: UTF8.self)
                guard position < line.count, line[position] == 0x3d else { throw ParseError(message: "expected = after \(label)") }
                position += 1
                guard position < line.count, line[position] == 0x22 else { throw ParseError(message: "expected a quoted value for \(label)") }
                position += 1
                var value: [UInt8] = []
                while position < line.count && line[position] != 0x22 {
                    if line[position] == 0x5c, position + 1 < line.count {  // backslash escapes
                        position += 1
                        switch line[position] {
                        case 0x6e: value.append(0x0a)
                        case 0x5c: value.append(0x5c)
                        case 0x22: value.append(0x22)
                        default: throw ParseError(message: "unknown escape in the value of \(label)")
                        }
                    } else {
                        value.append(line[position])
                    }
                    position += 1
                }
                guard position < line.count else { throw ParseError(message: "the value of \(label) is not closed") }
                position += 1
                guard labels[label] == nil else { throw ParseError(message: "label \(label) given twice") }
                labels[label] = String(decoding: value, as: UTF8.self)
            }
        }
        let rest = String(decoding: line[position...], as: UTF8.self).split(separator: " ", omittingEmptySubsequences: true)
        guard let text = rest.first, rest.count <= 2 else { throw ParseError(message: "expected a value (and an optional timestamp) after \(name)") }
        let value: Double
        switch text {
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        case "NaN": value = .nan
        default:
            guard let parsed = Double(text) else { throw ParseError(message: "\"\(text)\" is not a number") }
            value = parsed
        }
        if rest.count == 2, Int64(rest[1]) == nil { throw ParseError(message: "\"\(rest[1])\" is not a timestamp in milliseconds") }
        return Sample(name: name, family: name, labels: labels, value: value, type: "untyped", help: "")
    }
}
