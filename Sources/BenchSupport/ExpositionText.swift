/// Figures read from Prometheus's text exposition format: resmond's `/metrics` (its cycle
/// histogram) and Prometheus's own (how often it scraped node_exporter).
public enum ExpositionText {
    /// The value of the first sample named `name` whose labels include every one of `labels`.
    public static func value(of name: String, labels: [String: String] = [:], in text: String) -> Double? {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let sample = Sample(line), sample.name == name else { continue }
            if labels.allSatisfy({ sample.labels[$0.key] == $0.value }) { return sample.value }
        }
        return nil
    }

    /// The smallest bucket bound (`le`) of histogram `name` that holds every observation: an
    /// upper bound on the largest one (`+Inf` when only that bucket does). With `earlier`, an
    /// earlier scrape of the same histogram, only the observations made since count. nil when
    /// the histogram is absent or has no observation (since `earlier`).
    public static func largestObservationBound(ofHistogram name: String, in text: String, since earlier: String? = nil) -> Double? {
        let before = earlier.map { buckets(of: name, in: $0) } ?? [:]
        let counts = buckets(of: name, in: text).map { (bound: $0.key, count: $0.value - (before[$0.key] ?? 0)) }
        guard let total = counts.map(\.count).max(), total > 0 else { return nil }
        return counts.filter { $0.count >= total }.map(\.bound).min()
    }

    /// A histogram's cumulative bucket counts by bound.
    private static func buckets(of name: String, in text: String) -> [Double: Double] {
        var buckets: [Double: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let sample = Sample(line), sample.name == name + "_bucket", let le = sample.labels["le"] else { continue }
            if let bound = le == "+Inf" ? Double.infinity : Double(le) { buckets[bound] = sample.value }
        }
        return buckets
    }

    /// `name{label="value",…} value [timestamp]`, or `name value`.
    private struct Sample {
        var name: Substring
        var labels: [String: String] = [:]
        var value: Double

        init?(_ line: Substring) {
            var rest: Substring
            if let open = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}"), open < close {
                name = line[..<open]
                labels = Sample.labels(line[line.index(after: open)..<close])
                rest = line[line.index(after: close)...]
            } else {
                guard let space = line.firstIndex(of: " ") else { return nil }
                name = line[..<space]
                rest = line[space...]
            }
            rest = rest.drop { $0 == " " }
            let number = rest.prefix { $0 != " " }
            guard let value = number == "+Inf" ? Double.infinity : Double(number) else { return nil }
            self.value = value
        }

        /// `a="x",b="y"`, with `\"` and `\\` escapes in values.
        static func labels(_ text: Substring) -> [String: String] {
            var labels: [String: String] = [:]
            var index = text.startIndex
            while index < text.endIndex {
                guard let equals = text[index...].firstIndex(of: "=") else { break }
                let key = text[index..<equals].drop { $0 == "," || $0 == " " }
                var cursor = text.index(after: equals)
                guard cursor < text.endIndex, text[cursor] == "\"" else { break }
                cursor = text.index(after: cursor)
                var value = ""
                while cursor < text.endIndex, text[cursor] != "\"" {
                    if text[cursor] == "\\", text.index(after: cursor) < text.endIndex { cursor = text.index(after: cursor) }
                    value.append(text[cursor])
                    cursor = text.index(after: cursor)
                }
                labels[String(key)] = value
                index = cursor < text.endIndex ? text.index(after: cursor) : cursor
            }
            return labels
        }
    }
}
