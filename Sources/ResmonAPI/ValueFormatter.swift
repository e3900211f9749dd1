/// Renders values for people, by one rule wherever a person reads them (the CLI's tables, event
/// messages, monitor names): bytes in IEC units, ratios (unit `ratio`, names ending `_ratio`)
/// as percentages, seconds as durations, counters as rates. JSON and the API carry the raw
/// numbers (a ratio stays 0…1).
public enum ValueFormatter {
    public static func format(_ value: Double?, unit: String, perSecond: Bool = false) -> String {
        guard let value, value.isFinite else { return "unknown" }
        let suffix = perSecond ? "/s" : ""
        switch unit {
        case "bytes":
            return bytes(value) + suffix
        case "ratio":
            return number(value * 100) + " %"
        case "seconds":
            return perSecond ? number(value) + " s/s" : duration(value)
        case "":
            return number(value) + suffix
        default:
            return number(value) + " " + unit + suffix
        }
    }

    /// A statistic's value with its unit (a counter's value is its rate).
    public static func format(_ statistic: StatisticInfo) -> String {
        format(statistic.value, unit: statistic.unit.isEmpty ? unit(ofKey: statistic.key) : statistic.unit, perSecond: statistic.kind == "counter")
    }

    public static func bytes(_ value: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var scaled = value
        var index = 0
        while abs(scaled) >= 1024 && index < units.count - 1 {
            scaled /= 1024
            index += 1
        }
        let shown = index == 0 ? number(scaled) : fixed(scaled, 1)
        return (shown.hasSuffix(".0") ? String(shown.dropLast(2)) : shown) + " " + units[index]
    }

    public static func duration(_ seconds: Double) -> String {
        // Past ~30 million years (or not finite) plain seconds: `Int(seconds)` would trap.
        if seconds < 120 || !(seconds < 1e15) { return number(seconds) + " s" }
        let whole = Int(seconds)
        let (days, hours, minutes) = (whole / 86400, whole % 86400 / 3600, whole % 3600 / 60)
        if days > 0 { return "\(days)d \(hours)h \(minutes)m" }
        if hours > 0 { return "\(hours)h \(minutes)m" }
        return "\(minutes)m \(whole % 60)s"
    }

    /// Up to three decimals, trailing zeros dropped; whole numbers without a point.
    public static func number(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        // A pushed or configured 1e300 (or a ratio's 1e308 × 100 = inf) as Swift spells it: the
        // fixed-point rendering below goes through Int64, which traps past 9.2e18.
        if !(abs(value) < 1e15) { return "\(value)" }
        let magnitude = abs(value)
        let decimals = magnitude >= 100 ? 1 : magnitude >= 1 ? 2 : 3
        var text = fixed(value, decimals)
        while text.contains(".") && (text.hasSuffix("0") || text.hasSuffix(".")) { text.removeLast() }
        return text == "-0" ? "0" : text
    }

    public static func fixed(_ value: Double, _ decimals: Int) -> String {
        var factor = 1.0
        for _ in 0..<decimals { factor *= 10 }
        let scaled = (abs(value) * factor).rounded()
        guard scaled < 9e18 else { return "\(value)" }  // Int64 below holds it (and not NaN or inf)
        let whole = Int64(scaled / factor)
        let fraction = Int64(scaled) - whole * Int64(factor)
        var fractionText = String(fraction)
        while fractionText.count < decimals { fractionText = "0" + fractionText }
        return (value < 0 && scaled > 0 ? "-" : "") + String(whole) + (decimals > 0 ? "." + fractionText : "")
    }
}

extension ValueFormatter {
    /// The unit a statistic key's name implies by Prometheus' conventions, for where only the
    /// key is at hand: `_ratio` → `ratio`, `_bytes` → `bytes`, `_seconds` → `seconds`.
    public static func unit(ofKey key: String) -> String {
        // The last part between colons that is not empty (as `split(separator: ":").last`),
        // without making strings: every monitor created without a name formats its value.
        var end = key.endIndex
        while end > key.startIndex, key[key.index(before: end)] == ":" { end = key.index(before: end) }
        let trimmed = key[..<end]
        var name = trimmed.lastIndex(of: ":").map { trimmed[trimmed.index(after: $0)...] } ?? trimmed
        if trimmed.isEmpty { name = key[...] }
        if name.hasSuffix("_total") { name = name.dropLast(6) }
        for (suffix, unit) in unitSuffixes where name.hasSuffix(suffix) { return unit }
        return ""
    }

    private static let unitSuffixes = [("_ratio", "ratio"), ("_bytes", "bytes"), ("_seconds", "seconds")]
}

extension MonitorSpec {
    /// A reading or threshold of this monitor as a person reads it, by `ValueFormatter`'s rule:
    /// the unit comes from the target's statistic name (a selection's pattern), the transform
    /// changes it (`percent` is 0…100 %, `rate` is per second), a counter's value is its rate.
    /// `unit` overrides the name's (a statistic's declared unit, where it is known).
    public func formatValue(_ value: Double?, unit declared: String = "") -> String {
        guard let value, value.isFinite else { return "unknown" }
        let name: String
        switch target {
        case .key(let key): name = key
        case .selection(let selection):
            if selection.aggregate == "count" { return ValueFormatter.number(value) }
            name = String(selection.select.reversed().drop { "$)".contains($0) }.reversed())
        }
        let unit = declared.isEmpty ? ValueFormatter.unit(ofKey: name) : declared
        let counter = name.hasSuffix("_total")
        switch transform?.kind {
        case .percent: return ValueFormatter.number(value) + " %"
        case .rate: return unit == "ratio" ? ValueFormatter.number(value * 100) + " %/s" : ValueFormatter.format(value, unit: unit, perSecond: true)
        case .change: return ValueFormatter.format(value, unit: unit)
        case Transform.Kind.none?, nil: return ValueFormatter.format(value, unit: unit, perSecond: counter)
        }
    }
}
