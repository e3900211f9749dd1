import ResmonSystem

/// Chooses statistics: a regular expression over keys and label matchers, all of which must
/// hold. Used by `GET /v1/statistics?match=&where=` and, later, by monitor targets.
///
/// Label matchers are written `label=value`, `label!=value`, `label~REGEX`, `label!~REGEX`.
/// Besides a statistic's own labels, `subsystem`, `resource` and `statistic` can be matched, and
/// `xapi_name`: the statistic's names in `/rrd_updates` (`XapiDataSources`), any of which may match.
public struct Selector: Sendable {
    public struct LabelMatcher: Sendable {
        public enum Operation: String, Sendable { case equal = "=", notEqual = "!=", matches = "~", notMatches = "!~" }
        public let label: String
        public let operation: Operation
        public let value: String
        let regex: BoundedRegex?

        /// Parses `label~REGEX` and its kin; its pattern is charged to `holder`.
        public init(parsing text: String, holder: BoundedRegex.Holder = .request(.nobody)) throws(SelectorError) {
            guard let index = text.firstIndex(where: { $0 == "=" || $0 == "~" || $0 == "!" }) else {
                throw SelectorError(message: "\"\(text)\": expected label=value, label!=value, label~regex or label!~regex")
            }
            let label = String(text[..<index])
            let rest = text[index...]
            let operation: Operation
            if rest.hasPrefix("!=") {
                operation = .notEqual
            } else if rest.hasPrefix("!~") {
                operation = .notMatches
            } else if rest.hasPrefix("=") {
                operation = .equal
            } else if rest.hasPrefix("~") {
                operation = .matches
            } else {
                throw SelectorError(message: "\"\(text)\": expected =, !=, ~ or !~ after the label name")
            }
            guard !label.isEmpty,
                label.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5f })
            else {
                throw SelectorError(message: "\"\(text)\": a label name is [A-Za-z0-9_]+")
            }
            self.label = label
            self.operation = operation
            self.value = String(rest.dropFirst(operation.rawValue.count))
            if operation == .matches || operation == .notMatches {
                do {
                    regex = try BoundedRegex.shared(value, holder: holder)
                } catch {
                    throw SelectorError(message: "\(label)\(operation.rawValue): \(error)", busy: error.budgetSpent, quota: error.quota)
                }
            } else {
                regex = nil
            }
        }

        func matches(_ descriptor: StatisticDescriptor) -> Bool {
            if label == "xapi_name" && descriptor.labels[label] == nil {
                // Any of the statistic's xapi names (none: it has no xapi name to match).
                let names = XapiDataSources.names(for: descriptor.key).map(\.name)
                switch operation {
                case .equal: return names.contains(value)
                case .notEqual: return !names.contains(value)
                case .matches: return names.contains { regex?.matches($0) ?? false }
                case .notMatches: return !names.contains { regex?.matches($0) ?? false }
                }
            }
            let actual: String
            if let value = descriptor.labels[label] {
                actual = value
            } else if label == "subsystem" {
                actual = descriptor.key.subsystem
            } else if label == "resource" {
                actual = descriptor.key.resource
            } else if label == "statistic" {
                actual = descriptor.key.statistic
            } else {
                actual = ""
            }  // an absent label matches as empty, as in Prometheus
            switch operation {
            case .equal: return actual == value
            case .notEqual: return actual != value
            case .matches: return regex?.matches(actual) ?? false
            case .notMatches: return !(regex?.matches(actual) ?? false)
            }
        }
    }

    /// The most `where` conditions one selector takes, patterns or not.
    public static let maximumConditions = 64

    public let keyPattern: BoundedRegex?
    public let matchers: [LabelMatcher]
    /// The selector's text (pattern and conditions): two selectors with the same identity
    /// choose the same statistics, so their answers can be shared.
    public let identity: String

    /// A selector whose patterns are charged to `holder` (a monitor's owner; `.request` for a query).
    public init(match pattern: String? = nil, where conditions: [String] = [], holder: BoundedRegex.Holder = .request(.nobody)) throws(SelectorError) {
        // Bounded before anything compiles: the number of patterns multiplies each one's work.
        let patterns = conditions.compactMap { condition -> Substring? in
            guard let index = condition.firstIndex(where: { $0 == "=" || $0 == "~" || $0 == "!" }) else { return nil }
            let rest = condition[index...]
            return rest.hasPrefix("~") ? rest.dropFirst() : rest.hasPrefix("!~") ? rest.dropFirst(2) : nil
        }
        let count = patterns.count + (pattern == nil ? 0 : 1)
        let bytes = patterns.reduce(pattern?.utf8.count ?? 0) { $0 + $1.utf8.count }
        if let excess = BoundedRegex.perRequestExcess(count: count, bytes: bytes) {
            throw SelectorError(message: "match and where: \(excess)")
        }
        guard conditions.count <= Selector.maximumConditions else {
            throw SelectorError(message: "where: \(conditions.count) conditions; at most \(Selector.maximumConditions)")
        }
        if let pattern {
            do {
                keyPattern = try BoundedRegex.shared(pattern, holder: holder)
            } catch {
                throw SelectorError(message: "match: \(error)", busy: error.budgetSpent, quota: error.quota)
            }
        } else {
            keyPattern = nil
        }
        var matchers: [LabelMatcher] = []
        for condition in conditions { matchers.append(try LabelMatcher(parsing: condition, holder: holder)) }
        self.matchers = matchers
        identity = ([pattern.map { "m" + $0 } ?? "-"] + conditions).joined(separator: "\u{0}")
    }

    /// A key pattern and label → regular expression pairs (a monitor target's `where`).
    public init(match pattern: String, labels: [String: String], holder: BoundedRegex.Holder = .request(.nobody)) throws(SelectorError) {
        try self.init(match: pattern, where: labels.sorted { $0.key < $1.key }.map { $0.key + "~" + $0.value }, holder: holder)
    }

    public func matches(_ descriptor: StatisticDescriptor) -> Bool {
        if let keyPattern, !keyPattern.matches(descriptor.key.text) { return false }
        return matchers.allSatisfy { $0.matches(descriptor) }
    }
}

public struct SelectorError: Error, Sendable, CustomStringConvertible {
    public let message: String
    /// Not the selector's fault: the memory all live patterns may reserve is spent (503 `busy`),
    /// or with `quota` the caller's own share of it (429 `quota`).
    public let busy: Bool
    public let quota: Bool
    public init(message: String, busy: Bool = false, quota: Bool = false) {
        self.message = message
        self.busy = busy
        self.quota = quota
    }
    public var description: String { message }
}
