/// How a plug-in's metric names become statistic names that follow Prometheus' conventions, the
/// ones `promtool check metrics` holds an exposition to: snake case, base units, `_total` on
/// counters and only on counters. node_exporter's own output breaks several of them
/// (`node_memory_HugePages_Total` is a gauge, `node_entropy_available_bits` is in bits).
public enum PrometheusNames {
    /// A metric name as a statistic name: lower-cased, every character outside `[a-z0-9_]` an `_`.
    public static func statisticName(_ metric: String) -> String {
        String(metric.lowercased().map { ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "_" ? $0 : "_" })
    }

    /// A number as the text format writes it: `+Inf`, `-Inf`, `NaN`, integers without a fraction.
    public static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == .infinity { return "+Inf" }
        if value == -.infinity { return "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// A conversion of values into a base unit: `value × scale + offset`.
    public struct Conversion: Sendable, Equatable {
        public var scale: Double
        public var offset: Double
        public static let identity = Conversion(scale: 1, offset: 0)

        public func apply(_ value: Double) -> Double { self == .identity ? value : value * scale + offset }
    }

    /// A name with its non-base unit words replaced by base units (`_bits` by `_bytes`,
    /// `_milliseconds` by `_seconds`), and how to convert the values. promtool's list of units
    /// and SI prefixes: a word it knows as a unit that is not a base unit is a complaint.
    public static func baseUnits(_ name: String) -> (name: String, conversion: Conversion) {
        var conversion = Conversion.identity
        var changed = false
        var words = name.split(separator: "_", omittingEmptySubsequences: false).map(String.init)
        for index in words.indices {
            let word = words[index]
            var found = units[word].map { (prefix: 1.0, unit: $0) }
            if found == nil {
                for (prefix, factor) in prefixes where word.hasPrefix(prefix) {
                    if let unit = units[String(word.dropFirst(prefix.count))] {
                        found = (factor, unit)
                        break
                    }
                }
            }
            guard let found, found.prefix != 1 || found.unit.base != word else { continue }
            words[index] = found.unit.base
            // A later conversion applies to what earlier ones made: scale both.
            conversion = Conversion(
                scale: conversion.scale * found.prefix * found.unit.scale,
                offset: conversion.offset * found.prefix * found.unit.scale + found.unit.offset)
            changed = true
        }
        return changed ? (words.joined(separator: "_"), conversion) : (name, conversion)
    }

    private struct Unit {
        var base: String
        var scale: Double = 1
        var offset: Double = 0
    }

    /// promtool 2.42's units (client_golang's promlint), base units mapped to themselves.
    private static let units: [String: Unit] = [
        "amperes": Unit(base: "amperes"), "bytes": Unit(base: "bytes"), "celsius": Unit(base: "celsius"),
        "grams": Unit(base: "grams"), "joules": Unit(base: "joules"), "kelvin": Unit(base: "kelvin"),
        "meters": Unit(base: "meters"), "metres": Unit(base: "metres"), "seconds": Unit(base: "seconds"),
        "volts": Unit(base: "volts"),
        "minutes": Unit(base: "seconds", scale: 60), "hours": Unit(base: "seconds", scale: 3600),
        "days": Unit(base: "seconds", scale: 86400), "weeks": Unit(base: "seconds", scale: 604_800),
        "kelvins": Unit(base: "kelvin"),
        "fahrenheit": Unit(base: "celsius", scale: 5.0 / 9, offset: -32 * 5.0 / 9),
        "rankine": Unit(base: "celsius", scale: 5.0 / 9, offset: -491.67 * 5.0 / 9),
        "inches": Unit(base: "meters", scale: 0.0254), "yards": Unit(base: "meters", scale: 0.9144),
        "miles": Unit(base: "meters", scale: 1609.344),
        "bits": Unit(base: "bytes", scale: 0.125),
        "calories": Unit(base: "joules", scale: 4.184),
        "pounds": Unit(base: "grams", scale: 453.592_37), "ounces": Unit(base: "grams", scale: 28.349_523_125)
    ]

    private static let prefixes: [(String, Double)] = [
        ("pico", 1e-12), ("nano", 1e-9), ("micro", 1e-6), ("milli", 1e-3), ("centi", 1e-2), ("deci", 1e-1),
        ("deca", 1e1), ("hecto", 1e2), ("kilo", 1e3), ("kila", 1e3), ("mega", 1e6), ("giga", 1e9),
        ("tera", 1e12), ("peta", 1e15), ("exa", 1e18), ("zetta", 1e21), ("yotta", 1e24)
    ]
}
