/// Reads `POST /v1/monitors` bodies without JSONDecoder, which cost 9 µs a monitor of a bulk
/// create (issue 17). It reads only what it is sure JSONDecoder reads the same way: strings
/// (escapes included, but for surrogates' `\u`), whole numbers for the integer fields, finite
/// numbers, the spec's own fields. Anything else — an escaped surrogate, an unknown field, a wrong type, a null where a value is
/// needed — makes it give up (nil), and the caller decodes with JSONDecoder, whose answer (the
/// specs, or the error and its message) is then the one given. SpecReaderTests checks that
/// what it reads equals what JSONDecoder reads. The body must have passed
/// `StrictJSON.validate` first.
public struct SpecReader {
    private let bytes: [UInt8]
    private var index = 0

    private init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The specs of a body that is one spec (`single`) or an array of them; nil: read it with
    /// JSONDecoder.
    public static func specs(_ body: [UInt8]) -> (specs: [MonitorSpec], single: Bool)? {
        var reader = SpecReader(body)
        reader.skipSpace()
        guard reader.index < body.count else { return nil }
        if body[reader.index] == UInt8(ascii: "[") {
            reader.index += 1
            var specs: [MonitorSpec] = []
            reader.skipSpace()
            if reader.take(UInt8(ascii: "]")) { return reader.atEnd ? (specs, false) : nil }
            repeat {
                guard let spec = reader.spec() else { return nil }
                specs.append(spec)
            } while reader.take(UInt8(ascii: ","))
            guard reader.take(UInt8(ascii: "]")), reader.atEnd else { return nil }
            return (specs, false)
        }
        guard let spec = reader.spec(), reader.atEnd else { return nil }
        return ([spec], true)
    }

    // MARK: - The spec's types

    private mutating func spec() -> MonitorSpec? {
        var spec = MonitorSpec(target: "", condition: "", value: 0)
        spec.condition = nil
        spec.value = nil
        var target: MonitorTarget?
        let read = object { reader, key in
            switch key {
            case "id": return reader.optional(&spec.id) { $0.string() }
            case "name": return reader.optional(&spec.name) { $0.string() }
            case "target":
                if reader.peek == UInt8(ascii: "\"") {
                    guard let key = reader.string() else { return false }
                    target = .key(key)
                    return true
                }
                guard let selection = reader.selection() else { return false }
                target = .selection(selection)
                return true
            case "template": return reader.optional(&spec.template) { $0.string() }
            case "source": return reader.optional(&spec.source) { $0.string() }
            case "transform": return reader.optional(&spec.transform) { $0.string().map(Transform.init(rawValue:)) }
            case "type": return reader.optional(&spec.type) { $0.string().map(MonitorType.init(rawValue:)) }
            case "condition": return reader.optional(&spec.condition) { $0.string().map(Condition.init(rawValue:)) }
            case "value": return reader.optional(&spec.value) { $0.double() }
            case "mark": return reader.optional(&spec.mark) { $0.string() }
            case "events": return reader.optional(&spec.events) { $0.bool() }
            case "bucketSize": return reader.optional(&spec.bucketSize) { $0.double() }
            case "fillValue": return reader.optional(&spec.fillValue) { $0.double() }
            case "tolerance": return reader.optional(&spec.tolerance) { $0.double() }
            case "precondition": return reader.optional(&spec.precondition) { $0.precondition() }
            case "staleAfter": return reader.optional(&spec.staleAfter) { $0.double() }
            case "samples": return reader.optional(&spec.samples) { $0.integer() }
            case "cancelValue": return reader.optional(&spec.cancelValue) { $0.double() }
            case "cancelSamples": return reader.optional(&spec.cancelSamples) { $0.integer() }
            case "severity": return reader.optional(&spec.severity) { $0.string().map(Severity.init(rawValue:)) }
            case "cancelSeverity": return reader.optional(&spec.cancelSeverity) { $0.string().map(Severity.init(rawValue:)) }
            case "loggingRate": return reader.optional(&spec.loggingRate) { $0.double() }
            case "monitoringRate": return reader.optional(&spec.monitoringRate) { $0.double() }
            case "microMonitoringRate": return reader.optional(&spec.microMonitoringRate) { $0.integer() }
            case "monitoringInterval": return reader.optional(&spec.monitoringInterval) { $0.double() }
            case "dataCapture": return reader.optional(&spec.dataCapture) { $0.bool() }
            case "labels": return reader.optional(&spec.labels) { $0.stringMap() }
            case "annotations": return reader.optional(&spec.annotations) { $0.stringMap() }
            case "start": return reader.optional(&spec.start) { $0.bool() }
            default: return false
            }
        }
        guard read, let target else { return nil }
        spec.target = target
        return spec
    }

    private mutating func selection() -> MonitorSelection? {
        var select: String?
        var conditions: [String: String]?
        var aggregate: String?
        var each: Bool?
        let read = object { reader, key in
            switch key {
            case "select":
                select = reader.string()
                return select != nil
            case "where": return reader.optional(&conditions) { $0.stringMap() }
            case "aggregate": return reader.optional(&aggregate) { $0.string() }
            case "each": return reader.optional(&each) { $0.bool() }
            default: return false
            }
        }
        guard read, let select else { return nil }
        return MonitorSelection(select: select, where: conditions, aggregate: aggregate, each: each)
    }

