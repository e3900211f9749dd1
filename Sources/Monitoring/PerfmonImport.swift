import ResmonAPI
import Statistics

/// A perfmon configuration (XenServer's `other-config:perfmon`) turned into resmon monitors:
/// `<config><variable><name value="cpu_usage"/><alarm_trigger_level value="0.5"/></variable></config>`.
/// Each variable maps to a monitor on the host or on a cgroup (perfmon's VMs), with perfmon's
/// defaults per variable (docs/MONITORS.md). Unlike perfmon, raised alarms are also cleared.
public enum PerfmonImport {
    public enum Object: Sendable, Equatable {
        case host
        case cgroup(String)

        /// `host` or `cgroup:/path`.
        public init?(parsing text: String) {
            if text == "host" { self = .host; return }
            guard text.hasPrefix("cgroup:/"), !text.contains(where: \.isNewline) else { return nil }
            self = .cgroup(String(text.dropFirst("cgroup:".count)))
        }
    }

    public struct ImportError: Error, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
        init(_ message: String) { self.message = message }
    }

    static let tags: Set<String> = ["name", "alarm_trigger_level", "alarm_trigger_period", "alarm_auto_inhibit_period",
                                    "alarm_trigger_sense", "alarm_priority", "consolidation_fn", "rrd_regex"]

    /// The monitors a perfmon document asks for. `step` is resmond's base step (readings per
    /// trigger period); `table` tells whether /var/log is a file system of its own.
    public static func specs(xml: [UInt8], object: Object, step: Double, table: SampleTable) throws(ImportError) -> [MonitorSpec] {
        let root: XMLElement
        do {
            root = try XMLElement.parse(xml)
        } catch {
            throw ImportError("perfmon XML: \(error.description)")
        }
        guard root.name == "config" else { throw ImportError("perfmon XML: the root element is <\(root.name)>, expected <config>") }
        var specs: [MonitorSpec] = []
        var names = Set<String>()
        for variable in root.children where variable.name == "variable" {
            var values: [String: String] = [:]
            for child in variable.children where tags.contains(child.name) {
                guard let value = child.attributes["value"] else {
                    throw ImportError("perfmon XML: <\(child.name)> needs a value attribute")
                }
                values[child.name] = value
            }
            guard let name = values["name"], !name.isEmpty else { throw ImportError("perfmon XML: a <variable> has no <name value=\"…\"/>") }
            guard names.insert(name).inserted else { throw ImportError("variable \(name): given twice") }
            if let spec = try spec(name: name, values: values, object: object, step: step, table: table) { specs.append(spec) }
        }
        guard !specs.isEmpty else { throw ImportError("perfmon XML: no <variable> that resmon can monitor here") }
        return specs
    }

    private static func spec(name: String, values: [String: String], object: Object, step: Double,
                             table: SampleTable) throws(ImportError) -> MonitorSpec? {
        func number(_ tag: String, _ fallback: Double?) throws(ImportError) -> Double {
            guard let text = values[tag] else {
                guard let fallback else { throw ImportError("variable \(name): \(tag) has no default; give one") }
                return fallback
            }
            guard let value = Double(text), value.isFinite else { throw ImportError("variable \(name): \(tag) \"\(text)\" is not a number") }
            return value
        }
        let scope: String
        switch object {
        case .host: scope = "host"
        case .cgroup(let path): scope = "cgroup" + path.map { $0.isLetter || $0.isNumber ? $0 : "_" }.reduce("") { $0 + String($1) }
        }
        var target: MonitorTarget
        var level: Double?
        var sense = "high"
        var inhibit = 3600.0
        var transform: String?
        var scale = 1.0
        var consolidation = values["consolidation_fn"]
        switch (name, object) {
        case ("cpu_usage", .host):
            target = .selection(MonitorSelection(select: "^cpu:cpu[0-9]+:usage_ratio$", aggregate: consolidation ?? "average"))
            consolidation = nil
        case ("cpu_usage", .cgroup(let path)):
            target = .key("cgroup:\(path):cpu_ratio")
        case ("network_usage", .host):
            target = .selection(MonitorSelection(select: "^net:[^:]+:(receive|transmit)_bytes_total$", where: ["physical": "^true$"],
                                                 aggregate: consolidation ?? "sum"))
            consolidation = nil
        case ("disk_usage", .host):
            target = .selection(MonitorSelection(select: "^disk:[^:]+:(read|written)_bytes_total$", aggregate: consolidation ?? "sum"))
            consolidation = nil
        case ("disk_usage", .cgroup(let path)):
            target = .selection(MonitorSelection(select: "^cgroup:\(escape(path)):(read|written)_bytes_total$", aggregate: consolidation ?? "sum"))
            consolidation = nil
        case ("fs_usage", .host):
            target = .key("fs:/:used_ratio")
            level = 0.9
            inhibit = 604_800
        case ("log_fs_usage", .host):
            // Only when /var/log is a file system of its own.
            guard table.sample(forKey: "fs:/var/log:used_ratio") != nil else { return nil }
            target = .key("fs:/var/log:used_ratio")
            level = 0.9
            inhibit = 604_800
        case ("mem_usage", .host):
            target = .key("memory:host:used_ratio")
            level = 0.95
        case ("mem_usage", .cgroup(let path)):
            target = .key("cgroup:\(path):memory_bytes")
            transform = "percent"
            scale = 100
            level = 0.95
        case ("memory_free_kib", .host):
            target = .key("memory:host:available_bytes")
            sense = "low"
            scale = 1024
        default:
            guard let regex = values["rrd_regex"] else {
                throw ImportError("variable \(name): resmon has no equivalent for \(object == .host ? "the host" : "a cgroup") (known: cpu_usage, network_usage, disk_usage, fs_usage, log_fs_usage, mem_usage, memory_free_kib); give an rrd_regex over resmon statistic keys")
            }
            // An rrd_regex over resmon's own keys, consolidated as perfmon does.
            target = .selection(MonitorSelection(select: regex, aggregate: consolidation ?? "sum"))
            consolidation = nil
        }
        if let consolidation {
            throw ImportError("variable \(name): consolidation_fn \(consolidation) applies to variables over several statistics")
        }
        if case .selection(let selection) = target, !["average", "sum"].contains(selection.aggregate ?? "") {
            throw ImportError("variable \(name): consolidation_fn \(selection.aggregate ?? "") is not supported (average or sum)")
        }
        let trigger = try number("alarm_trigger_level", level)
        let period = try number("alarm_trigger_period", 60)
        inhibit = try number("alarm_auto_inhibit_period", inhibit)
        sense = values["alarm_trigger_sense"] ?? sense
        guard sense == "high" || sense == "low" else { throw ImportError("variable \(name): alarm_trigger_sense is high or low, not \"\(sense)\"") }
        guard period >= 0, inhibit >= 0 else { throw ImportError("variable \(name): periods are not negative") }
        let priority = values["alarm_priority"] ?? "5"
        let severities = ["1": "crit", "2": "err", "3": "warning", "4": "notice", "5": "info"]
        guard let severity = severities[priority] else { throw ImportError("variable \(name): alarm_priority is 1 to 5, not \"\(priority)\"") }

        var spec = MonitorSpec(target: target, condition: sense == "high" ? "above" : "below", value: trigger * scale)
        spec.id = "perfmon.\(scope).\(name.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" }.reduce("") { $0 + String($1) })"
        if spec.id!.utf8.count > 64 { spec.id = String(spec.id!.prefix(64)) }
        spec.name = "perfmon \(name)" + (object == .host ? "" : " of \(scope)")
        spec.transform = transform
        spec.samples = max(1, Int((period / step).rounded(.up)))
        spec.loggingRate = inhibit
        spec.severity = severity
        spec.labels = ["perfmon_variable": name]
        return spec
    }

    private static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if "\\^$.|?*+()[]{}".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}

