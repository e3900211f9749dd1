#if canImport(Glibc)
    import Glibc
#endif

/// Where resmond keeps its state and configuration when nothing says otherwise: the XDG
/// directories of the user, or the system directories for root. Client and daemon agree on it.
public enum DefaultPaths {
    public static let socketName = "resmond.sock"
    public static let configName = "resmond.json"
    public static let tcpPort = 9465

    /// `$XDG_STATE_HOME/resmon` (default `~/.local/state/resmon`), or `/var/lib/resmon` as root.
    public static func stateDirectory(environment: [String: String] = currentEnvironment()) -> String {
        if getuid() == 0 { return "/var/lib/resmon" }
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") { return state + "/resmon" }
        return home(environment) + "/.local/state/resmon"
    }

    /// `$XDG_CONFIG_HOME/resmon` (default `~/.config/resmon`), or `/etc/resmon` as root.
    public static func configDirectory(environment: [String: String] = currentEnvironment()) -> String {
        if getuid() == 0 { return "/etc/resmon" }
        if let config = environment["XDG_CONFIG_HOME"], config.hasPrefix("/") { return config + "/resmon" }
        return home(environment) + "/.config/resmon"
    }

    /// The socket in the default state directory.
    public static func socket(environment: [String: String] = currentEnvironment()) -> String {
        stateDirectory(environment: environment) + "/" + socketName
    }

    private static func home(_ environment: [String: String]) -> String {
        if let home = environment["HOME"], home.hasPrefix("/") { return home }
        if let entry = getpwuid(getuid()), let directory = entry.pointee.pw_dir { return String(cString: directory) }
        return "/tmp"
    }

    /// The process environment as a dictionary.
    public static func currentEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}

public enum ResmonVersion {
    public static let current = "0.1.0"
}
