import ResmonSystem

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
    try writeAtomically(to: path) { (file: FileDescriptor) throws(Errno) in try file.writeAll(bytes) }
}

/// Writes a file as `writeAtomically(_:to:)` does, its contents written by `produce` into the
/// temporary file in as many pieces as it likes: a snapshot need not be built whole first.
public func writeAtomically(to path: String, _ produce: (FileDescriptor) throws(Errno) -> Void) throws(StorageError) {
    let temporary = path + ".tmp"
    let file: FileDescriptor
    do {
        file = try FileDescriptor.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, permissions: 0o640)
    } catch {
        throw StorageError("cannot write \(temporary): \(error)")
    }
    do {
        try produce(file)
        try file.synchronize()
    } catch {
        file.close()
        unlink(temporary)
        throw StorageError("cannot write \(temporary): \(error)")
    }
    file.close()
    guard rename(temporary, path) == 0 else {
        let reason = Errno.current
        unlink(temporary)
        throw StorageError("cannot replace \(path): \(reason)")
    }
    let directory = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
    if let directory = try? FileDescriptor.open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY) {
        try? directory.synchronize()
        directory.close()
    }
}

/// The whole contents of a file; nil when it does not exist.
public func readWholeFile(_ path: String, limit: Int = 1 << 30) throws(StorageError) -> [UInt8]? {
    do {
        return try readFile(at: path, limit: limit)
    } catch {
        throw StorageError(error.description)
    }
}
