import RemoteWrite
import ResmonAPI
import ResmonSystem
import Statistics

#if canImport(Glibc)
    import Glibc
#endif

extension Reader {
    /// `remoteWrite`: `{"url": …, "intervalSeconds", "batchSamples", "queueSamples",
    /// "timeoutSeconds", "maxBackoffSeconds", "match", "labels", "headers", "tokenFile"}`
    /// (docs/CONFIG.md).
    func remoteWrite(_ value: JSONValue) throws(ConfigurationError) -> RemoteWriteSettings {
        let key = "remoteWrite"
        let members = try object(
            value, key,
            allowed: [
                "url", "intervalSeconds", "batchSamples", "queueSamples", "timeoutSeconds", "maxBackoffSeconds", "match", "labels",
                "headers", "tokenFile"
            ])
        func number(_ name: String, _ range: ClosedRange<Double>, _ fallback: Double) throws(ConfigurationError) -> Double {
            guard let value = members[name] else { return fallback }
            guard case .number(let number) = value else { throw fail(key + "." + name, "expected a number, got \(value.typeName)") }
            guard range.contains(number) else { throw fail(key + "." + name, "\(number) is out of range \(range.lowerBound)…\(range.upperBound)") }
            return number
        }
        guard let urlValue = members["url"] else { throw fail(key + ".url", "required: the receiver's write endpoint") }
        let url = try string(urlValue, key + ".url")
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), !url.contains(where: { $0.isWhitespace }) else {
            throw fail(key + ".url", "expected an http:// or https:// URL, got \"\(url)\"")
        }
        var settings = RemoteWriteSettings(url: url)
        settings.intervalSeconds = try number("intervalSeconds", 0.1...3600, settings.intervalSeconds)
        settings.timeoutSeconds = try number("timeoutSeconds", 0.1...300, settings.timeoutSeconds)
        settings.maxBackoffSeconds = try number("maxBackoffSeconds", 1...3600, settings.maxBackoffSeconds)
        if let value = members["batchSamples"] { settings.batchSamples = try integer(value, key + ".batchSamples", 1...100_000) }
        if let value = members["queueSamples"] { settings.queueSamples = try integer(value, key + ".queueSamples", 1...10_000_000) }
        guard settings.queueSamples >= settings.batchSamples else {
            throw fail(key + ".queueSamples", "\(settings.queueSamples) is below batchSamples (\(settings.batchSamples))")
        }
        if let value = members["match"] {
            let pattern = try string(value, key + ".match")
            do {
                _ = try BoundedRegex(pattern, holder: .root)
            } catch {
                throw fail(key + ".match", error.description)
            }
            settings.match = pattern
        }
        if let value = members["labels"] {
            for (name, label) in try object(value, key + ".labels", allowed: nil) {
                guard PrometheusNames.isLabelName(name) else {
                    throw fail(key + ".labels." + name, "a label name is [a-zA-Z_][a-zA-Z0-9_]* and does not start with __")
                }
                settings.labels[name] = try string(label, key + ".labels." + name)
            }
        }
        if let value = members["headers"] {
            for (name, header) in try object(value, key + ".headers", allowed: nil) {
                let text = try string(header, key + ".headers." + name)
                guard !name.isEmpty, !name.contains(where: { $0 == ":" || $0.isWhitespace || !$0.isASCII }),
                    !text.contains(where: { $0.isNewline || $0 == "\0" })
                else {
                    throw fail(key + ".headers." + name, "a header name without ':' or spaces, and a value on one line")
                }
                guard !Reader.remoteWriteOwnHeaders.contains(name.lowercased()) else {
                    throw fail(key + ".headers." + name, "resmond sets this header itself")
                }
                settings.headers[name] = text
            }
        }
        if let value = members["tokenFile"] {
            let file = try path(value, key + ".tokenFile")
            guard !settings.headers.keys.contains(where: { $0.lowercased() == "authorization" }) else {
                throw fail(key + ".tokenFile", "headers has an Authorization already")
            }
            settings.headers["Authorization"] = "Bearer " + (try remoteWriteToken(file, key: key + ".tokenFile"))
        }
        return settings
    }

    /// The headers every remote_write request carries already.
    static let remoteWriteOwnHeaders: Set<String> = [
        "host", "content-length", "content-type", "content-encoding", "x-prometheus-remote-write-version", "connection",
        "transfer-encoding"
    ]

    /// The bearer token for the receiver: a secret, so the file must be readable by its owner
    /// only (root or resmond's user); one line.
    private func remoteWriteToken(_ file: String, key: String) throws(ConfigurationError) -> String {
        let read: (bytes: [UInt8], info: stat)?
        do {
            read = try ConfigurationFile.read(file, source: source, followingSymlinks: false)
        } catch {
            throw fail(key, error.reason)
        }
        guard let (bytes, info) = read else { throw fail(key, "\(file): \(Errno.noSuchFileOrDirectory.description)") }
        guard info.st_uid == 0 || info.st_uid == geteuid(), info.st_mode & 0o077 == 0 else {
            throw fail(key, "\(file) must be owned by root or resmond's user, with mode 0600 or 0400")
        }
        var token = Substring(String(decoding: bytes, as: UTF8.self))
        while token.last?.isNewline == true { token = token.dropLast() }
        guard !token.isEmpty, !token.contains(where: { $0.isWhitespace || $0 == "\0" }) else {
            throw fail(key, "\(file) must hold one token, on one line")
        }
        return String(token)
    }
}
