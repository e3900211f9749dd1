#if canImport(Glibc)
    import Glibc
    import ResmonSystem
#endif

/// resmond's log: one line per message on standard error, which systemd's journal keeps.
public enum Log {
    public static func info(_ message: String) { write("", message) }
    public static func warning(_ message: String) { write("warning: ", message) }
    public static func error(_ message: String) { write("error: ", message) }

    private static func write(_ level: String, _ message: String) {
        let line = "resmond: " + level + message + "\n"
        // One write(2) per line, so lines from different threads never interleave.
        try? FileDescriptor(rawValue: 2).writeAll(Array(line.utf8))
    }
}
