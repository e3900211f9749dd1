import CSystem

#if canImport(Glibc)
    import Glibc
#endif

/// An open file descriptor whose reads and writes retry EINTR (through
/// `Errno.retryingInterrupted`) and report an `Errno`. A value, as swift-system's: whoever opens
/// one closes it.
public struct FileDescriptor: Sendable, Hashable {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Opens `path` close-on-exec.
    public static func open(_ path: String, _ flags: Int32, permissions: mode_t = 0o644) throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try Errno.retryingInterrupted { Glibc.open(path, flags | O_CLOEXEC, permissions) })
    }

    public func close() { _ = Glibc.close(rawValue) }

    /// A pipe whose two ends are close-on-exec from the moment they exist (pipe2), so that a
    /// program another thread spawns meanwhile never inherits one; a write end held by a
    /// stranger would keep the reader from ever seeing end of file.
    public static func pipe() throws(Errno) -> (read: FileDescriptor, write: FileDescriptor) {
        var ends: [Int32] = [0, 0]
        guard rs_pipe_cloexec(&ends) == 0 else { throw Errno.current }
        return (FileDescriptor(rawValue: ends[0]), FileDescriptor(rawValue: ends[1]))
    }

    /// Reads up to `count` bytes at the current offset into `buffer` from `offset` on; 0 at end of file.
    public func read(into buffer: inout [UInt8], at offset: Int = 0, count: Int) throws(Errno) -> Int {
        try buffer.withUnsafeMutableBytes { raw in
            Result { () throws(Errno) in
                try Errno.retryingInterrupted { Glibc.read(rawValue, raw.baseAddress! + offset, min(count, raw.count - offset)) }
            }
        }.get()
    }

    /// Reads up to `count` bytes at file offset `position` into `buffer` from `offset` on (pread).
    public func read(into buffer: inout [UInt8], at offset: Int = 0, count: Int, fromAbsoluteOffset position: Int) throws(Errno) -> Int {
        try buffer.withUnsafeMutableBytes { raw in
            Result { () throws(Errno) in
                try Errno.retryingInterrupted { pread(rawValue, raw.baseAddress! + offset, min(count, raw.count - offset), off_t(position)) }
            }
        }.get()
    }

    /// Writes all of `bytes`, in as many writes as it takes.
    public func writeAll(_ bytes: [UInt8]) throws(Errno) {
        var written = 0
        while written < bytes.count {
            written += try bytes.withUnsafeBytes { raw in
                Result { () throws(Errno) in
                    try Errno.retryingInterrupted { Glibc.write(rawValue, raw.baseAddress! + written, raw.count - written) }
                }
            }.get()
        }
    }

    /// `fsync`: the file's data and metadata are on the disk.
    public func synchronize() throws(Errno) {
        _ = try Errno.retryingInterrupted { fsync(rawValue) }
    }
}

/// Why a whole-file read failed.
public enum FileReadError: Error, Sendable, CustomStringConvertible {
    case system(path: String, Errno)
    case tooLarge(path: String, limit: Int)
    /// A FIFO, a device, a socket, a directory or (not following links) a symbolic link:
    /// never read, since opening or reading one can wait for ever.
    case notRegular(path: String, kind: String)

    public var description: String {
        switch self {
        case .system(let path, let error): "cannot read \(path): \(error)"
        case .tooLarge(let path, let limit): "\(path) is larger than \(limit) bytes"
        case .notRegular(let path, let kind): "\(path) is \(kind), not a regular file: not read"
        }
    }
}

/// What a file of mode `mode` is, for a person: "a FIFO", "a directory" …
public func fileKind(mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFREG: "a regular file"
    case S_IFDIR: "a directory"
    case S_IFIFO: "a FIFO"
    case S_IFSOCK: "a socket"
    case S_IFCHR: "a character device"
    case S_IFBLK: "a block device"
    case S_IFLNK: "a symbolic link"
    default: "of an unknown kind"
    }
}

/// The whole contents of the regular file at `path`, at most `limit` bytes, and its `fstat`;
/// nil when it does not exist. The one whole-file reader: every file resmond reads because
/// configuration named it goes through here.
///
/// Opened O_RDONLY | O_NONBLOCK | O_CLOEXEC (O_NOFOLLOW too unless `followingSymlinks`), then
/// checked with `fstat` on the open descriptor before a byte is read: a FIFO (whose open
/// otherwise waits for a writer), a device, a socket or a directory is refused with
/// `.notRegular`, and a file whose size is over `limit` with `.tooLarge`. The reading loop
/// keeps the bound too, for /proc's files, which report a size of 0.
public func readRegularFile(at path: String, limit: Int, followingSymlinks: Bool = true) throws(FileReadError) -> (bytes: [UInt8], info: stat)? {
    let file: FileDescriptor
    do {
        file = try FileDescriptor.open(path, O_RDONLY | O_NONBLOCK | (followingSymlinks ? 0 : O_NOFOLLOW))
    } catch {
        if error == .noSuchFileOrDirectory { return nil }
        if !followingSymlinks && error == .tooManySymbolicLinks { throw .notRegular(path: path, kind: "a symbolic link") }
        throw .system(path: path, error)
    }
    defer { file.close() }
    var info = stat()
    guard fstat(file.rawValue, &info) == 0 else { throw .system(path: path, Errno.current) }
    guard info.st_mode & S_IFMT == S_IFREG else { throw .notRegular(path: path, kind: fileKind(mode: info.st_mode)) }
    guard Int(info.st_size) <= limit else { throw .tooLarge(path: path, limit: limit) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: min(1 << 16, max(4096, Int(info.st_size) + 1)))
    while true {
        let count: Int
        do {
            count = try file.read(into: &chunk, count: chunk.count)
        } catch {
            throw .system(path: path, error)
        }
        if count == 0 { return (bytes, info) }
        bytes += chunk[0..<count]
        if bytes.count > limit { throw .tooLarge(path: path, limit: limit) }
    }
}

/// The whole contents of the regular file at `path`, at most `limit` bytes; nil when it does
/// not exist (`readRegularFile`: a FIFO, a device or a directory is refused, never waited on).
public func readFile(at path: String, limit: Int, followingSymlinks: Bool = true) throws(FileReadError) -> [UInt8]? {
    try readRegularFile(at: path, limit: limit, followingSymlinks: followingSymlinks)?.bytes
}
