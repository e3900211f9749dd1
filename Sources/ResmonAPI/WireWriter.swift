/// The JSON of the types the API writes by the hundred thousand (a bulk create's stored specs
/// and its answer, a monitor list), written by hand: the same bytes as `WireJSON.encoder()`
/// gives (keys sorted by their UTF-8 bytes, `/` unescaped, a number as Swift's `description`
/// without a trailing `.0`, the same escapes), at a fraction of the cost — through
/// JSONEncoder, a 5,000-monitor create spent 45 µs a monitor encoding (issue 17).
/// WireWriterTests compares the two on every field. Like JSONEncoder, it refuses a number that
/// is not finite.
public struct WireWriter {
    public fileprivate(set) var bytes: [UInt8] = []

    public init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    /// A number JSON cannot carry (NaN, ±infinity), with the field it was in.
    public struct NonFiniteNumber: Error, CustomStringConvertible {
        public let field: String
        public var description: String { "\(field): a number that is not finite cannot be written in JSON" }
    }

    // MARK: - Values

    public mutating func string(_ text: String) {
        bytes.append(0x22)
        // Most strings need no escape: appended whole.
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x22 && $0 != 0x5c }) {
            bytes.append(contentsOf: text.utf8)
        } else {
            for byte in text.utf8 { escape(byte) }
        }
        bytes.append(0x22)
    }

    private mutating func escape(_ byte: UInt8) {
        switch byte {
        case 0x22: bytes.append(0x5c); bytes.append(0x22)
        case 0x5c: bytes.append(0x5c); bytes.append(0x5c)
        case 0x08: bytes.append(0x5c); bytes.append(UInt8(ascii: "b"))
        case 0x0c: bytes.append(0x5c); bytes.append(UInt8(ascii: "f"))
        case 0x0a: bytes.append(0x5c); bytes.append(UInt8(ascii: "n"))
        case 0x0d: bytes.append(0x5c); bytes.append(UInt8(ascii: "r"))
        case 0x09: bytes.append(0x5c); bytes.append(UInt8(ascii: "t"))
        case 0..<0x20:
            bytes.append(contentsOf: [0x5c, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
            bytes.append(WireWriter.hex[Int(byte >> 4)])
            bytes.append(WireWriter.hex[Int(byte & 0x0f)])
        default: bytes.append(byte)
        }
    }

    private static let hex = Array("0123456789abcdef".utf8)

    public mutating func number(_ value: Double, field: String) throws(NonFiniteNumber) {
        guard value.isFinite else { throw NonFiniteNumber(field: field) }
        let text = value.description
        let utf8 = text.utf8
        if utf8.count > 2, text.hasSuffix(".0") {
            bytes.append(contentsOf: utf8.dropLast(2))
        } else {
            bytes.append(contentsOf: utf8)
        }
    }

    public mutating func integer(_ value: Int) { bytes.append(contentsOf: String(value).utf8) }

    public mutating func bool(_ value: Bool) { bytes.append(contentsOf: value ? WireWriter.trueText : WireWriter.falseText) }

    private static let trueText = Array("true".utf8)
    private static let falseText = Array("false".utf8)

    /// Bytes that are JSON already (a value written by another `WireWriter`).
    public mutating func raw(_ json: [UInt8]) { bytes.append(contentsOf: json) }

    /// An object of strings, its keys in the order JSONEncoder sorts them (by UTF-8 bytes).
    public mutating func object(_ map: [String: String]) {
        bytes.append(UInt8(ascii: "{"))
        var first = true
        for (key, value) in map.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            string(key)
            bytes.append(UInt8(ascii: ":"))
            string(value)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    // MARK: - Objects

    /// Writes an object: `body` writes its members in the order JSONEncoder sorts their keys; a
    /// member whose value is nil is left out, as JSONEncoder leaves it out.
    public mutating func object(_ body: (inout Members) throws(NonFiniteNumber) -> Void) throws(NonFiniteNumber) {
        bytes.append(UInt8(ascii: "{"))
        // The bytes move to the members and back (swapped, never copied: a copy held while
        // appending made each nested object copy the whole answer).
        var members = Members(writer: WireWriter())
        swap(&members.writer.bytes, &bytes)
        defer {
            swap(&members.writer.bytes, &bytes)
            bytes.append(UInt8(ascii: "}"))
        }
        try body(&members)
    }

    /// The members of one object being written: each call writes `"key":value`, with the comma
    /// before all but the first.
    public struct Members {
        var writer: WireWriter
        var first = true

        mutating func key(_ name: StaticString) {
            if !first { writer.bytes.append(UInt8(ascii: ",")) }
            first = false
            writer.bytes.append(0x22)
            name.withUTF8Buffer { writer.bytes.append(contentsOf: $0) }  // field names are plain ASCII
            writer.bytes.append(0x22)
            writer.bytes.append(UInt8(ascii: ":"))
        }

        public mutating func string(_ name: StaticString, _ value: String?) {
            guard let value else { return }
            key(name)
            writer.string(value)
        }

        public mutating func number(_ name: StaticString, _ value: Double?) throws(NonFiniteNumber) {
            guard let value else { return }
            key(name)
            try writer.number(value, field: "\(name)")
        }

        public mutating func integer(_ name: StaticString, _ value: Int?) {
            guard let value else { return }
            key(name)
            writer.integer(value)
        }

        public mutating func bool(_ name: StaticString, _ value: Bool?) {
            guard let value else { return }
            key(name)
            writer.bool(value)
        }

        public mutating func object(_ name: StaticString, _ value: [String: String]?) {
            guard let value else { return }
            key(name)
            writer.object(value)
        }

        public mutating func raw(_ name: StaticString, _ json: [UInt8]) {
            key(name)
            writer.raw(json)
        }

        /// A nested value written by `body`.
        public mutating func value(_ name: StaticString, _ body: (inout WireWriter) throws(NonFiniteNumber) -> Void) throws(NonFiniteNumber) {
            key(name)
            try body(&writer)
        }
    }
}

// MARK: - The API's types

extension MonitorSpec {
    /// The spec as `WireJSON.encoder()` encodes it.
    public func write(to writer: inout WireWriter) throws(WireWriter.NonFiniteNumber) {
        try writer.object { (members: inout WireWriter.Members) throws(WireWriter.NonFiniteNumber) in
            members.object("annotations", annotations)
            try members.number("bucketSize", bucketSize)
            members.integer("cancelSamples", cancelSamples)
            members.string("cancelSeverity", cancelSeverity?.rawValue)
            try members.number("cancelValue", cancelValue)
            members.string("condition", condition?.rawValue)
            members.bool("dataCapture", dataCapture)
            members.bool("events", events)
            try members.number("fillValue", fillValue)
            members.string("id", id)
            members.object("labels", labels)
            try members.number("loggingRate", loggingRate)
            members.string("mark", mark)
            members.integer("microMonitoringRate", microMonitoringRate)
            try members.number("monitoringInterval", monitoringInterval)
            try members.number("monitoringRate", monitoringRate)
            members.string("name", name)
            if let precondition {
                try members.value("precondition") { (writer: inout WireWriter) throws(WireWriter.NonFiniteNumber) in
                    try writer.object { members in
                        members.bool("armed", precondition.armed)
                        members.string("monitor", precondition.monitor)
                        members.bool("raised", precondition.raised)
                    }
                }
            }
            members.integer("samples", samples)
            members.string("severity", severity?.rawValue)
            members.string("source", source)
            try members.number("staleAfter", staleAfter)
            members.bool("start", start)
            switch target {
            case .key(let key): members.string("target", key)
            case .selection(let selection):
                try members.value("target") { (writer: inout WireWriter) throws(WireWriter.NonFiniteNumber) in
                    try writer.object { members in
                        members.string("aggregate", selection.aggregate)
                        members.bool("each", selection.each)
                        members.string("select", selection.select)
                        members.object("where", selection.where)
                    }
                }
            }
            members.string("template", template)
            try members.number("tolerance", tolerance)
            members.string("transform", transform?.rawValue)
            members.string("type", type?.rawValue)
            try members.number("value", value)
        }
    }

    /// The spec's JSON bytes, as `WireJSON.encoder().encode(spec)` gives them.
    public func wireJSON() throws(WireWriter.NonFiniteNumber) -> [UInt8] {
        var writer = WireWriter(capacity: 512)
        try write(to: &writer)
        return writer.bytes
    }
}

extension MonitorStateInfo {
    public func write(to writer: inout WireWriter) throws(WireWriter.NonFiniteNumber) {
        try writer.object { (members: inout WireWriter.Members) throws(WireWriter.NonFiniteNumber) in
            members.integer("count", count)
            try members.number("lastEvaluated", lastEvaluated)
            try members.number("lastEventTime", lastEventTime)
            try members.number("lastValue", lastValue)
            try members.number("level", level)
            members.integer("members", self.members)
            members.bool("notified", notified)
            members.bool("paused", paused)
            members.string("phase", phase)
            try members.number("raisedAt", raisedAt)
            members.bool("running", running)
            members.string("warning", warning)
            try members.number("watermark", watermark)
            try members.number("watermarkTime", watermarkTime)
        }
    }
}

extension MonitorInfo {
    /// The monitor as `WireJSON.encoder()` encodes it; `spec`: its spec's bytes when the caller
    /// has them already (`MonitorSpec.wireJSON()`).
    public func write(to writer: inout WireWriter, spec specJSON: [UInt8]? = nil) throws(WireWriter.NonFiniteNumber) {
        try writer.object { (members: inout WireWriter.Members) throws(WireWriter.NonFiniteNumber) in
            try members.number("createdAt", createdAt)
            members.string("id", id)
            members.integer("owner", owner)
            if let specJSON {
                members.raw("spec", specJSON)
            } else {
                try members.value("spec") { (writer: inout WireWriter) throws(WireWriter.NonFiniteNumber) in try spec.write(to: &writer) }
            }
            try members.value("state") { (writer: inout WireWriter) throws(WireWriter.NonFiniteNumber) in try state.write(to: &writer) }
        }
    }
}

extension MonitorList {
    /// `{"monitors":[…]}` as `WireJSON.encoder()` encodes it.
    public func wireJSON() throws(WireWriter.NonFiniteNumber) -> [UInt8] {
        var writer = WireWriter(capacity: 64 + monitors.count * 640)
        try writer.object { (members: inout WireWriter.Members) throws(WireWriter.NonFiniteNumber) in
            try members.value("monitors") { (writer: inout WireWriter) throws(WireWriter.NonFiniteNumber) in
                writer.bytes.append(UInt8(ascii: "["))
                for (position, monitor) in monitors.enumerated() {
                    if position > 0 { writer.bytes.append(UInt8(ascii: ",")) }
                    try monitor.write(to: &writer)
                }
                writer.bytes.append(UInt8(ascii: "]"))
            }
        }
        return writer.bytes
    }
}

extension StatisticInfo {
    /// The statistic as `WireJSON.encoder()` encodes it, or only its `fields` (a dashboard lists
    /// its statistics every step: JSONEncoder was two thirds of a listing's cost, and what a chart
    /// needs, `key,time,value`, is about a quarter of the bytes).
    public func write(to writer: inout WireWriter, fields: StatisticFields = .all) throws(WireWriter.NonFiniteNumber) {
        try writer.object { (members: inout WireWriter.Members) throws(WireWriter.NonFiniteNumber) in
            if fields.contains(.help) { members.string("help", help) }
            if fields.contains(.increase) { try members.number("increase", increase) }
            if fields.contains(.key) { members.string("key", key) }
            if fields.contains(.kind) { members.string("kind", kind) }
            if fields.contains(.labels) { members.object("labels", labels) }
            if fields.contains(.resolution) { try members.number("resolution", resolution) }
            if fields.contains(.resource) { members.string("resource", resource) }
            if fields.contains(.statistic) { members.string("statistic", statistic) }
            if fields.contains(.subsystem) { members.string("subsystem", subsystem) }
            if fields.contains(.time) { try members.number("time", time) }
            if fields.contains(.total) { try members.number("total", total) }
            if fields.contains(.unit) { members.string("unit", unit) }
            if fields.contains(.upperBound) { try members.number("upperBound", upperBound) }
            if fields.contains(.value) { try members.number("value", value) }
        }
    }
}

/// Which members of a statistic `GET /v1/statistics?fields=` writes (docs/API.md).
public struct StatisticFields: OptionSet, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let key = StatisticFields(rawValue: 1 << 0)
    public static let subsystem = StatisticFields(rawValue: 1 << 1)
    public static let resource = StatisticFields(rawValue: 1 << 2)
    public static let statistic = StatisticFields(rawValue: 1 << 3)
    public static let kind = StatisticFields(rawValue: 1 << 4)
    public static let unit = StatisticFields(rawValue: 1 << 5)
    public static let resolution = StatisticFields(rawValue: 1 << 6)
    public static let upperBound = StatisticFields(rawValue: 1 << 7)
    public static let labels = StatisticFields(rawValue: 1 << 8)
    public static let help = StatisticFields(rawValue: 1 << 9)
    public static let value = StatisticFields(rawValue: 1 << 10)
    public static let total = StatisticFields(rawValue: 1 << 11)
    public static let increase = StatisticFields(rawValue: 1 << 12)
    public static let time = StatisticFields(rawValue: 1 << 13)
    public static let all = StatisticFields(rawValue: (1 << 14) - 1)

    /// Every member by its name in the JSON, in the order docs/API.md lists them.
    public static let named: [(name: String, field: StatisticFields)] = [
        ("key", .key), ("subsystem", .subsystem), ("resource", .resource), ("statistic", .statistic),
        ("kind", .kind), ("unit", .unit), ("resolution", .resolution), ("upperBound", .upperBound),
        ("labels", .labels), ("help", .help), ("value", .value), ("total", .total),
        ("increase", .increase), ("time", .time)
    ]

    /// `key,time,value`: the members named, comma-separated (the key is always written, so a
    /// reader can tell the statistics apart), or the first name that is not a member.
    public static func parse(_ text: String) -> Result<StatisticFields, UnknownField> {
        var fields: StatisticFields = .key
        for name in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let field = named.first(where: { $0.name == name })?.field else {
                return .failure(UnknownField(name: String(name)))
            }
            fields.insert(field)
        }
        return .success(fields)
    }

    public struct UnknownField: Error, CustomStringConvertible {
        public let name: String
        public var description: String {
            "fields: \"\(name.prefix(64))\" is not a member of a statistic; expected a comma-separated list of "
                + StatisticFields.named.map(\.name).joined(separator: ", ")
        }
    }
}

extension StatisticList {
    /// `{"statistics": [...]}` as `WireJSON.encoder()` encodes it, each statistic with only its `fields`.
    public func wireJSON(fields: StatisticFields = .all) throws(WireWriter.NonFiniteNumber) -> [UInt8] {
        var writer = WireWriter(capacity: 64 + statistics.count * (fields == .all ? 320 : 96))
        try writer.object { (members: inout WireWriter.Members) throws(WireWriter.NonFiniteNumber) in
            try members.value("statistics") { (list: inout WireWriter) throws(WireWriter.NonFiniteNumber) in
                list.bytes.append(UInt8(ascii: "["))
                for (index, statistic) in statistics.enumerated() {
                    if index > 0 { list.bytes.append(UInt8(ascii: ",")) }
                    try statistic.write(to: &list, fields: fields)
                }
                list.bytes.append(UInt8(ascii: "]"))
            }
        }
        return writer.bytes
    }
}
