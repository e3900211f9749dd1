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

    public var description: String {
        switch self {
        case .system(let path, let error): "cannot read \(path): \(error)"
        case .tooLarge(let path, let limit): "\(path) is larger than \(limit) bytes"
        }
    }
}

/// The whole contents of the file at `path`, at most `limit` bytes; nil when it does not exist.
/// The one whole-file reader.
public func readFile(at path: String, limit: Int) throws(FileReadError) -> [UInt8]? {
    let file: FileDescriptor
    do {
        file = try FileDescriptor.open(path, O_RDONLY)
    } catch {
        if error == .noSuchFileOrDirectory { return nil }
        throw .system(path: path, error)
    }
    defer { file.close() }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count: Int
        do {
            count = try file.read(into: &chunk, count: chunk.count)
        } catch {
            throw .system(path: path, error)
        }
        if count == 0 { return bytes }
        bytes += chunk[0..<count]
        if bytes.count > limit { throw .tooLarge(path: path, limit: limit) }
    }
}
