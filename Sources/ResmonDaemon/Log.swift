#if canImport(Glibc)
    import Glibc
    import ResmonSystem
#endif

/// resmond's log: one line per message on standard error, which systemd's journal keeps.
///
/// When standard error is the journal's stream (`JOURNAL_STREAM` names its device and inode),
/// each line starts with its syslog priority, `<3>` to `<7>`, which journald strips and records,
/// so that `journalctl -p warning` selects resmond's warnings and errors.
public enum Log {
    /// A line's syslog priority (`LOG_ERR` … `LOG_DEBUG` in syslog.h).
    public enum Priority: Int, Sendable {
        case error = 3
        case warning = 4
        case notice = 5
        case info = 6
        case debug = 7
    }

    public static func info(_ message: String) { write(.info, "", message) }
    public static func warning(_ message: String) { write(.warning, "warning: ", message) }
    public static func error(_ message: String) { write(.error, "error: ", message) }

    /// Whether standard error is the journal, decided once at the first line.
    private static let toJournal = JournalStream.matches(
        getenv("JOURNAL_STREAM").map { String(cString: $0) }, descriptor: 2)

    /// The line as written: the priority prefix only for the journal.
    public static func line(_ priority: Priority, _ level: String, _ message: String, journal: Bool) -> String {
        (journal ? "<\(priority.rawValue)>" : "") + "resmond: " + level + message + "\n"
    }

    private static func write(_ priority: Priority, _ level: String, _ message: String) {
        let line = line(priority, level, message, journal: toJournal)
        // One write(2) per line, so lines from different threads never interleave.
        try? FileDescriptor(rawValue: 2).writeAll(Array(line.utf8))
    }
}

/// systemd's `JOURNAL_STREAM` ("DEVICE:INODE", both decimal): set for a service whose standard
/// error goes to the journal. A child that redirected its standard error inherits the variable,
/// so it counts only when the descriptor is still that stream (sd-daemon(3), systemd.exec(5)).
public enum JournalStream {
    public static func matches(_ variable: String?, descriptor: Int32) -> Bool {
        guard let variable else { return false }
        let parts = variable.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }
}