/// A small XML reader for perfmon's documents: elements, attributes, comments, the XML
/// declaration and the five predefined entities and character references — and nothing that
/// could read a file or blow up: a DOCTYPE (and so any entity definition), processing
/// instructions other than the declaration, depth over 16, more than 10,000 elements or a
/// document over 1 MiB are refused.
struct XMLElement: Sendable {
    var name: String
    var attributes: [String: String] = [:]
    var children: [XMLElement] = []

    struct ParseError: Error, CustomStringConvertible {
        let offset: Int
        let message: String
        var description: String { "at byte \(offset + 1): \(message)" }
    }

    static func parse(_ bytes: [UInt8]) throws(ParseError) -> XMLElement {
        guard bytes.count <= 1 << 20 else { throw ParseError(offset: 0, message: "the document is larger than 1 MiB") }
        var parser = Parser(bytes: bytes)
        return try parser.document()
    }

    private struct Parser {
        let bytes: [UInt8]
        var position = 0
        var elements = 0

        init(bytes: [UInt8]) {
            // A UTF-8 byte order mark is allowed.
            self.bytes = bytes
            if bytes.starts(with: [0xef, 0xbb, 0xbf]) { position = 3 }
        }

        func fail(_ message: String) -> ParseError { ParseError(offset: position, message: message) }