    private mutating func precondition() -> MonitorPrecondition? {
        if peek == UInt8(ascii: "\"") {
            guard string() == "armed" else { return nil }
            return MonitorPrecondition(armed: true)
        }
        var precondition = MonitorPrecondition()
        let read = object { reader, key in
            switch key {
            case "armed": return reader.optional(&precondition.armed) { $0.bool() }
            case "monitor": return reader.optional(&precondition.monitor) { $0.string() }
            case "raised": return reader.optional(&precondition.raised) { $0.bool() }
            default: return false
            }
        }
        return read ? precondition : nil
    }

    private mutating func stringMap() -> [String: String]? {
        var map: [String: String] = [:]
        let read = object { reader, key in
            guard let value = reader.string() else { return false }
            map[key] = value
            return true
        }
        return read ? map : nil
    }

    // MARK: - JSON

    private var atEnd: Bool {
        mutating get {
            skipSpace()
            return index == bytes.count
        }
    }

    private var peek: UInt8? {
        mutating get {
            skipSpace()
            return index < bytes.count ? bytes[index] : nil
        }
    }

    private mutating func skipSpace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0a || bytes[index] == 0x09 || bytes[index] == 0x0d { index += 1 }
    }

    private mutating func take(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        index += 1
        return true
    }

    /// A member that may be absent or null (nil either way, as `decodeIfPresent` gives).
    private mutating func optional<Value>(_ field: inout Value?, _ read: (inout SpecReader) -> Value?) -> Bool {
        if peek == UInt8(ascii: "n") {
            guard take(literal: SpecReader.null) else { return false }
            field = nil
            return true
        }
        guard let value = read(&self) else { return false }
        field = value
        return true
    }

    /// An object's members, each handed to `member` with its key; false when one is refused.
    private mutating func object(_ member: (inout SpecReader, String) -> Bool) -> Bool {
        guard take(UInt8(ascii: "{")) else { return false }
        if take(UInt8(ascii: "}")) { return true }
        repeat {
            guard let key = string(), take(UInt8(ascii: ":")), member(&self, key) else { return false }
        } while take(UInt8(ascii: ","))
        return take(UInt8(ascii: "}"))
    }

    /// A string (nil when it is not one, or has an escape of a surrogate, which JSONDecoder reads).
    private mutating func string() -> String? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") { break }
            if byte == UInt8(ascii: "\\") { return escapedString(from: start) }
            if byte < 0x20 { return nil }
            index += 1
        }
        guard index < bytes.count else { return nil }
        let text = String(validating: bytes[start..<index], as: UTF8.self)
        index += 1
        return text
    }

    /// The rest of a string from its first escape (`index`), its bytes from `start`.
    private mutating func escapedString(from start: Int) -> String? {
        var text = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(validating: text, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { return nil }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): text.append(escaped)
                case UInt8(ascii: "b"): text.append(0x08)
                case UInt8(ascii: "f"): text.append(0x0c)
                case UInt8(ascii: "n"): text.append(0x0a)
                case UInt8(ascii: "r"): text.append(0x0d)
                case UInt8(ascii: "t"): text.append(0x09)
                case UInt8(ascii: "u"):
                    guard index + 4 <= bytes.count, let code = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16),
                        let scalar = Unicode.Scalar(code)
                    else { return nil }  // a surrogate (or not hexadecimal)
                    index += 4
                    text.append(contentsOf: String(Character(scalar)).utf8)
                default: return nil
                }
            default:
                if byte < 0x20 { return nil }
                text.append(byte)
            }
        }
        return nil
    }

    private static let null = Array("null".utf8)
    private static let trueText = Array("true".utf8)
    private static let falseText = Array("false".utf8)

    private mutating func take(literal: [UInt8]) -> Bool {
        skipSpace()
        guard index + literal.count <= bytes.count, bytes[index..<index + literal.count].elementsEqual(literal) else { return false }
        index += literal.count
        return true
    }

    private mutating func bool() -> Bool? {
        if take(literal: SpecReader.trueText) { return true }
        if take(literal: SpecReader.falseText) { return false }
        return nil
    }

    /// A number's text, and whether it has a fraction or an exponent.
    private mutating func numberText() -> (text: String, whole: Bool)? {
        skipSpace()
        let start = index
        var whole = true
        while index < bytes.count {
            let byte = bytes[index]
            if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") || byte == UInt8(ascii: "-") {
                index += 1
            } else if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") || byte == UInt8(ascii: "+") {
                whole = false
                index += 1
            } else {
                break
            }
        }
        guard index > start else { return nil }
        return (String(decoding: bytes[start..<index], as: UTF8.self), whole)
    }

    private mutating func double() -> Double? {
        guard let number = numberText(), let value = Double(number.text), value.isFinite else { return nil }
        // JSONDecoder refuses some zeros with an exponent (`0e9`, `0E1`; not `0e10`, `0e+9` or
        // `-0e9`), valid JSON though they are: left to it, whichever it does (found by fuzzing).
        if value == 0, !number.whole, number.text.utf8.contains(where: { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) { return nil }
        return value
    }

    /// A whole number written without a fraction or exponent, that fits in an `Int`.
    private mutating func integer() -> Int? {
        guard let number = numberText(), number.whole else { return nil }
        return Int(number.text)
    }
}
