import ResmonAPI
import ResmonSystem
import Statistics
import Storage

#if canImport(Glibc)
    import Glibc
#endif

extension DaemonConfiguration {
    /// Checks what the configuration names on this machine: directories, groups, the token file.
    func validateOnThisMachine() throws(ConfigurationError) {
        let source = configFile
        if let group = socketGroup, getgrnam(group) == nil {
            throw ConfigurationError(source: source, key: "http.socketGroup", reason: "no group named \"\(group)\"")
        }
        if access(procRoot, R_OK | X_OK) != 0 {
            throw ConfigurationError(source: source, key: "collect.procRoot", reason: "\(procRoot) is not a readable directory")
        }
        if access(sysRoot, R_OK | X_OK) != 0 {
            throw ConfigurationError(source: source, key: "collect.sysRoot", reason: "\(sysRoot) is not a readable directory")
        }
        if let tokenFile {
            _ = try DaemonConfiguration.readToken(tokenFile, source: source)
        }
        try validateListener()
        if socketPath.utf8.count > 107 {
            throw ConfigurationError(source: source, key: "http.socket", reason: "\(socketPath) is longer than a Unix socket path may be (107 bytes)")
        }
    }

    /// The bearer token in `path`, which must be a regular file owned by root that only its
    /// owner can read (anyone who can read it can write to resmond over TCP).
    static func readToken(_ path: String, source: String) throws(ConfigurationError) -> String {
        // Not through a link: what is checked is the file itself, read from the descriptor checked.
        let read: (bytes: [UInt8], info: stat)?
        do {
            read = try ConfigurationFile.read(path, source: path, followingSymlinks: false)
        } catch {
            throw ConfigurationError(source: source, key: "http.tokenFile", reason: error.description)
        }
        guard let (bytes, info) = read else {
            throw ConfigurationError(source: source, key: "http.tokenFile", reason: "\(path): \(Errno.noSuchFileOrDirectory.description)")
        }
        guard info.st_uid == 0, info.st_mode & 0o077 == 0 else {
            throw ConfigurationError(source: source, key: "http.tokenFile", reason: "\(path) must be a regular file owned by root with mode 0600 or 0400")
        }
        let token = String(decoding: bytes, as: UTF8.self).trimmingNewlines()
        guard token.utf8.count >= 16, !token.contains(where: { $0.isWhitespace }) else {
            throw ConfigurationError(source: source, key: "http.tokenFile", reason: "\(path) must hold one token of at least 16 characters")
        }
        return token
    }
}

/// Facts about this host and this process that several services report.
enum HostFacts {
    /// The host name events carry.
    static func hostName() -> String { ResmonSystem.hostName() }

    /// The host's uuid for rrd_updates: /etc/machine-id as a UUID.
    static func hostUUID() -> String {
        let text = (try? readWholeFile("/etc/machine-id", limit: 4096)).flatMap { $0 }.map { String(decoding: $0, as: UTF8.self) } ?? ""
        return UUIDText.format(hex: text) ?? "00000000-0000-0000-0000-000000000000"
    }

    /// Resident set size from /proc/self/statm.
    static func residentBytes() -> Double {
        guard let text = try? ProcFile("/proc/self/statm", capacity: 128).readText()
        else { return .nan }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Double(fields[1]) else { return .nan }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// The resident set by kind, from /proc/self/status: anonymous (the heap, stacks: what
    /// resmond's data takes) and file-backed (its code and libraries' pages, shared with other
    /// processes mapping the same files), bytes; nil when it cannot be read.
    static func residentKinds() -> (anonymous: Double, file: Double)? {
        guard let text = try? ProcFile("/proc/self/status", capacity: 4096).readText() else { return nil }
        func kilobytes(_ name: String) -> Double? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return nil }
            return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Double($0) }
        }
        guard let anonymous = kilobytes("RssAnon"), let file = kilobytes("RssFile") else { return nil }
        return (anonymous * 1024, (file + (kilobytes("RssShmem") ?? 0)) * 1024)
    }

    /// Per-process files are kept open; let resmond hold as many descriptors as it may.
    static func raiseDescriptorLimit() {
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        if getrlimit(resource, &limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = min(limit.rlim_max, 1 << 20)
            setrlimit(resource, &limit)
        }
    }
}
