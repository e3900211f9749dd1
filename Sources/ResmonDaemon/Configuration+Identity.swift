import ResmonAPI
import ResmonSystem

extension DaemonConfiguration {
    /// The host's name and fleet labels as events, alerts and `/metrics` carry them.
    public var identity: HostIdentity { HostIdentity(host: host ?? ResmonSystem.hostName(), labels: labels) }
}

extension Reader {
    /// `host` and `labels` (docs/CONFIG.md): each refusal names the key, so that an operator
    /// rolling one file out to a fleet sees which label is wrong.
    func identity(_ top: [String: JSONValue], to configuration: inout DaemonConfiguration) throws(ConfigurationError) {
        if let value = top["host"] {
            let host = try string(value, "host")
            if let problem = HostIdentity.problem(host: host) { throw fail("host", problem) }
            configuration.host = host
        }
        guard let value = top["labels"] else { return }
        let labels = try object(value, "labels", allowed: nil)
        guard labels.count <= HostIdentity.maximumLabels else {
            throw fail("labels", "\(labels.count) labels: at most \(HostIdentity.maximumLabels)")
        }
        var accepted: [String: String] = [:]
        for name in labels.keys.sorted() {
            let key = "labels." + name
            if let problem = HostIdentity.problem(labelName: name) { throw fail(key, problem) }
            guard case .string(let text)? = labels[name] else { throw fail(key, "expected a string, got \(labels[name]?.typeName ?? "nothing")") }
            if let problem = HostIdentity.problem(labelValue: text) { throw fail(key, problem) }
            accepted[name] = text
        }
        configuration.labels = accepted
    }
}