        func starts(_ text: String) -> Bool {
            let pattern = Array(text.utf8)
            return position + pattern.count <= bytes.count && bytes[position..<(position + pattern.count)].elementsEqual(pattern)
        }

        mutating func skipSpace() {
            while position < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[position]) { position += 1 }
        }

        /// Comments, the declaration and white space between elements.
        mutating func skipMisc() throws(ParseError) {
            while true {
                skipSpace()
                if starts("<!--") {
                    guard let end = find("-->", from: position + 4) else { throw fail("a comment is not closed") }
                    position = end + 3
                } else if starts("<?xml") {
                    guard let end = find("?>", from: position) else { throw fail("the XML declaration is not closed") }
                    position = end + 2
                } else if starts("<!DOCTYPE") || starts("<!ENTITY") || starts("<!doctype") {
                    throw fail("DTDs and entity declarations are not accepted")
                } else if starts("<?") {
                    throw fail("processing instructions are not accepted")
                } else {
                    return
                }
            }
        }

        func find(_ text: String, from start: Int) -> Int? {
            let pattern = Array(text.utf8)
            var index = start
            while index + pattern.count <= bytes.count {
                if bytes[index..<(index + pattern.count)].elementsEqual(pattern) { return index }
                index += 1
            }
            return nil
        }

        mutating func document() throws(ParseError) -> XMLElement {
            try skipMisc()
            let root = try element(depth: 0)
            try skipMisc()
            guard position == bytes.count else { throw fail("content after the root element") }
            return root
        }

        mutating func name() throws(ParseError) -> String {
            let start = position
            while position < bytes.count {
                let byte = bytes[position]
                let ok = (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x30 && byte <= 0x39)
                    || byte == 0x5f || byte == 0x2d || byte == 0x2e || byte == 0x3a
                if !ok { break }
                position += 1
            }
            guard position > start, position - start <= 256 else { throw fail("expected a name") }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }

