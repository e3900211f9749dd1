extension PrometheusNames {
    /// A statistic's series, as `/metrics` exports it and remote_write sends it, so that a query
    /// is the same whether Prometheus scraped the series or received it: the name
    /// `resmon_<subsystem>_<statistic>`; a built-in statistic's labels are `resource` (first)
    /// and its own, sorted; a plug-in's are its source's (from which its resource was made),
    /// sorted, without `metric`, so a histogram's or summary's parts share one label set.
    /// Labels whose names Prometheus refuses are left out. `host` (resmond.json's, docs/FLEET.md)
    /// comes last when given; a statistic's own `host` label is then renamed `exported_host`, as
    /// Prometheus renames a scraped label that clashes with a target label, and a label that
    /// would then be given twice is left out (a scrape with one twice fails whole).
    public static func series(of descriptor: StatisticDescriptor, host: String? = nil) -> (name: String, labels: [(name: String, value: String)]) {
        let key = descriptor.key
        let name = "resmon_" + key.subsystem + "_" + key.statistic
        var labels: [(name: String, value: String)] = []
        var named: Set<String> = host == nil ? [] : ["host"]
        func own(_ label: String, _ value: String) {
            let label = host != nil && label == "host" ? "exported_host" : label
            guard named.insert(label).inserted else { return }
            labels.append((label, value))
        }
        if descriptor.family != nil {
            for (label, value) in descriptor.labels.sorted(by: { $0.key < $1.key }) where label != "metric" && isLabelName(label) {
                own(label, value)
            }
        } else {
            own("resource", key.resource)
            for (label, value) in descriptor.labels.sorted(by: { $0.key < $1.key }) where label != "resource" && isLabelName(label) {
                own(label, value)
            }
        }
        if let host { labels.append(("host", host)) }
        return (name, labels)
    }

    /// Whether Prometheus accepts `name` as a label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not
    /// starting with `__` (reserved for its own).
    public static func isLabelName(_ name: String) -> Bool {
        guard let first = name.utf8.first, first != 0x5f || name.utf8.dropFirst().first != 0x5f else { return false }
        let isLetter = { (byte: UInt8) in (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || byte == 0x5f }
        return isLetter(first) && name.utf8.allSatisfy { isLetter($0) || ($0 >= 0x30 && $0 <= 0x39) }
    }
}
