import FoundationEssentials
import ResmonAPI

extension CLI {
    /// The specs of `monitor create`: from a file, or from KEY CONDITION VALUE and options.
    static func monitorSpecs(_ invocation: Invocation) throws -> [MonitorSpec] {
        if let file = invocation.value("--from-file") {
            guard invocation.arguments.isEmpty else { throw UsageError(message: "--from-file takes no KEY CONDITION VALUE") }
            let data = try readInput(file)
            do {
                try StrictJSON.validate(data)
                if data.first(where: { $0 != 0x20 && $0 != 0x0a && $0 != 0x09 && $0 != 0x0d }) == UInt8(ascii: "[") {
                    return try JSONDecoder().decode([MonitorSpec].self, from: Data(data))
                }
                return [try JSONDecoder().decode(MonitorSpec.self, from: Data(data))]
            } catch let error as StrictJSON.SyntaxError {
                throw UsageError(message: "--from-file: \(file): not valid JSON: \(error)")
            } catch {
                throw UsageError(message: "--from-file: \(file) is not a monitor spec: \(StrictJSON.describe(error))")
            }
        }
        // The target: KEY, or --select REGEX [--where LABEL~REGEX]... with --aggregate F or --each.
        let target: MonitorTarget
        var arguments = invocation.arguments
        if let select = invocation.value("--select") {
            var labels: [String: String] = [:]
            for condition in invocation.values("--where") {
                guard let split = condition.firstIndex(where: { $0 == "=" || $0 == "~" }) else {
                    throw UsageError(message: "--where \(condition): expected LABEL=VALUE or LABEL~REGEX")
                }
                let value = String(condition[condition.index(after: split)...])
                labels[String(condition[..<split])] = condition[split] == "~" ? value : "^" + escapeRegex(value) + "$"
            }
            let each = invocation.flag("--each")
            guard each || invocation.flag("--aggregate") else { throw UsageError(message: "--select needs --aggregate sum|average|min|max|count, or --each") }
            target = .selection(
                MonitorSelection(
                    select: select, where: labels.isEmpty ? nil : labels,
                    aggregate: invocation.value("--aggregate"), each: each ? true : nil))
            guard arguments.count == 2 else { throw UsageError(message: "monitor create --select … needs CONDITION VALUE (no KEY)") }
        } else {
            guard arguments.count == 3 else { throw UsageError(message: "monitor create needs KEY CONDITION VALUE") }
            target = .key(arguments.removeFirst())
        }
        var spec: MonitorSpec
        switch arguments[0] {
        case "watermark":
            spec = MonitorSpec(target: target, type: .watermark)
            spec.mark = arguments[1]
            if invocation.flag("--events") { spec.events = true }
        case "leaky-bucket", "leakyBucket":
            guard let size = Double(arguments[1]) else { throw UsageError(message: "SIZE: expected a number, got \"\(arguments[1])\"") }
            guard let fill = invocation.value("--fill").flatMap(Double.init) else { throw UsageError(message: "a leaky bucket needs --fill F (a number)") }
            spec = MonitorSpec(target: target, type: .leakyBucket)
            spec.bucketSize = size
            spec.fillValue = fill
        default:
            guard let value = Double(arguments[1]) else { throw UsageError(message: "VALUE: expected a number, got \"\(arguments[1])\"") }
            spec = MonitorSpec(target: target, condition: Condition(rawValue: arguments[0]), value: value)
        }
        spec.samples = try invocation.whole("--samples")
        spec.cancelSamples = try invocation.whole("--cancel-samples")
        spec.cancelValue = try invocation.number("--cancel-below") ?? invocation.number("--cancel-above") ?? invocation.number("--cancel-value")
        spec.tolerance = try invocation.number("--tolerance")
        spec.transform = invocation.value("--transform").map(Transform.init(rawValue:))
        spec.severity = invocation.value("--severity").map(Severity.init(rawValue:))
        spec.cancelSeverity = invocation.value("--cancel-severity").map(Severity.init(rawValue:))
        spec.loggingRate = try invocation.number("--logging-rate")
        spec.monitoringRate = try invocation.number("--rate")
        spec.monitoringInterval = try invocation.number("--interval-limit")
        spec.name = invocation.value("--name")
        spec.id = invocation.value("--id")
        if invocation.flag("--stopped") { spec.start = false }
        if invocation.flag("--capture") { spec.dataCapture = true }
        return [spec]
    }

    /// A literal as a POSIX extended regular expression.
    static func escapeRegex(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if "\\^$.|?*+()[]{}".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}