        mutating func element(depth: Int) throws(ParseError) -> XMLElement {
            guard depth < 16 else { throw fail("elements nest deeper than 16") }
            elements += 1
            guard elements <= 10_000 else { throw fail("more than 10,000 elements") }
            guard position < bytes.count, bytes[position] == 0x3c else { throw fail("expected <") }
            position += 1
            var element = XMLElement(name: try name())
            while true {
                skipSpace()
                guard position < bytes.count else { throw fail("the document ends inside <\(element.name)>") }
                if starts("/>") {
                    position += 2
                    return element
                }
                if bytes[position] == 0x3e {
                    position += 1
                    break
                }
                let attribute = try name()
                skipSpace()
                guard position < bytes.count, bytes[position] == 0x3d else { throw fail("expected = after \(attribute)") }
                position += 1
                skipSpace()
                guard position < bytes.count, bytes[position] == 0x22 || bytes[position] == 0x27 else { throw fail("expected a quoted value") }
                let quote = bytes[position]
                position += 1
                let start = position
                while position < bytes.count && bytes[position] != quote {
                    if bytes[position] == 0x3c { throw fail("< inside an attribute value") }
                    position += 1
                }
                guard position < bytes.count else { throw fail("an attribute value is not closed") }
                let value = try decode(bytes[start..<position], at: start)
                position += 1
                guard element.attributes[attribute] == nil else { throw fail("attribute \(attribute) given twice") }
                element.attributes[attribute] = value
            }
            // Content: child elements, text (ignored), comments, CDATA (ignored).
            while true {
                guard position < bytes.count else { throw fail("<\(element.name)> is not closed") }
                if starts("</") {
                    position += 2
                    let closing = try name()
                    guard closing == element.name else { throw fail("</\(closing)> closes <\(element.name)>") }
                    skipSpace()
                    guard position < bytes.count, bytes[position] == 0x3e else { throw fail("expected >") }
                    position += 1
                    return element
                } else if starts("<!--") {
                    guard let end = find("-->", from: position + 4) else { throw fail("a comment is not closed") }
                    position = end + 3
                } else if starts("<![CDATA[") {
                    guard let end = find("]]>", from: position) else { throw fail("a CDATA section is not closed") }
                    position = end + 3
                } else if starts("<!") || starts("<?") {
                    throw fail("declarations and processing instructions are not accepted inside elements")
                } else if bytes[position] == 0x3c {
                    element.children.append(try self.element(depth: depth + 1))
                } else {
                    let start = position
                    while position < bytes.count && bytes[position] != 0x3c { position += 1 }
                    _ = try decode(bytes[start..<position], at: start) // checks the references
                }
            }
        }

        /// Text with the predefined entities and character references resolved; any other
        /// entity is an error (there are no DTDs to define one).
        func decode(_ slice: ArraySlice<UInt8>, at offset: Int) throws(ParseError) -> String {
            guard slice.contains(0x26) else { return String(decoding: slice, as: UTF8.self) }
            var result: [UInt8] = []
            var index = slice.startIndex
            while index < slice.endIndex {
                guard slice[index] == 0x26 else {
                    result.append(slice[index])
                    index += 1
                    continue
                }
                guard let end = slice[index...].firstIndex(of: 0x3b), end - index <= 12 else {
                    throw ParseError(offset: index, message: "& must start a reference like &amp;")
                }
                let reference = String(decoding: slice[(index + 1)..<end], as: UTF8.self)
                switch reference {
                case "amp": result.append(0x26)
                case "lt": result.append(0x3c)
                case "gt": result.append(0x3e)
                case "quot": result.append(0x22)
                case "apos": result.append(0x27)
                default:
                    let scalar: UInt32?
                    if reference.hasPrefix("#x") { scalar = UInt32(reference.dropFirst(2), radix: 16) }
                    else if reference.hasPrefix("#") { scalar = UInt32(reference.dropFirst()) }
                    else { throw ParseError(offset: index, message: "unknown entity &\(reference); (only the five predefined ones)") }
                    guard let scalar, scalar > 0, let character = Unicode.Scalar(scalar) else {
                        throw ParseError(offset: index, message: "bad character reference &\(reference);")
                    }
                    result += Array(String(character).utf8)
                }
                index = end + 1
            }
            return String(decoding: result, as: UTF8.self)
        }
    }
}
