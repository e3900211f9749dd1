#if canImport(Glibc)
    import Glibc
    import ResmonSystem
#endif

/// One resmond per state directory: an exclusive `flock` on `resmond.lock`, held for the life
/// of the process (the kernel drops it when the process dies, even by kill -9).
final class InstanceLock: Sendable {
    private let descriptor: Int32

    struct Held: Error, CustomStringConvertible {
        let description: String
    }

    init(directory: String) throws(Held) {
        let path = directory + "/resmond.lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            let code = errno
            let advice =
                code == EROFS
                ? ": the state directory is on a read-only file system; remount it read-write, or give --state-dir (stateDir) a writable directory"
                : code == EACCES ? ": resmond's user may not write the state directory; give it the directory, or another with --state-dir" : ""
            throw Held(description: "cannot open \(path): \(Errno(rawValue: code).description)\(advice)")
        }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = pread(descriptor, &buffer, buffer.count, 0)
            close(descriptor)
            let holder = count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self).trimmingNewlines() : "unknown"
            if code == EWOULDBLOCK {
                throw Held(description: "another resmond (pid \(holder)) is already running with state directory \(directory)")
            }
            throw Held(description: "cannot lock \(path): \(Errno(rawValue: code).description)")
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(descriptor, 0)
        _ = pid.withCString { pwrite(descriptor, $0, strlen($0), 0) }
        self.descriptor = descriptor
    }

    /// Whether `directory`'s lock file is the one this process holds (its pid in it, locked).
    static func isHeldByThisProcess(directory: String) -> Bool {
        let descriptor = open(directory + "/resmond.lock", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = pread(descriptor, &buffer, buffer.count, 0)
        guard count > 0, Int32(String(decoding: buffer[0..<count], as: UTF8.self).trimmingNewlines()) == getpid() else { return false }
        // Locked by someone: a file with this pid left by a process before this one is not held.
        return flock(descriptor, LOCK_SH | LOCK_NB) != 0
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

extension String {
    func trimmingNewlines() -> String {
        var text = Substring(self)
        while let last = text.last, last == "\n" || last == " " { text = text.dropLast() }
        return String(text)
    }
}

/// Creates a directory and its parents (`mkdir -p`).
func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(DaemonFailure) {
    var current = ""
    for component in path.split(separator: "/") {
        current += "/" + component
        if mkdir(current, mode) != 0 && errno != EEXIST {
            throw DaemonFailure("cannot create \(current): \(Errno.current.description)")
        }
    }
}

/// Why resmond cannot start or go on.
public struct DaemonFailure: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
