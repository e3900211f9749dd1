import ResmonSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The state directory and the state database are private to resmond's user and the group
/// that may use the socket: the directory 0750, `state.db` and SQLite's `-wal` and `-shm`
/// 0640, group `http.socketGroup` (else `resmon` when that group exists, else root's when
/// resmond runs as root). They hold every monitor, event and the socket.
enum StatePermissions {
    static let directoryMode: mode_t = 0o750
    static let fileMode: mode_t = 0o640
    static let databaseFiles = ["state.db", "state.db-wal", "state.db-shm"]

    /// The group the state belongs to, or nil to keep the files' group.
    static func groupID(socketGroup: String?) -> gid_t? {
        if let name = socketGroup ?? (getgrnam("resmon") != nil ? "resmon" : nil), let group = getgrnam(name) {
            return group.pointee.gr_gid
        }
        return geteuid() == 0 ? 0 : nil
    }

    /// Sets the directory's and the database files' modes and group, creating `state.db` when
    /// it is missing: SQLite would create it with the umask's mode, and gives the `-wal` and
    /// `-shm` it creates the database's mode and owner. Returns what could not be done (a
    /// warning: resmond still runs).
    static func apply(stateDirectory: String, group: gid_t?) -> [String] {
        var problems: [String] = []
        func restrict(_ path: String, mode: mode_t) {
            if chmod(path, mode) != 0 { problems.append("cannot make \(path) mode 0\(String(mode, radix: 8)): \(Errno.current)") }
            if let group, chown(path, uid_t.max, group) != 0 {
                problems.append("cannot give \(path) to group \(group): \(Errno.current)")
            }
        }
        restrict(stateDirectory, mode: directoryMode)
        let database = stateDirectory + "/" + databaseFiles[0]
        let descriptor = open(database, O_RDWR | O_CREAT | O_CLOEXEC, fileMode)
        if descriptor >= 0 { close(descriptor) }
        for name in databaseFiles where access(stateDirectory + "/" + name, F_OK) == 0 {
            restrict(stateDirectory + "/" + name, mode: fileMode)
        }
        return problems
    }
}
