/// The identity of a statistic: `subsystem:resource:statistic`, as in the Resource Monitoring
/// Facility and xapi's data-source legends.
///
/// Subsystem and statistic names are `[a-z0-9_]+`. A resource is any text; a `:` in it is
/// written `%3A` (and `%` as `%25`) in the text form, so the key always splits in three.
public struct StatisticKey: Hashable, Sendable, CustomStringConvertible {
    public let subsystem: String
    public let resource: String
    public let statistic: String
    /// The text form, computed once.
    public let text: String

    public init(subsystem: String, resource: String, statistic: String) {
        self.subsystem = subsystem
        self.resource = resource
        self.statistic = statistic
        self.text = subsystem + ":" + StatisticKey.escape(resource) + ":" + statistic
    }

    /// Parses a text key; `nil` when it is not `subsystem:resource:statistic` with valid names.
    public init?(parsing text: String) {
        // Exactly two colons, found in the UTF-8 bytes: a bulk create parses every target, and
        // splitting into an array of substrings was a twelfth of its CPU (issue 17).
        let utf8 = text.utf8
        guard let first = utf8.firstIndex(of: 0x3a), let last = utf8.lastIndex(of: 0x3a), first != last else { return nil }
        let middle = text[text.index(after: first)..<last]
        guard !middle.utf8.contains(0x3a) else { return nil }
        let subsystem = text[..<first]
        let statistic = text[text.index(after: last)...]
        guard StatisticKey.isName(subsystem), StatisticKey.isName(statistic), !middle.isEmpty,
            let resource = StatisticKey.unescape(middle)
        else { return nil }
        self.init(subsystem: String(subsystem), resource: resource, statistic: String(statistic))
    }

    public var description: String { text }

    /// Whether `name` is a valid subsystem or statistic name: `[a-z0-9_]+`.
    public static func isName<S: StringProtocol>(_ name: S) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5f }
    }

    static func escape(_ resource: String) -> String {
        guard resource.utf8.contains(where: { $0 == 0x3a || $0 == 0x25 }) else { return resource }
        var escaped = ""
        for character in resource {
            switch character {
            case ":": escaped += "%3A"
            case "%": escaped += "%25"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    static func unescape<S: StringProtocol>(_ text: S) -> String? {
        guard text.contains("%") else { return String(text) }
        var result = ""
        var rest = Substring(text)
        while let percent = rest.firstIndex(of: "%") {
            result += rest[..<percent]
            let code = rest[percent...].prefix(3)
            switch code.uppercased() {
            case "%3A": result += ":"
            case "%25": result += "%"
            default: return nil
            }
            rest = rest[rest.index(percent, offsetBy: 3)...]
        }
        return result + rest
    }
}
