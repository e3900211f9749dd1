/// Who this resmond is in a fleet: resmond.json's `host` and `labels` (docs/FLEET.md, "Host
/// identity and labels"). Every event carries both, so every Alertmanager alert does; `/metrics`
/// puts `host` on every series and the labels on `resmon_host_info`.
public struct HostIdentity: Sendable, Equatable {
    /// The host's name in events, alerts and series (default: the hostname).
    public var host: String
    /// The fleet labels: Prometheus label names, non-empty values.
    public var labels: [String: String]

    public init(host: String, labels: [String: String] = [:]) {
        self.host = host
        self.labels = labels
    }

    /// An event's or alert's labels: the fleet labels, then `own` over them. As Prometheus'
    /// `external_labels`, a label the event already has wins: a monitor's `team` is not
    /// overwritten by the fleet's.
    public func labeling(_ own: [String: String]) -> [String: String] {
        guard !labels.isEmpty else { return own }
        return labels.merging(own) { _, own in own }
    }

    /// Names a fleet label may not take: each already means something in an alert (`alertname`,
    /// `host`, `monitor`, `severity`, `statistic`), on a series (`resource`), in Prometheus'
    /// target labels (`instance`, `job`) or on an application's event (`source`, `uid`).
    public static let reservedLabels: Set<String> = [
        "alertname", "host", "monitor", "severity", "statistic", "resource", "instance", "job", "source", "uid"
    ]
    public static let maximumLabels = 32
    public static let maximumValueBytes = 256
    public static let maximumHostBytes = 253

    /// Why `name` cannot be a fleet label, or nil.
    public static func problem(labelName name: String) -> String? {
        let bytes = Array(name.utf8)
        let isStart = { (byte: UInt8) in (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || byte == 0x5f }
        guard let first = bytes.first, isStart(first), bytes.allSatisfy({ isStart($0) || ($0 >= 0x30 && $0 <= 0x39) }) else {
            return "not a Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]*"
        }
        if name.hasPrefix("__") { return "names starting with __ are reserved for Prometheus" }
        if reservedLabels.contains(name) {
            return "reserved: resmon sets it itself (reserved: \(reservedLabels.sorted().joined(separator: ", ")))"
        }
        return nil
    }

    /// Why `value` cannot be a fleet label's value, or nil.
    public static func problem(labelValue value: String) -> String? {
        if value.isEmpty { return "must not be empty (Prometheus treats an empty label as no label)" }
        if value.utf8.count > maximumValueBytes { return "longer than \(maximumValueBytes) bytes" }
        if value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return "must not hold a control character"
        }
        return nil
    }

    /// Why `host` cannot be the host's name, or nil: 1 to 253 of `A-Z a-z 0-9 . _ : -`, so that it
    /// fits a syslog HOSTNAME and a label value unchanged.
    public static func problem(host: String) -> String? {
        guard (1...maximumHostBytes).contains(host.utf8.count) else { return "expected 1 to \(maximumHostBytes) bytes" }
        let allowed = host.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
            case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "-"): true
            default: false
            }
        }
        return allowed ? nil : "expected letters, digits, '.', '_', ':' or '-' (a host name), got \"\(host)\""
    }
}
