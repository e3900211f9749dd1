#if canImport(Glibc)
import Glibc
#endif

/// A file operation that failed, with the path and the system's reason.
public struct StorageError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Writes a file so that a crash leaves either the old or the new contents: write a temporary
/// file, fsync it, rename it over the target, fsync the directory.
public func writeAtomically(_ bytes: [UInt8], to path: String) throws(StorageError) {
    let temporary = path + ".tmp"
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
    guard descriptor >= 0 else { throw StorageError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
    var written = 0
    while written < bytes.count {
        let count = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + written, bytes.count - written) }
        if count < 0 {
            if errno == EINTR { continue }
            let reason = String(cString: strerror(errno))
            close(descriptor)
            unlink(temporary)
            throw StorageError("cannot write \(temporary): \(reason)")
        }
        written += count
    }
    guard fsync(descriptor) == 0, close(descriptor) == 0, rename(temporary, path) == 0 else {
        let reason = String(cString: strerror(errno))
        unlink(temporary)
        throw StorageError("cannot replace \(path): \(reason)")
    }
    let directory = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
    let directoryDescriptor = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if directoryDescriptor >= 0 {
        fsync(directoryDescriptor)
        close(directoryDescriptor)
    }
}


/// The whole contents of a file; nil when it does not exist.
public func readWholeFile(_ path: String, limit: Int = 1 << 30) throws(StorageError) -> [UInt8]? {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    if descriptor < 0 {
        if errno == ENOENT { return nil }
        throw StorageError("cannot read \(path): \(String(cString: strerror(errno)))")
    }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = read(descriptor, &chunk, chunk.count)
        if count < 0 {
            if errno == EINTR { continue }
            throw StorageError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        if count == 0 { return bytes }
        bytes += chunk[0..<count]
        if bytes.count > limit { throw StorageError("\(path) is larger than \(limit) bytes") }
    }
}
