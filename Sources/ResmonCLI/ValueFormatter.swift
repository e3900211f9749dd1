import ResmonAPI

/// Renders values for people: bytes in IEC units, ratios as percentages, counters as rates.
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
        format(statistic.value, unit: statistic.unit, perSecond: statistic.kind == "counter")
    }

    static func bytes(_ value: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var scaled = value
        var index = 0
        while abs(scaled) >= 1024 && index < units.count - 1 {
            scaled /= 1024
            index += 1
        }
        return (index == 0 ? number(scaled) : fixed(scaled, 1)) + " " + units[index]
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 120 { return number(seconds) + " s" }
        let whole = Int(seconds)
        let (days, hours, minutes) = (whole / 86400, whole % 86400 / 3600, whole % 3600 / 60)
        if days > 0 { return "\(days)d \(hours)h \(minutes)m" }
        if hours > 0 { return "\(hours)h \(minutes)m" }
        return "\(minutes)m \(whole % 60)s"
    }

    /// Up to three decimals, trailing zeros dropped; whole numbers without a point.
    public static func number(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        let magnitude = abs(value)
        let decimals = magnitude >= 100 ? 1 : magnitude >= 1 ? 2 : 3
        var text = fixed(value, decimals)
        while text.contains(".") && (text.hasSuffix("0") || text.hasSuffix(".")) { text.removeLast() }
        return text == "-0" ? "0" : text
    }

    static func fixed(_ value: Double, _ decimals: Int) -> String {
        var factor = 1.0
        for _ in 0..<decimals { factor *= 10 }
        let scaled = (abs(value) * factor).rounded()
        let whole = Int64(scaled / factor)
        let fraction = Int64(scaled) - whole * Int64(factor)
        var fractionText = String(fraction)
        while fractionText.count < decimals { fractionText = "0" + fractionText }
        return (value < 0 && scaled > 0 ? "-" : "") + String(whole) + (decimals > 0 ? "." + fractionText : "")
    }
}

/// A table with aligned columns, as `resmon stats` prints it.
public struct TextTable {
    var header: [String]
    var rows: [[String]] = []
    /// Columns aligned to the right (numbers).
    var rightAligned: Set<Int> = []

    public init(header: [String], rightAligned: Set<Int> = []) {
        self.header = header
        self.rightAligned = rightAligned
    }

    public mutating func append(_ row: [String]) { rows.append(row) }

    public func render() -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            var text = ""
            for (index, cell) in cells.enumerated() {
                let padding = String(repeating: " ", count: max(0, widths[index] - cell.count))
                let last = index == cells.count - 1
                text += rightAligned.contains(index) ? padding + cell : cell + (last ? "" : padding)
                if !last { text += "  " }
            }
            return text
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n") + "\n"
    }
}
