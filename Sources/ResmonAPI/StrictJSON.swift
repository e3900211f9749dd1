/// Strict JSON (RFC 8259) for what people write by hand and send: configuration files, monitor
/// files, `--from-file` specs and request bodies. Foundation's decoder accepts a trailing comma
/// (`{"a": 1,}`) and reports a mistake without saying where; this reader refuses what the RFC
/// refuses and says at which line and column, e.g. `line 3, column 14: a trailing comma before
/// "}"`.
public enum StrictJSON {
    /// A syntax error and where it is (1-based line and column, columns counted in bytes).
    public struct SyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
        public let line: Int
        public let column: Int
        public let reason: String
        public var description: String { "line \(line), column \(column): \(reason)" }

        public init(line: Int, column: Int, reason: String) {
            self.line = line
            self.column = column
            self.reason = reason
        }
    }

    /// Nesting deeper than this is refused: a hostile body must not exhaust the stack.
    public static let maximumDepth = 128

    /// Parses `bytes` as one JSON value (surrounding whitespace allowed). An object that names a
    /// key twice is refused: which of the two would win is a guess a person should not have to make.
    public static func parse(_ bytes: [UInt8]) throws(SyntaxError) -> JSONValue {
        var parser = Parser(bytes: bytes, build: true)
        return try parser.document()
    }

    /// Checks that `bytes` are one strict JSON value, without building it: run before a
    /// `JSONDecoder` so that its leniency never decides what is accepted.
    public static func validate(_ bytes: [UInt8]) throws(SyntaxError) {
        var parser = Parser(bytes: bytes, build: false)
        _ = try parser.document()
    }

    /// A `DecodingError` as a person reads it: the field's path and what was expected, e.g.
    /// `field "samples": expected a number`; a `SyntaxError` as its description.
    public static func describe(_ error: any Error) -> String {
        if let error = error as? SyntaxError { return error.description }
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context, _ last: (any CodingKey)? = nil) -> String {
            var text = ""
            for key in context.codingPath + (last.map { [$0] } ?? []) {
                if let position = key.intValue { text += "[\(position)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
            }
            return text.isEmpty ? "the document" : "field \"" + text + "\""
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context, key)) is missing"
        case .typeMismatch(let type, let context): return "\(path(context)): expected \(name(type))"
        case .valueNotFound(let type, let context): return "\(path(context)): expected \(name(type)), got null"
        case .dataCorrupted(let context): return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    private static func name(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Int64.Type, is UInt32.Type, is Int32.Type: "a whole number"
        case is Double.Type, is Float.Type: "a number"
        case is [Any].Type: "an array"
        case is [String: Any].Type: "an object"
        default: "\(type)".hasPrefix("Array") ? "an array" : "\(type)".hasPrefix("Dictionary") ? "an object" : "a \(type)"
        }
    }

    private struct Parser {
        let bytes: [UInt8]
        let build: Bool
        var index = 0
        var depth = 0

        init(bytes: [UInt8], build: Bool) {
            self.bytes = bytes
            self.build = build
        }

        mutating func document() throws(SyntaxError) -> JSONValue {
            skipWhitespace()
            guard index < bytes.count else { throw fail("no JSON value (the text is empty)") }
            let value = try self.value()
            skipWhitespace()
            guard index == bytes.count else { throw fail("unexpected \(here) after the value") }
            return value
        }

        /// Where `index` is, for an error.
        func fail(_ reason: String, at position: Int? = nil) -> SyntaxError {
            let position = min(position ?? index, bytes.count)
            var line = 1
            var lineStart = 0
            for offset in 0..<position where bytes[offset] == 0x0a {
                line += 1
                lineStart = offset + 1
            }
            return SyntaxError(line: line, column: position - lineStart + 1, reason: reason)
        }

        var here: String {
            guard index < bytes.count else { return "end of text" }
            let byte = bytes[index]
            return byte >= 0x20 && byte < 0x7f ? "\"\(Character(Unicode.Scalar(byte)))\"" : "byte 0x\(String(byte, radix: 16))"
        }

        mutating func skipWhitespace() {
            while index < bytes.count, [0x20, 0x0a, 0x0d, 0x09].contains(bytes[index]) { index += 1 }
        }

        mutating func value() throws(SyntaxError) -> JSONValue {
            guard index < bytes.count else { throw fail("the text ends where a value should be") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try object()
            case UInt8(ascii: "["): return try array()
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw fail("expected a value, got \(here)")
            }
        }

        mutating func literal(_ word: String, _ value: JSONValue) throws(SyntaxError) -> JSONValue {
            let expected = Array(word.utf8)
            guard index + expected.count <= bytes.count, Array(bytes[index..<index + expected.count]) == expected else {
                throw fail("expected a value, got \(here) (strings need double quotes)")
            }
            index += expected.count
            return value
        }

        mutating func enter() throws(SyntaxError) {
            depth += 1
            guard depth <= StrictJSON.maximumDepth else { throw fail("nested deeper than \(StrictJSON.maximumDepth) levels") }
        }

        mutating func object() throws(SyntaxError) -> JSONValue {
            try enter()
            defer { depth -= 1 }
            index += 1
            var members: [String: JSONValue] = [:]
            var keys = Set<String>()
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                    if index < bytes.count, bytes[index] == UInt8(ascii: "}") { throw fail("a trailing comma before \"}\"") }
                    throw fail("expected a key in double quotes, got \(here)")
                }
                let keyStart = index
                let key = try string(alwaysBuild: true)
                guard keys.insert(key).inserted else { throw fail("the key \"\(key)\" is given twice", at: keyStart) }
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected \":\" after the key \"\(key)\", got \(here)") }
                index += 1
                skipWhitespace()
                let member = try value()
                if build { members[key] = member }
                skipWhitespace()
                guard index < bytes.count else { throw fail("the object is not closed: the text ends before \"}\"") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard bytes[index] == UInt8(ascii: "}") else { throw fail("expected \",\" or \"}\" after a member, got \(here)") }
                index += 1
                return .object(members)
            }
        }

        mutating func array() throws(SyntaxError) -> JSONValue {
            try enter()
            defer { depth -= 1 }
            index += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            while true {
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") { throw fail("a trailing comma before \"]\"") }
                let element = try value()
                if build { elements.append(element) }
                skipWhitespace()
                guard index < bytes.count else { throw fail("the array is not closed: the text ends before \"]\"") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard bytes[index] == UInt8(ascii: "]") else { throw fail("expected \",\" or \"]\" after an element, got \(here)") }
                index += 1
                return .array(elements)
            }
        }

        mutating func number() throws(SyntaxError) -> JSONValue {
            let start = index
            func digits() -> Int {
                let first = index
                while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
                return index - first
            }
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            let integerStart = index
            guard digits() > 0 else { throw fail("a number needs a digit after \"-\"") }
            if bytes[integerStart] == UInt8(ascii: "0") && index - integerStart > 1 {
                throw fail("a number may not start with 0 (leading zeros)", at: integerStart)
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { throw fail("a number needs digits after \".\"") }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { throw fail("a number needs digits in its exponent") }
            }
            guard build else { return .null }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            guard let number = Double(text), number.isFinite else { throw fail("the number \(text) is out of range", at: start) }
            return .number(number)
        }

        mutating func string(alwaysBuild: Bool = false) throws(SyntaxError) -> String {
            let building = build || alwaysBuild
            index += 1
            var runStart = index
            var text = ""
            func flush(_ end: Int) {
                if building && end > runStart {
                    text += String(decoding: bytes[runStart..<end], as: UTF8.self)
                }
            }
            while true {
                guard index < bytes.count else { throw fail("the string is not closed: the text ends before its closing quote") }
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    flush(index)
                    index += 1
                    return text
                }
                if byte < 0x20 { throw fail("a control character in a string (write \\n, \\t … instead)") }
                guard byte == UInt8(ascii: "\\") else {
                    index += 1
                    continue
                }
                flush(index)
                index += 1
                guard index < bytes.count else { throw fail("the string is not closed: the text ends in an escape") }
                let escaped = bytes[index]
                index += 1
                var scalar: Unicode.Scalar
                switch escaped {
                case UInt8(ascii: "\""): scalar = "\""
                case UInt8(ascii: "\\"): scalar = "\\"
                case UInt8(ascii: "/"): scalar = "/"
                case UInt8(ascii: "b"): scalar = "\u{08}"
                case UInt8(ascii: "f"): scalar = "\u{0C}"
                case UInt8(ascii: "n"): scalar = "\n"
                case UInt8(ascii: "r"): scalar = "\r"
                case UInt8(ascii: "t"): scalar = "\t"
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800...0xDBFF).contains(code) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw fail("a \\u escape of a lone surrogate")
                        }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("a \\u escape of a lone surrogate") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(code) {
                        throw fail("a \\u escape of a lone surrogate")
                    }
                    // Strings from outside end up in C (SQLite, RE2, libmicrohttpd, syslog), where a
                    // NUL would silently cut them short: refused here, once, for every reader.
                    guard code != 0 else { throw fail("a string holds \\u0000 (NUL), which resmon does not accept", at: index - 6) }
                    scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                default:
                    throw fail("an unknown escape \\\(Character(Unicode.Scalar(escaped))) in a string", at: index - 2)
                }
                if building { text.unicodeScalars.append(scalar) }
                runStart = index
            }
        }

        mutating func hex4() throws(SyntaxError) -> UInt32 {
            guard index + 4 <= bytes.count else { throw fail("a \\u escape needs four hexadecimal digits") }
            var code: UInt32 = 0
            for byte in bytes[index..<index + 4] {
                guard let digit = Character(Unicode.Scalar(byte)).hexDigitValue else { throw fail("a \\u escape needs four hexadecimal digits") }
                code = code * 16 + UInt32(digit)
            }
            index += 4
            return code
        }
    }
}
