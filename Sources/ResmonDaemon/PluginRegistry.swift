import FoundationEssentials
import HTTPClient
import ResmonAPI
import Statistics

#if canImport(Glibc)
    import Glibc
#endif

/// `subsystems.d/NAME.json` in the configuration directory: one plug-in subsystem per file
/// (docs/PLUGINS.md), as the RMF's rmtab registry.
package enum PluginRegistry {
    /// Every plug-in the files declare, and a line for each file that cannot be used.
    static func read(configDirectory: String, step: Int) -> (plugins: [PluginConfiguration], problems: [String]) {
        let directory = configDirectory + "/subsystems.d"
        guard let names = fileNames(in: directory, endingIn: ".json") else { return ([], []) }
        var plugins: [PluginConfiguration] = []
        var problems: [String] = []
        for file in names {
            let source = "subsystems.d/" + file
            do {
                plugins.append(try plugin(path: directory + "/" + file, source: source, step: step))
            } catch {
                problems.append(error.description)
            }
        }
        return (plugins, problems)
    }

    static func plugin(path: String, source: String, step: Int) throws(ConfigurationError) -> PluginConfiguration {
        let name = String(path.split(separator: "/").last!.dropLast(".json".count))
        func fail(_ key: String?, _ reason: String) -> ConfigurationError { ConfigurationError(source: source, key: key, reason: reason) }
        guard StatisticKey.isName(name), !DaemonConfiguration.subsystemNames.contains(name) else {
            throw fail(
                nil, "the file's name is the subsystem's: [a-z0-9_]+ and not a built-in one (\(DaemonConfiguration.subsystemNames.joined(separator: ", ")))")
        }
        guard let (bytes, info) = try ConfigurationFile.read(path, source: source) else { throw fail(nil, "no longer exists") }
        // A plug-in runs as resmond: only root may declare one for a resmond running as root.
        if geteuid() == 0, info.st_uid != 0 || info.st_mode & 0o022 != 0 {
            throw fail(nil, "must be owned by root and writable by nobody else")
        }
        return try plugin(bytes, name: name, source: source, step: step)
    }

    /// The plug-in a file's bytes declare, once read and trusted (`name` checked): apart so that
    /// the fuzzer (FuzzTargets) feeds it bytes.
    package static func plugin(_ bytes: [UInt8], name: String, source: String, step: Int) throws(ConfigurationError) -> PluginConfiguration {
        func fail(_ key: String?, _ reason: String) -> ConfigurationError { ConfigurationError(source: source, key: key, reason: reason) }
        let root: JSONValue
        do {
            root = try StrictJSON.parse(bytes)
        } catch {
            throw fail(nil, "not valid JSON: \(error)")
        }
        let reader = Reader(source: source)
        let fields = try reader.object(root, "", allowed: ["kind", "command", "path", "url", "interval", "timeout", "maxBytes", "maxSeries", "archive"])
        guard let kindValue = fields["kind"] else { throw fail("kind", "required: exec, textfile or scrape") }
        let interval = Double(try fields["interval"].map { value throws(ConfigurationError) in try reader.integer(value, "interval", 1...86400) } ?? step)
        let timeout = Double(
            try fields["timeout"].map { value throws(ConfigurationError) in try reader.integer(value, "timeout", 1...3600) } ?? Int(min(interval, 10)))
        let maxBytes = try fields["maxBytes"].map { value throws(ConfigurationError) in try reader.integer(value, "maxBytes", 1024...(64 << 20)) } ?? 1 << 20
        let maxSeries = try fields["maxSeries"].map { value throws(ConfigurationError) in try reader.integer(value, "maxSeries", 1...1_000_000) } ?? 5_000
        let archive = try archivePatterns(fields["archive"], reader: reader, fail: fail)
        let kind: PluginConfiguration.Kind
        switch try reader.string(kindValue, "kind") {
        case "exec":
            guard case .array(let parts)? = fields["command"], !parts.isEmpty else {
                throw fail("command", "an array: the program's absolute path, then its arguments")
            }
            var command: [String] = []
            for (index, part) in parts.enumerated() {
                command.append(index == 0 ? try reader.path(part, "command[0]") : try reader.string(part, "command[\(index)]"))
            }
            kind = .exec(command: command)
        case "textfile":
            guard let value = fields["path"] else { throw fail("path", "required: the directory of *.prom files") }
            kind = .textfile(directory: try reader.path(value, "path"))
        case "scrape":
            guard let value = fields["url"] else { throw fail("url", "required: http://127.0.0.1:PORT/metrics") }
            let url = try reader.string(value, "url")
            guard url.hasPrefix("http://") || url.hasPrefix("https://") else { throw fail("url", "expected an http:// or https:// URL") }
            kind = .scrape(url: url)
        case let other:
            throw fail("kind", "expected exec, textfile or scrape, got \"\(other)\"")
        }
        return PluginConfiguration(
            name: name, kind: kind, interval: interval, timeout: timeout, maxBytes: maxBytes, maxSeries: maxSeries, archive: archive)
    }

    /// `archive`: true (every statistic, the default), false (none), or an array of patterns
    /// over the statistic's name, `*` for any run of characters.
    static func archivePatterns(
        _ value: JSONValue?, reader: Reader, fail: (String?, String) -> ConfigurationError
    ) throws(ConfigurationError) -> [String] {
        switch value {
        case nil, .bool(true)?: return ["*"]
        case .bool(false)?: return []
        case .array(let items)?:
            var patterns: [String] = []
            for (index, item) in items.enumerated() {
                let pattern = try reader.string(item, "archive[\(index)]")
                guard !pattern.isEmpty, pattern.utf8.count <= 200,
                    pattern.utf8.allSatisfy({ $0 == 0x2a || $0 == 0x5f || (0x30...0x39).contains($0) || (0x61...0x7a).contains($0) })
                else {
                    throw fail("archive[\(index)]", "a pattern of [a-z0-9_] and *, at most 200 characters (statistic names are lower case)")
                }
                patterns.append(pattern)
            }
            return patterns
        default:
            throw fail("archive", "true, false or an array of patterns such as [\"node_load*\"]")
        }
    }

    /// A scrape: plain HTTP with a GET of resmond's own (`rs_http_get_plain`), HTTPS and URLs
    /// with credentials through libcurl (loaded on first use). Loading libcurl, with OpenSSL,
    /// Kerberos, LDAP and SSH behind it, put 8 MB in resmond's RSS for a scrape of loopback.
    static let fetch: PluginSubsystem.Fetch = { url, timeout, limit in
        guard let answer = HTTPClient.getPlain(url, timeoutMilliseconds: Int(timeout * 1000), maximumBytes: limit) else {
            return fetchThroughCurl(url, timeout, limit)
        }
        switch answer {
        case .failure(let error): return .failure(PluginSubsystem.PluginFailure("\(url): \(error)"))
        case .success(let response):
            guard response.status == 200 else { return .failure(PluginSubsystem.PluginFailure("\(url) answered \(response.status)")) }
            return .success(response.body)
        }
    }

    /// A scrape through libcurl (loaded on first use).
    static let fetchThroughCurl: PluginSubsystem.Fetch = { url, timeout, limit in
        let answer: HTTPClient.Response
        do {
            answer = try HTTPClient.fetch(url, headers: ["Accept: text/plain"], timeoutMilliseconds: Int(timeout * 1000), maximumBytes: limit)
        } catch {
            return .failure(PluginSubsystem.PluginFailure("\(url): \(error)"))
        }
        guard answer.status == 200 else { return .failure(PluginSubsystem.PluginFailure("\(url) answered \(answer.status)")) }
        return .success(answer.body)
    }
}
