import ResmonAPI
import ResmonSystem

#if canImport(Glibc)
    import Glibc
#endif

/// A filter over events, the RMF's evlog queries: `severity >= warning && monitor ~ "disk" &&
/// message contains "sda"` (docs/EVENTS.md has the grammar). Compiled once, evaluated per event.
public struct EventFilter: Sendable {
    /// A filter that does not parse: where, and what was expected there.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let position: Int
        public let message: String
        /// Not the filter's fault: the memory all live patterns may reserve is spent (503 `busy`).
        public var busy = false
        /// With `busy`: the requester's own share of it is spent (429 `quota`).
        public var quota = false
        public var description: String { "filter: at position \(position + 1): \(message)" }
    }

    indirect enum Node: Sendable {
        case and(Node, Node), or(Node, Node), not(Node)
        case comparison(field: String, operation: String, value: Literal, position: Int)
    }

    enum Literal: Sendable {
        case text(String), number(Double)
    }

    let root: Node
    let regexes: [Int: BoundedRegex]

    static let fields: Set<String> = [
        "id", "time", "code", "type", "severity", "monitor", "monitorId", "monitorName",
        "key", "value", "threshold", "host", "message", "cancels"
    ]

    /// Parses a filter; its patterns are charged to `holder` (a request's, unless the
    /// configuration keeps it: a sink's filter is root's).
    public init(_ text: String, now: Double = EventFilter.now(), holder: BoundedRegex.Holder = .request(.nobody)) throws(ParseError) {
        var parser = Parser(Array(text.utf8), now: now, holder: holder)
        root = try parser.expression()
        parser.skipSpaces()
        guard parser.position == parser.bytes.count else {
            throw ParseError(position: parser.position, message: "expected && or || or the end, found \"\(parser.rest)\"")
        }
        regexes = parser.regexes
    }

    public static func now() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    public func matches(_ event: EventRecord) -> Bool { evaluate(root, event) }

    private func evaluate(_ node: Node, _ event: EventRecord) -> Bool {
        switch node {
        case .and(let left, let right): return evaluate(left, event) && evaluate(right, event)
        case .or(let left, let right): return evaluate(left, event) || evaluate(right, event)
        case .not(let inner): return !evaluate(inner, event)
        case .comparison(let field, let operation, let literal, let position):
            return compare(field: field, operation: operation, literal: literal, position: position, event: event)
        }
    }

    private func compare(field: String, operation: String, literal: Literal, position: Int, event: EventRecord) -> Bool {
        // Textual candidates: `monitor` matches the id or the name.
        var texts: [String] = []
        var number: Double?
        switch field {
        case "id": number = Double(event.id)
        case "time": number = event.time
        case "code": number = Double(event.code)
        case "value": number = event.value
        case "threshold": number = event.threshold
        case "cancels": number = event.cancels.map(Double.init)
        case "severity":
            // Ranked so that `severity >= warning` means "at least as severe as warning".
            number = Double(7 - (event.severity.level ?? Severity.Kind.info.level))
        case "type": texts = [event.type.rawValue]
        case "monitor": texts = [event.monitorId, event.monitorName].compactMap { $0 }
        case "monitorId": texts = [event.monitorId ?? ""]
        case "monitorName": texts = [event.monitorName ?? ""]
        case "key": texts = [event.key ?? ""]
        case "host": texts = [event.host]
        case "message": texts = [event.message]
        default:
            if field.hasPrefix("labels.") {
                texts = [event.labels[String(field.dropFirst(7))] ?? ""]
            } else if field.hasPrefix("annotations.") {
                texts = [event.annotations[String(field.dropFirst(12))] ?? ""]
            }
        }
        if let number, case .number(let wanted) = literal {
            switch operation {
            case "=": return number == wanted
            case "!=": return number != wanted
            case "<": return number < wanted
            case "<=": return number <= wanted
            case ">": return number > wanted
            case ">=": return number >= wanted
            default: return false
            }
        }
        if number == nil && texts.isEmpty { return operation == "!=" }
        let candidates = number.map { [EventFilter.format($0)] } ?? texts
        guard case .text(let wanted) = literal else {
            return operation == "!=" ? true : false
        }
        switch operation {
        case "=": return candidates.contains(wanted)
        case "!=": return !candidates.contains(wanted)
        case "~": return candidates.contains { regexes[position]?.matches($0) ?? false }
        case "contains": return candidates.contains { $0.contains(wanted) }
        case "<": return candidates.contains { $0 < wanted }
        case "<=": return candidates.contains { $0 <= wanted }
        case ">": return candidates.contains { $0 > wanted }
        case ">=": return candidates.contains { $0 >= wanted }
        default: return false
        }
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }

    /// Recursive descent: or := and ('||' and)*; and := unary ('&&' unary)*;
    /// unary := '!' unary | '(' or ')' | comparison; comparison := field op literal.
    struct Parser {
        let bytes: [UInt8]
        var position = 0
        let now: Double
        var regexes: [Int: BoundedRegex] = [:]
        /// The bytes of every `~` pattern so far, bounded with their number per filter.
        var patternBytes = 0
        /// Nesting of parentheses and `!`: bounded, so a hostile filter cannot exhaust the stack
        /// of the HTTP thread that parses it.
        var depth = 0
        static let maximumDepth = 64
        let holder: BoundedRegex.Holder

        init(_ bytes: [UInt8], now: Double, holder: BoundedRegex.Holder) {
            self.holder = holder
            self.bytes = bytes
            self.now = now
        }

        var rest: String { String(decoding: bytes[position...].prefix(20), as: UTF8.self) }

        mutating func skipSpaces() {
            while position < bytes.count && (bytes[position] == 0x20 || bytes[position] == 0x09) { position += 1 }
        }

        mutating func take(_ token: String) -> Bool {
            skipSpaces()
            let utf8 = Array(token.utf8)
            guard position + utf8.count <= bytes.count, Array(bytes[position..<(position + utf8.count)]) == utf8 else { return false }
            position += utf8.count
            return true
        }

        mutating func expression() throws(ParseError) -> Node {
            var node = try conjunction()
            while take("||") { node = .or(node, try conjunction()) }
            return node
        }

        mutating func conjunction() throws(ParseError) -> Node {
            var node = try unary()
            while take("&&") { node = .and(node, try unary()) }
            return node
        }

        mutating func unary() throws(ParseError) -> Node {
            skipSpaces()
            depth += 1
            defer { depth -= 1 }
            guard depth <= Parser.maximumDepth else {
                throw ParseError(position: position, message: "nested deeper than \(Parser.maximumDepth) levels of ( and !")
            }
            if position < bytes.count && bytes[position] == 0x21 && !(position + 1 < bytes.count && bytes[position + 1] == 0x3d) {
                position += 1
                return .not(try unary())
            }
            if take("(") {
                let node = try expression()
                guard take(")") else { throw ParseError(position: position, message: "expected ) to close the parenthesis") }
                return node
            }
            return try comparison()
        }

        mutating func identifier() -> String? {
            skipSpaces()
            let start = position
            while position < bytes.count {
                let byte = bytes[position]
                let isName =
                    (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x30 && byte <= 0x39) || byte == 0x5f || byte == 0x2e
                    || byte == 0x2d
                guard isName else { break }
                position += 1
            }
            return position > start ? String(decoding: bytes[start..<position], as: UTF8.self) : nil
        }

        mutating func comparison() throws(ParseError) -> Node {
            let fieldStart = position
            guard let field = identifier() else {
                skipSpaces()
                throw ParseError(
                    position: position,
                    message: position == bytes.count
                        ? "expected a field, found the end" : "expected a field (severity, type, monitor, key, value, message …), found \"\(rest)\"")
            }
            guard EventFilter.fields.contains(field) || field.hasPrefix("labels.") || field.hasPrefix("annotations.") else {
                throw ParseError(
                    position: fieldStart,
                    message: "unknown field \"\(field)\" (known: \(EventFilter.fields.sorted().joined(separator: ", ")), labels.NAME, annotations.NAME)")
            }
            skipSpaces()
            let operationStart = position
            var operation = ""
            for candidate in ["<=", ">=", "!=", "=", "<", ">", "~", "contains"] where take(candidate) {
                operation = candidate
                break
            }
            guard !operation.isEmpty else {
                throw ParseError(position: operationStart, message: "expected an operator (= != < <= > >= ~ contains) after \(field)")
            }
            skipSpaces()
            let literalStart = position
            let literal = try self.literal(for: field)
            if operation == "~" {
                guard case .text(let pattern) = literal else {
                    throw ParseError(position: literalStart, message: "~ needs a quoted regular expression")
                }
                patternBytes += pattern.utf8.count
                if let excess = BoundedRegex.perRequestExcess(count: regexes.count + 1, bytes: patternBytes) {
                    throw ParseError(position: literalStart, message: "\(excess) (narrow the filter)")
                }
                do {
                    regexes[literalStart] = try BoundedRegex(pattern, holder: holder)
                } catch {
                    throw ParseError(position: literalStart, message: "\(error)", busy: error.budgetSpent, quota: error.quota)
                }
            }
            return .comparison(field: field, operation: operation, value: literal, position: literalStart)
        }

        mutating func literal(for field: String) throws(ParseError) -> Literal {
            skipSpaces()
            let start = position
            guard position < bytes.count else { throw ParseError(position: position, message: "expected a value, found the end") }
            if bytes[position] == 0x22 {
                position += 1
                var text: [UInt8] = []
                while position < bytes.count && bytes[position] != 0x22 {
                    if bytes[position] == 0x5c && position + 1 < bytes.count { position += 1 }
                    text.append(bytes[position])
                    position += 1
                }
                guard position < bytes.count else { throw ParseError(position: start, message: "unterminated string: expected a closing \"") }
                position += 1
                let value = String(decoding: text, as: UTF8.self)
                if field == "time", let time = EventFilter.time(value, now: now) { return .number(time) }
                return .text(value)
            }
            if field == "time" {
                // An unquoted time may hold ':' and '+' (RFC 3339): it runs to a space or an operator.
                while position < bytes.count, ![0x20, 0x09, 0x29, 0x26, 0x7c].contains(bytes[position]) { position += 1 }
                let word = String(decoding: bytes[start..<position], as: UTF8.self)
                guard let time = EventFilter.time(word, now: now) else {
                    throw ParseError(position: start, message: "expected a time: seconds since the epoch, RFC 3339 or relative like -1h, found \"\(word)\"")
                }
                return .number(time)
            }
            guard let word = identifier() else {
                throw ParseError(position: start, message: "expected a value (a number, a name or a \"string\"), found \"\(rest)\"")
            }
            if field == "severity" {
                guard let level = Severity(rawValue: word).level else {
                    throw ParseError(position: start, message: "expected a severity (\(Severity.knownList)), found \"\(word)\"")
                }
                return .number(Double(7 - level))
            }
            if let number = Double(word) { return .number(number) }
            return .text(word)
        }
    }

    /// `1795300000`, `-90s`/`-10m`/`-1h`/`-7d` (before now), or RFC 3339 `2026-11-21T23:00:00Z`.
    public static func time(_ text: String, now: Double) -> Double? {
        // `nan`, `inf`, `1e400` and `-1e300d` read as numbers: never a time.
        guard let seconds = parsedTime(text, now: now), seconds.isFinite else { return nil }
        return seconds
    }

    private static func parsedTime(_ text: String, now: Double) -> Double? {
        if let seconds = Double(text) { return text.hasPrefix("-") ? now + seconds : seconds }
        if text.hasPrefix("-"), let unit = text.last, let amount = Double(text.dropFirst().dropLast()) {
            let scale: Double? = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800][unit]
            return scale.map { now - amount * $0 }
        }
        // RFC 3339: YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)
        let characters = Array(text)
        guard characters.count >= 20, characters[4] == "-", characters[7] == "-", characters[10] == "T" || characters[10] == " " else { return nil }
        // Digits only (Int("+1") reads), and only dates and times that exist: timegm would roll
        // 2026-13-45T99:99:99Z over into 2027.
        func number(_ range: Range<Int>) -> Int? {
            characters[range].allSatisfy(\.isASCIIDigit) ? Int(String(characters[range])) : nil
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
            let minute = number(14..<16), let second = number(17..<19), characters[13] == ":", characters[16] == ":",
            (1...12).contains(month), (1...daysIn(month, of: year)).contains(day), (0...23).contains(hour),
            (0...59).contains(minute), (0...60).contains(second)
        else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        var seconds = Double(timegm(&parts))
        var index = 19
        if index < characters.count, characters[index] == "." {
            let start = index
            index += 1
            while index < characters.count, characters[index].isNumber { index += 1 }
            seconds += Double("0" + String(characters[start..<index])) ?? 0
        }
        guard index < characters.count else { return nil }
        if characters[index] == "Z" || characters[index] == "z" { return characters.count == index + 1 ? seconds : nil }
        guard characters.count == index + 6, characters[index] == "+" || characters[index] == "-", characters[index + 3] == ":",
            let offsetHours = number((index + 1)..<(index + 3)), let offsetMinutes = number((index + 4)..<(index + 6)),
            (0...23).contains(offsetHours), (0...59).contains(offsetMinutes)
        else { return nil }
        let offset = Double(offsetHours * 3600 + offsetMinutes * 60)
        return characters[index] == "+" ? seconds - offset : seconds + offset
    }

    /// Days in `month` (1…12) of the Gregorian `year`.
    static func daysIn(_ month: Int, of year: Int) -> Int {
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
